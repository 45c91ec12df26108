#!/usr/bin/env bash
# Releases what allocate.sh started: each sshd named in HARNESS_RESOURCES, if that pid still runs
# that config (a reused pid is left alone). Safe to run twice.
set -euo pipefail
: "${HARNESS_RESOURCES:?}"
[ -f "$HARNESS_RESOURCES" ] || exit 0
while read -r pid cfg; do
  [ -n "$pid" ] || continue
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$cfg"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped sshd $pid ($cfg)" >&2
  fi
done < "$HARNESS_RESOURCES"
rm -f "$HARNESS_RESOURCES"
