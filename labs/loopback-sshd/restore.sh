#!/usr/bin/env bash
# restore.sh NAME: puts every host's root folder back as snapshot.sh kept it.
set -euo pipefail
: "${HARNESS_CHECKPOINT_DIR:?}" "${HARNESS_LAB_DIR:?}" "${1:?snapshot name}"
for d in "$HARNESS_CHECKPOINT_DIR"/*/; do
  name=$(basename "$d")
  [ -d "$HARNESS_LAB_DIR/$name" ] || { echo "no host $name in this lab" >&2; exit 1; }
  rm -rf "$HARNESS_LAB_DIR/$name/root"
  mkdir -p "$HARNESS_LAB_DIR/$name/root"
  cp -a "$d/." "$HARNESS_LAB_DIR/$name/root/"
done
echo "snapshot $1 restored" >&2
