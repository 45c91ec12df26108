#!/usr/bin/env bash
# `npm run demo`: installs what the demo needs, then runs scenarios/demo-tree.yml on three sshd
# hosts on loopback: a lint step on the controller, the undercloud (an HTTP API) as the fork point
# of two branches, a two-node overcloud per compute size (a variant axis) tested, and an undercloud
# upgrade tested (scenarios/demo.yml is the same system as one line of stages). `npm run demo --
# --vm` runs the line on three QEMU VMs (scenarios/demo-vm.yml), installing what the VMs need first.
# Other arguments go to `harness run` (e.g. `npm run demo -- --until overcloud`).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=scenarios/demo-tree.yml
deps=()
args=()
for arg in "$@"; do
  if [ "$arg" = "--vm" ]; then
    scenario=scenarios/demo-vm.yml
    deps=(--vm)
  else
    args+=("$arg")
  fi
done
bash scripts/system-deps.sh "${deps[@]}"
[ -d node_modules/node-pty ] || npm ci --no-audit --no-fund
[ -f dist/lib/cli/main.js ] || npm run build
# The demo's one secret: generated per run unless you export your own.
export DEMO_ADMIN_PASSWORD="${DEMO_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}"
exec ./bin/harness run "$scenario" "${args[@]}"
