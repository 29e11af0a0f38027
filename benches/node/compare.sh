#!/usr/bin/env bash
# Node binding vs Rust for the same calls, in one run: status() of 1,000 checks and host()
# through the napi binding vs `cargo bench -p upwatch-benches --bench embed` (the Embedded
# layer the binding calls, with the same 1,000 push checks), plus event delivery to a JS
# listener at 10,000 events/s with the event loop's delay measured.
#
#   bash benches/node/compare.sh          (BUDGET_MS, EVENTS_PER_S, EVENT_SECONDS to tune)
#
# The machine is shared and has 2 cores: the figures are noisy; compare the ratios.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
out="$CARGO_TARGET_DIR/node-bench"
mkdir -p "$out"

(cd bindings-node && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } \
  && npx napi build --platform --release --no-js --output-dir "$out" --target-dir "$CARGO_TARGET_DIR" >/dev/null)
addon="$(ls "$out"/upwatch.*.node | head -1)"

echo "== Rust (cargo bench -p upwatch-benches --bench embed)"
rust="$(cargo bench -q -p upwatch-benches --bench embed 2>/dev/null | grep '^embed/')"
echo "$rust"
echo "== Node (release addon $addon)"
node_out="$(UPWATCH_NODE_ADDON="$addon" node benches/node/bench.mjs)"
echo "$node_out"

us() { echo "$1" | grep "^$2:" | sed -E 's/.*: ([0-9.]+) us\/call.*/\1/'; }
ratio() {
  local n r
  n="$(us "$node_out" "node/$1")"; r="$(us "$rust" "embed/$2")"
  if [ -n "$n" ] && [ -n "$r" ]; then
    awk -v n="$n" -v r="$r" -v a="$1" -v b="$2" 'BEGIN { printf "%-22s node %9.1f us   rust %-26s %9.1f us   node/rust %.2f (binding adds %+.0f%%)\n", a, n, b, r, n / r, (n / r - 1) * 100 }'
  fi
}
echo "== Ratios"
ratio status_1000_checks status_1000_checks_to_json
ratio status_1000_checks status_1000_checks
ratio host_cached host_cached
ratio host_cached host_recent
ratio push push
