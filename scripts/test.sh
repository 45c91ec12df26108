#!/usr/bin/env bash
# `npm test [-- PATTERN]`: installs what the suite needs on a fresh Debian machine (the Debian
# packages it is missing, then node_modules if absent), compiles, and runs the uvu suites.
# The last line is `tests: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh --vm --libvirt --browser --registry --packaging
[ -d node_modules/uvu ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
node scripts/bundle.mjs
exec node scripts/test.mjs "$@"
