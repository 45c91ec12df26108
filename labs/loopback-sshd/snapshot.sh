#!/usr/bin/env bash
# snapshot.sh NAME: keeps every host's root folder in HARNESS_CHECKPOINT_DIR (the store commits it).
set -euo pipefail
: "${HARNESS_CHECKPOINT_DIR:?}" "${HARNESS_LAB_DIR:?}" "${1:?snapshot name}"
for d in "$HARNESS_LAB_DIR"/*/; do
  [ -d "$d/root" ] || continue
  name=$(basename "$d")
  mkdir -p "$HARNESS_CHECKPOINT_DIR/$name"
  cp -a "$d/root/." "$HARNESS_CHECKPOINT_DIR/$name/"
done
echo "snapshot $1 taken" >&2
