#!/usr/bin/env bash
# Python binding vs Rust, and vs psutil, in one run on the same machine:
#  - status() of 1,000 checks and host() from Python (a release build of upwatch._upwatch)
#    next to the Rust calls on Embedded (`cargo bench -p upwatch-benches --bench embed`);
#  - host() sampled now vs psutil's full snapshot (the snapshot of benches/compare_psutil.sh);
#  - a Django view rendering the status of 1,000 checks, per request through the test client.
# Targets: binding adds < 20% over Rust; host() 3x faster than psutil; Django view < 10 ms.
#
#   bash benches/python/compare.sh      # UPWATCH_BENCH_ROUNDS=3, UPWATCH_BENCH_SECONDS=1 per call
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-bench
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check 'maturin>=1.7,<2' psutil django
VIRTUAL_ENV="$(cd "$venv" && pwd)" "$venv/bin/maturin" develop -q --release >/dev/null

# Rounds of Rust, Python and psutil one after the other, each call timed for
# UPWATCH_BENCH_SECONDS per round; the summary takes each call's best round, and each round's
# own ratios are printed too (the machine is shared: load moves between and within rounds).
rounds="${UPWATCH_BENCH_ROUNDS:-3}"
export UPWATCH_BENCH_SECONDS="${UPWATCH_BENCH_SECONDS:-1}"
cargo bench -q -p upwatch-benches --bench embed --no-run 2>/dev/null
# psutil's full snapshot: the very snippet of benches/compare_psutil.sh.
snippet=$(awk '/^psutil_us=.*<<.EOF.$/ { on = 1; next } on && /^EOF$/ { exit } on' benches/compare_psutil.sh)

us() { echo "$1" | awk -v n="$2" '$1 == n":" { print $2 }'; }
# The best (lowest) figure of each call over the rounds, as `name: X us/call (best of N rounds)`.
best() { echo "$1" | awk -v r="$rounds" 'NF { n = $1; v = $2 + 0; if (!(n in b) || v < b[n]) b[n] = v; if (!(n in o)) o[n] = ++k; name[o[n]] = n }
  END { for (i = 1; i <= k; i++) printf "%s %.1f us/call (best of %d rounds)\n", name[i], b[name[i]], r }'; }
ratio() { awk -v a="$1" -v b="$2" -v label="$3" 'BEGIN { printf "%-58s %.2f\n", label, a / b }'; }

all_rust="" all_py="" all_ps=""
for round in $(seq 1 "$rounds"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  rust=$(cargo bench -q -p upwatch-benches --bench embed 2>/dev/null | grep '^embed/')
  py=$("$venv/bin/python" benches/python/bench_binding.py binding)
  psutil_us=$("$venv/bin/python" -c "$snippet")
  all_rust+="$rust"$'\n' all_py+="$py"$'\n' all_ps+="psutil/full_snapshot: ${psutil_us} us/call"$'\n'
  printf 'round %s (load %s): status()/Rust status+to_json %.2f, psutil/host(fresh=True) %.2f\n' "$round" "$load" \
    "$(awk -v a="$(us "$py" python/status_1000_checks)" -v b="$(us "$rust" embed/status_1000_checks_to_json)" 'BEGIN { print a / b }')" \
    "$(awk -v a="$psutil_us" -v b="$(us "$py" python/host_now)" 'BEGIN { print a / b }')"
done
dj=$("$venv/bin/python" benches/python/bench_binding.py django)

rust=$(best "$all_rust")
py=$(best "$all_py")
ps=$(best "$all_ps")
psutil_us=$(us "$ps" psutil/full_snapshot)
echo
echo "$rust"
echo "$py"
echo "$dj"
echo "$ps"
echo
ratio "$(us "$py" python/status_1000_checks)" "$(us "$rust" embed/status_1000_checks_to_json)" "status() to Python objects / Rust status+to_json:"
ratio "$(us "$py" python/status_1000_checks)" "$(us "$rust" embed/status_1000_checks)" "status() to Python objects / Rust status (no conversion):"
ratio "$(us "$py" python/status_1000_checks_json)" "$(us "$rust" embed/status_1000_checks_to_json)" "status_json() / Rust status+to_json:"
ratio "$(us "$py" python/host_now)" "$(us "$rust" embed/host_now_to_json)" "host(fresh=True) / Rust host_now+to_json:"
ratio "$(us "$py" python/host_now)" "$(us "$rust" embed/host_now_here)" "host(fresh=True) / Rust sample on the calling thread:"
ratio "$(us "$py" python/host_cached)" "$(us "$rust" embed/host_cached)" "host() cached / Rust host (cached):"
ratio "$(us "$py" python/push)" "$(us "$rust" embed/push)" "push() / Rust push:"
ratio "$psutil_us" "$(us "$py" python/host_now)" "psutil full snapshot / host(fresh=True) (target >= 3):"
awk -v v="$(us "$dj" python/django_json_status_view_1000_checks)" 'BEGIN { printf "Django JSON status view, 1,000 checks: %.2f ms/request (target < 10)\n", v / 1000 }'
awk -v v="$(us "$dj" python/django_html_status_view_1000_checks)" 'BEGIN { printf "Django HTML status page, 1,000 checks: %.2f ms/request (target < 10)\n", v / 1000 }'
