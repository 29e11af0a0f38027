#!/usr/bin/env bash
# Tests of bindings-c: the C library (under valgrind), its header, the C example, and the
# PHP FFI wrapper with its Laravel integration (PHPUnit). Installs what it needs (cbindgen
# 0.29.0 with cargo; php-cli, phpunit, php-laravel-framework, ... with apt-get), builds the
# library once (debug), and fails when any runner fails. Each runner prints its summary.
#
#   bash bindings-c/scripts/test.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
CBINDGEN_VERSION=0.29.0
out="$root/target/bindings-c"
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*"; }
failed=()

# ---- tools ---------------------------------------------------------------------------------
need_apt=()
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v php >/dev/null || need_apt+=(php-cli)
command -v phpunit >/dev/null || need_apt+=(phpunit)
[ -d /usr/share/php/Illuminate/Foundation ] || need_apt+=(php-laravel-framework)
if command -v php >/dev/null; then
    mods="$(php -m)"
    grep -qx curl <<<"$mods" || need_apt+=(php-curl)
    grep -qx mbstring <<<"$mods" || need_apt+=(php-mbstring)
    grep -qx dom <<<"$mods" || need_apt+=(php-xml)
    grep -qx sqlite3 <<<"$mods" || need_apt+=(php-sqlite3)
else
    need_apt+=(php-curl php-mbstring php-xml php-sqlite3)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    step "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! php -m | grep -qx FFI; then
    echo "PHP has no FFI extension (Debian's php-cli includes it; check php -m)" >&2
    exit 1
fi
if [ "$(cbindgen --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
    step "cargo install cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

# ---- build once ----------------------------------------------------------------------------
step "cargo build -p upwatch-c -p upwatch-testbed (debug)"
cargo build -q -p upwatch-c -p upwatch-testbed
lib="$root/target/debug"

step "the committed header matches cbindgen $CBINDGEN_VERSION's output"
cbindgen --quiet --config "$here/cbindgen.toml" --crate upwatch-c --output "$out/upwatch.h" 2>"$out/cbindgen.log" \
    || { cat "$out/cbindgen.log"; exit 1; }
python3 "$here/scripts/flatten-header.py" "$out/upwatch.h" "$out/upwatch.ffi.h"
if diff -u "$here/include/upwatch.h" "$out/upwatch.h" && diff -u "$here/php/upwatch.ffi.h" "$out/upwatch.ffi.h"; then
    echo "header: include/upwatch.h and php/upwatch.ffi.h are up to date"
else
    echo "header: drift; regenerate with:"
    echo "  cbindgen --config bindings-c/cbindgen.toml --crate upwatch-c --output bindings-c/include/upwatch.h"
    echo "  python3 bindings-c/scripts/flatten-header.py bindings-c/include/upwatch.h bindings-c/php/upwatch.ffi.h"
    failed+=("header drift")
fi

bash "$here/scripts/pkg-config.sh" "$lib" "$here/include" "$out/pkgconfig"
export PKG_CONFIG_PATH="$out/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

# ---- C tests under valgrind ----------------------------------------------------------------
step "C tests (cc against libupwatch.so, under valgrind)"
cc -std=c11 -Wall -Wextra -Werror -g $(pkg-config --cflags upwatch) "$here/tests/test_upwatch.c" \
    $(pkg-config --libs upwatch) -lpthread -Wl,-rpath,"$lib" -o "$out/test_upwatch"
if RUST_BACKTRACE=0 valgrind --quiet --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,possible --suppressions="$here/tests/valgrind.supp" \
    "$out/test_upwatch" 2> >(grep -v -e 'upwatch_test_panic was called' -e '^note: run with' -e "panicked at" -e '^$' >&2); then
    echo "valgrind: no memory errors, no leaks"
else
    failed+=("C tests / valgrind")
fi

# ---- the C example, linked statically ------------------------------------------------------
step "examples/c against a loopback testbed (linked with libupwatch.a)"
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags upwatch) "$root/examples/c/main.c" \
    "$(pkg-config --variable=libdir upwatch)/libupwatch.a" \
    $(pkg-config --static --libs-only-l upwatch | sed 's/-lupwatch//') -o "$out/upwatch-example"
"$root/target/debug/upwatch-testbed" http >"$out/testbed.url" &
testbed=$!
trap 'kill $testbed 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/testbed.url" ] && break; sleep 0.05; done
base="$(head -n1 "$out/testbed.url")"
base="${base%/}"
if "$out/upwatch-example" "$base" >"$out/example.log"; then
    tail -n1 "$out/example.log"
else
    cat "$out/example.log"
    failed+=("examples/c")
fi

# ---- PHP -----------------------------------------------------------------------------------
if [ -f "$here/php/phpunit.xml" ]; then
    step "PHP tests (PHPUnit, FFI on libupwatch.so, Laravel through its kernel)"
    export UPWATCH_LIB="$lib/libupwatch.so"
    export UPWATCH_TEST_BASE_URL="$base"
    if (cd "$here/php" && RUST_BACKTRACE=0 php -d ffi.enable=1 /usr/bin/phpunit --colors=never 2> >(grep -v -e 'upwatch_test_panic was called' -e '^note: run with' -e "panicked at" -e '^$' >&2)); then
        :
    else
        failed+=("PHP tests")
    fi
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "bindings-c: FAILED: ${failed[*]}"
    exit 1
fi
echo "bindings-c: all passed"
