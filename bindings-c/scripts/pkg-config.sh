#!/usr/bin/env bash
# Writes upwatch.pc for a library directory and an include directory:
#   bash bindings-c/scripts/pkg-config.sh LIBDIR INCLUDEDIR OUT_DIR
# then: PKG_CONFIG_PATH=OUT_DIR pkg-config --cflags --libs upwatch
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
libdir="$(cd "$1" && pwd)"
includedir="$(cd "$2" && pwd)"
mkdir -p "$3"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../Cargo.toml" | head -n1)"
sed -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" -e "s|@VERSION@|$version|" \
    "$here/upwatch.pc.in" > "$3/upwatch.pc"
