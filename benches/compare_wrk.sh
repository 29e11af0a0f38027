#!/usr/bin/env bash
# Side by side in one run: wrk (new connection per request) and upwatch HTTP checks
# (new connection per check) against the same loopback server process, so the ratio
# holds on a shared, noisy machine. Prints both rates and upwatch/wrk.
#
#   bash benches/compare_wrk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -q -p upwatch-testbed --bin upwatch-testbed
cargo bench -q -p upwatch-benches --bench checks --no-run 2>/dev/null

out=$(mktemp)
target/release/upwatch-testbed http >"$out" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
base=$(head -1 "$out"); base=${base%/}

wrk_rps=$(wrk -t2 -c128 -d10s -H "Connection: close" "$base/text" | awk '/Requests\/sec/ {print $2}')
echo "wrk -t2 -c128 (Connection: close):   ${wrk_rps} requests/s"

line=$(UPWATCH_BENCH_URL="$base" cargo bench -q -p upwatch-benches --bench checks -- http_checks/new_connection 2>/dev/null | awk '/thrpt/ && !seen { print; seen = 1 }')
# criterion prints: thrpt:  [low X Kelem/s  median Y Kelem/s  high Z Kelem/s]
upwatch=$(echo "$line" | awk '{v=$4; u=$5; if (u ~ /^K/) v=v*1000; if (u ~ /^M/) v=v*1000000; printf "%.0f", v}')
echo "upwatch http checks (128 in flight):  ${upwatch} checks/s"
awk -v a="$upwatch" -v b="$wrk_rps" 'BEGIN { printf "ratio upwatch/wrk: %.2f\n", a / b }'
