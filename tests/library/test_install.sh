#!/usr/bin/env bash
# Install libflotilla into a scratch prefix with `meson install --destdir`, then build and run a
# small program against it with `pkg-config --cflags --libs flotilla` (proves header, shared
# library, soname and flotilla.pc work for an outside project).
set -euo pipefail
builddir="$1"; srcdir="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$builddir" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$builddir" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
pcdir=$(dirname "$(find "$tmp/root" -name flotilla.pc | head -n1)")
[ -n "$pcdir" ] || { echo "flotilla.pc not installed"; exit 1; }
export PKG_CONFIG_PATH="$pcdir"
cflags=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --cflags flotilla)
libs=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --libs flotilla)
libdir=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --variable=libdir flotilla)
cc -std=c11 -Wall -Wextra -Werror $cflags "$srcdir/tests/library/install_probe.c" -o "$tmp/probe" $libs
# the soname carries the major version
ls "$libdir"/libflotilla.so.0 >/dev/null
# hidden internals: no internal symbol is exported from the shared library
if nm -D --defined-only "$libdir/libflotilla.so" | awk '{print $3}' | grep -v '^fl_' | grep -v '^_' | grep -q .; then
  echo "symbols without the fl_ prefix are exported:"; nm -D --defined-only "$libdir/libflotilla.so" | awk '{print $3}' | grep -v '^fl_' | grep -v '^_'
  exit 1
fi
if nm -D --defined-only "$libdir/libflotilla.so" | grep -q ' fl_fail$'; then
  echo "internal symbol fl_fail is exported"; exit 1
fi
LD_LIBRARY_PATH="$libdir" "$tmp/probe"
echo "1 passed, 0 failed"
