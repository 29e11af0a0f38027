#!/usr/bin/env bash
# Side by side in one run: psutil's full host snapshot timed with timeit, and upwatch's
# HostSampler::sample() (criterion, host/full_snapshot), on the same machine. Prints both
# and psutil/upwatch.
#
# The psutil snapshot is what a psutil user calls for the same facts: cpu_percent(percpu=True),
# cpu_percent(), virtual_memory(), swap_memory(), disk_partitions() and disk_usage() of each,
# disk_io_counters(perdisk=True), net_io_counters(pernic=True), getloadavg(), boot_time().
# upwatch's sample reports more (processes, uptime, host name, OS, cgroup limits, rates).
# The psutil figure is the best of 5 runs of 2,000 (the kindest to psutil).
#
#   bash benches/compare_psutil.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check psutil
cargo bench -q -p upwatch-benches --bench host --no-run 2>/dev/null

psutil_us=$("$venv/bin/python" - <<'EOF'
import timeit
import psutil


def snapshot():
    psutil.cpu_percent(percpu=True)
    psutil.cpu_percent()
    psutil.virtual_memory()
    psutil.swap_memory()
    for part in psutil.disk_partitions():
        psutil.disk_usage(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    psutil.getloadavg()
    psutil.boot_time()


snapshot()
runs = timeit.repeat(snapshot, number=2000, repeat=5)
print(f"{min(runs) / 2000 * 1e6:.1f}")
EOF
)
version=$("$venv/bin/python" -c 'import psutil; print(psutil.__version__)')
echo "psutil ${version} full snapshot:            ${psutil_us} µs"

out=$(cargo bench -q -p upwatch-benches --bench host 2>&1)
# criterion prints: host/full_snapshot  time:   [low X µs  estimate Y µs  high Z µs]
estimate() {
  echo "$out" | awk -v name="$1" '
    $0 ~ name"( |$)" { seen = 1 }
    seen && /time:/ {
      sub(/.*time: *\[/, ""); v = $3; u = $4
      if (u == "ns") v = v / 1000; else if (u == "ms") v = v * 1000; else if (u == "s") v = v * 1e6
      printf "%.1f", v; exit
    }'
}
upwatch_us=$(estimate "host/full_snapshot")
relist_us=$(estimate "host/full_snapshot_relist")
echo "upwatch HostSampler::sample():          ${upwatch_us} µs"
echo "  with the once-a-minute mount relist:  ${relist_us} µs"
echo "$out" | grep '^snapshot:' || true
awk -v a="$psutil_us" -v b="$upwatch_us" 'BEGIN { printf "ratio psutil/upwatch: %.2f\n", a / b }'
