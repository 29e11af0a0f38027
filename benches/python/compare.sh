#!/usr/bin/env bash
# Python binding vs Rust, and vs psutil, in one run on the same machine:
#  - status() of 1,000 checks and host() from Python (a release build of upwatch._upwatch)
#    next to the Rust calls on Embedded (`cargo bench -p upwatch-benches --bench embed`);
#  - host() sampled now vs psutil's full snapshot (the snapshot of benches/compare_psutil.sh);
#  - a Django view rendering the status of 1,000 checks, per request through the test client.
# Targets: binding adds < 20% over Rust; host() 3x faster than psutil; Django view < 10 ms.
#
#   bash benches/python/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-bench
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check 'maturin>=1.7,<2' psutil django
VIRTUAL_ENV="$(cd "$venv" && pwd)" "$venv/bin/maturin" develop -q --release >/dev/null

rust=$(cargo bench -q -p upwatch-benches --bench embed 2>/dev/null | grep '^embed/')
py=$("$venv/bin/python" benches/python/bench_binding.py binding)
dj=$("$venv/bin/python" benches/python/bench_binding.py django)

# psutil's full snapshot: the very snippet of benches/compare_psutil.sh.
snippet=$(awk '/^psutil_us=.*<<.EOF.$/ { on = 1; next } on && /^EOF$/ { exit } on' benches/compare_psutil.sh)
psutil_us=$("$venv/bin/python" -c "$snippet")

echo "$rust"
echo "$py"
echo "$dj"
echo "psutil full snapshot: ${psutil_us} us/call"
us() { echo "$1" | awk -v n="$2" '$1 == n":" { print $2 }'; }
ratio() { awk -v a="$1" -v b="$2" -v label="$3" 'BEGIN { printf "%-58s %.2f\n", label, a / b }'; }
echo
ratio "$(us "$py" python/status_1000_checks)" "$(us "$rust" embed/status_1000_checks_to_json)" "status() to Python objects / Rust status+to_json:"
ratio "$(us "$py" python/status_1000_checks)" "$(us "$rust" embed/status_1000_checks)" "status() to Python objects / Rust status (no conversion):"
ratio "$(us "$py" python/status_1000_checks_json)" "$(us "$rust" embed/status_1000_checks_to_json)" "status_json() / Rust status+to_json:"
ratio "$(us "$py" python/host_now)" "$(us "$rust" embed/host_now_to_json)" "host(fresh=True) / Rust host_now+to_json:"
ratio "$(us "$py" python/host_now)" "$(us "$rust" embed/host_now)" "host(fresh=True) / Rust host_now (no conversion):"
ratio "$(us "$py" python/host_cached)" "$(us "$rust" embed/host_cached)" "host() cached / Rust host (cached):"
ratio "$(us "$py" python/push)" "$(us "$rust" embed/push)" "push() / Rust push:"
ratio "$psutil_us" "$(us "$py" python/host_now)" "psutil full snapshot / host(fresh=True) (target >= 3):"
awk -v v="$(us "$dj" python/django_json_status_view_1000_checks)" 'BEGIN { printf "Django JSON status view, 1,000 checks: %.2f ms/request (target < 10)\n", v / 1000 }'
awk -v v="$(us "$dj" python/django_html_status_view_1000_checks)" 'BEGIN { printf "Django HTML status page, 1,000 checks: %.2f ms/request (target < 10)\n", v / 1000 }'
