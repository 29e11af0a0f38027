#!/usr/bin/env bash
# C and PHP (FFI) figures for libupwatch next to the Rust figure of the same call, and
# checks/s from PHP through upwatch vs PHP's own curl on the same loopback URLs.
#   bash benches/c/compare.sh
# Release builds; the machine is shared (2 cores), so the numbers are noisy: compare ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/bench-c
mkdir -p "$out"
cargo build -q --release -p upwatch-c -p upwatch-testbed
lib="$PWD/target/release"
cc -O2 -std=c11 -Ibindings-c/include benches/c/bench_status.c -L"$lib" -lupwatch -Wl,-rpath,"$lib" -o "$out/bench_status"
export UPWATCH_LIB="$lib/libupwatch.so"

echo "== status() with 1,000 checks (each with a result)"
rust=""
if [ -f benches/benches/embed.rs ]; then
    rust="$(cargo bench -q -p upwatch-benches --bench embed 2>/dev/null | grep -E '^embed/(status_1000_checks|status_1000_checks_to_json|host_cached|host_now):' || true)"
    [ -n "$rust" ] && echo "$rust"
fi
c="$("$out/bench_status" 2000)"
echo "$c"
php_out="$(php -d ffi.enable=1 benches/c/bench.php status 2000)"
echo "$php_out"
num() { grep -E "^$1:" | head -n1 | sed -E 's/^[^:]+: ([0-9.]+).*/\1/'; }
c_us="$(num c/status_1000_checks <<<"$c")"
php_us="$(num php/status_1000_checks <<<"$php_out")"
php_json_us="$(num php/status_1000_checks_json <<<"$php_out")"
rust_us="$(num embed/status_1000_checks <<<"$rust" || true)"
rust_json_us="$(num embed/status_1000_checks_to_json <<<"$rust" || true)"
if [ -n "$rust_json_us" ]; then
    # The C call hands out JSON text, so its Rust counterpart is status() + serialization.
    awk -v r="$rust_us" -v rj="$rust_json_us" -v c="$c_us" \
        'BEGIN { printf "ratio C/Rust(status+to_json): %.2f, C/Rust(status struct only): %.2f\n", c / rj, c / r }'
fi
awk -v c="$c_us" -v p="$php_us" -v j="$php_json_us" \
    'BEGIN { printf "ratio PHP(json text)/C: %.2f, PHP(decoded arrays)/C: %.2f\n", j / c, p / c }'

echo
echo "== checks/s on 100 loopback URLs (upwatch-testbed http, release): upwatch run_now from PHP vs PHP curl"
target/release/upwatch-testbed http >"$out/testbed.url" &
testbed=$!
trap 'kill $testbed 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/testbed.url" ] && break; sleep 0.05; done
base="$(head -n1 "$out/testbed.url")"
checks="$(php -d ffi.enable=1 benches/c/bench.php checks "$base" 100 20)"
echo "$checks"
up="$(num php/upwatch_run_now <<<"$checks")"
multi="$(num php/curl_multi <<<"$checks")"
seq_="$(num php/curl_sequential <<<"$checks")"
awk -v u="$up" -v m="$multi" -v s="$seq_" \
    'BEGIN { printf "ratio upwatch/curl_multi: %.2f, upwatch/curl_sequential: %.2f\n", u / m, u / s }'
