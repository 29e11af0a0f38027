#!/usr/bin/env bash
# Tests of the `upwatch` npm package, from a fresh machine: installs the npm dependencies,
# builds the addon once (debug, into the workspace's target dir), checks that index.d.ts is
# what napi generates from the Rust attributes, type-checks the TS test file and the example
# with tsc --strict, and runs the node --test suite (which also starts examples/node).
#
#   bash bindings-node/scripts/test.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

step() { printf '\n==> %s\n' "$*"; }

command -v node >/dev/null || { echo "node (>= 20) is required" >&2; exit 1; }
command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 1; }

step "npm install (bindings-node, examples/node)"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
(cd "$root/examples/node" && npm install --no-audit --no-fund --loglevel=error)

step "napi build (debug), and the index.d.ts drift check"
committed="$(mktemp)"
trap 'rm -f "$committed"' EXIT
cp index.d.ts "$committed"
npx napi build --platform --no-js --dts index.d.ts --target-dir "$CARGO_TARGET_DIR"
if ! diff -u "$committed" index.d.ts; then
  echo "index.d.ts changed when regenerated from the Rust attributes: commit the new one" >&2
  exit 1
fi
echo "index.d.ts matches the Rust attributes"

step "tsc --strict (the TS test file, the Express example)"
npx tsc -p tsconfig.json
(cd "$root/examples/node" && npx tsc -p tsconfig.json)
echo "types ok"

step "node --test"
node --test --test-reporter=spec --test-concurrency=1 __test__/*.test.mjs
