#!/usr/bin/env bash
# `npm run demo`: installs what the demo needs, then runs scenarios/demo.yml on three sshd hosts
# on loopback (an undercloud API, a two-node overcloud, tests, an upgrade). Extra arguments go
# to `harness run` (e.g. `npm run demo -- --until overcloud`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
[ -d node_modules/node-pty ] || npm ci --no-audit --no-fund
[ -f dist/lib/cli/main.js ] || npm run build
# The demo's one secret: generated per run unless you export your own.
export DEMO_ADMIN_PASSWORD="${DEMO_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}"
exec ./bin/harness run scenarios/demo.yml "$@"
