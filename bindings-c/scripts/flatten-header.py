#!/usr/bin/env python3
"""Writes the header PHP's FFI::cdef can read: include/upwatch.h without comments,
preprocessor lines and the C++ guard (FFI::cdef has no preprocessor; stdbool/stddef/stdint
types are built into it).

    python3 scripts/flatten-header.py include/upwatch.h php/upwatch.ffi.h
"""
import re
import sys

source, target = sys.argv[1], sys.argv[2]
text = open(source, encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # block comments
text = re.sub(r"//[^\n]*", "", text)  # line comments
lines = []
for line in text.splitlines():
    stripped = line.strip()
    if stripped.startswith("#") or stripped in ('extern "C" {', "}  ") or not stripped:
        continue
    lines.append(line.rstrip())
# The closing brace of the `extern "C" {` block sits on a line of its own after the last
# declaration; drop it (declarations end with ';', type blocks with '} name;').
while lines and lines[-1].strip() == "}":
    lines.pop()
out = "// Generated from include/upwatch.h by scripts/flatten-header.py for PHP FFI::cdef; do not edit.\n"
out += "\n".join(lines) + "\n"
open(target, "w", encoding="utf-8").write(out)
