#!/usr/bin/env bash
# Runs every test of every language in the repository, installing what it needs.
# Each runner prints its own summary; the script fails when any runner fails.
#
#   bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1
# One clean build per run: incremental caches only cost time and disk here.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

# ---- Rust: the core, the testbed, the benches (run once each in test mode) ----
step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (unit, integration, examples, benches in test mode)"
cargo test --workspace --all-targets

step "cargo test --doc"
cargo test --workspace --doc

step "the README's demo runs and checks real loopback targets"
demo=$(cargo run -q --example quickstart -- --json)
echo "$demo" | python3 -c '
import json, sys
results = [json.loads(line) for line in sys.stdin if line.strip()]
by_name = {r["check"]: r for r in results}
assert len(results) == 9, len(results)
assert by_name["api-health"]["status"] == "up", by_name["api-health"]
assert by_name["api-errors"]["error"]["kind"] == "assertion"
assert by_name["site-https"]["status"] == "degraded"
assert by_name["mail-mx"]["observed"]["rcode"] == "NOERROR"
print("demo: %d checks, %d up" % (len(results), sum(r["status"] == "up" for r in results)))
'

step "the demo agent monitors its own targets and stops by itself"
# A database of its own: with a previous run's file the checks would start from their stored
# statuses and report no changes.
demo_db="$(mktemp -d)/demo.db"
cargo run -q -p upwatch-cli -- demo --json --for 6s --db "$demo_db" 2>/dev/null | python3 -c '
import json, sys
events = [json.loads(line) for line in sys.stdin if line.strip()]
kinds = {e["event"] for e in events}
checks = {e.get("check") for e in events if e["event"] in ("check_succeeded", "check_failed")}
assert {"check_succeeded", "check_failed", "check_status_changed", "service_status_changed"} <= kinds, kinds
assert len(checks) >= 8, checks
print("demo agent: %d events from %d checks" % (len(events), len(checks)))
'

# ---- The alert outage test lasts three minutes of mostly waiting: it runs (already built,
# ignored by the plain `cargo test` above) in the background beside the binding suites. ----
step "alerts through a 3-minute receiver outage and a SIGKILL (in the background)"
outage_bin=$(cargo test -q -p upwatch-cli --test outage --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "outage":
        print(m["executable"])')
outage_log="$(mktemp)"
"$outage_bin" --ignored --test-threads 1 >"$outage_log" 2>&1 &
outage_pid=$!
echo "started: $outage_bin (pid $outage_pid)"

# ---- The bindings: each script installs what it needs, builds its artifact once (debug,
# in the shared target dir) and runs its own runners, which print their own summaries. ----
failed=()
binding() {
    local name=$1 script=$2
    step "$name ($script)"
    if bash "$script"; then
        echo "$name: passed"
    else
        echo "$name: FAILED"
        failed+=("$name")
    fi
}
binding "Python binding, Django and Flask (pytest, mypy --strict)" bindings-python/scripts/test.sh
binding "Node binding and Express (node --test, tsc --strict)" bindings-node/scripts/test.sh
binding "C library (valgrind), PHP FFI and Laravel (phpunit)" bindings-c/scripts/test.sh

step "alert outage test (started before the bindings)"
if wait "$outage_pid"; then
    cat "$outage_log"
    echo "alert outage test: passed"
else
    cat "$outage_log"
    echo "alert outage test: FAILED"
    failed+=("alert outage test")
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "test-all: FAILED: ${failed[*]}"
    exit 1
fi
echo "test-all: every runner passed"
