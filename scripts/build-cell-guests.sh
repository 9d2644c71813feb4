#!/usr/bin/env bash
# Builds the weft:cell C test guests (tests/cell/guests/*.c, which import
# weft:cell through tests/cell/guests/weft_cell.h) as components:
#   clang --target=wasm32-wasi -> core module (our own _start: -nostartfiles,
#   see weft_cell.h) -> tests/cell/guests/build.mjs (jco embed + new with the
#   Preview 1 command adapter) -> tests/cell/build/<name>.component.wasm
# Anything newer than its inputs is skipped; a second run builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
script=scripts/build-cell-guests.sh
out=tests/cell/build
CC=${WASM_CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
jco=node_modules/@bytecodealliance/jco
[ -f "$jco/package.json" ] || { echo "build-cell-guests: @bytecodealliance/jco is not installed (run bun install)" >&2; exit 1; }
if command -v node >/dev/null; then JS=node; else JS=bun; fi

stale() { # OUT INPUT...
  local o=$1; shift
  [ -f "$o" ] || return 0
  for i in "$@"; do [ "$i" -nt "$o" ] && return 0; done
  return 1
}
mkdir -p "$out"
todo=()
for src in tests/cell/guests/*.c; do
  name=$(basename "$src" .c)
  o=$out/$name.component.wasm
  if stale "$o" "$src" tests/guests/dir_watch.c tests/cell/guests/weft_cell.h tests/cell/guests/world.wit tests/cell/guests/build.mjs scripts/jco-command.mjs wit/weft-cell.wit "$script" "$jco/package.json"; then
    core=$out/$name.core.wasm
    "$CC" --target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -Wall -Wextra -Wno-unused-parameter -c -o "$core.o" "$src"
    "$CC" --target=wasm32-wasi "--sysroot=$SYSROOT" -nostartfiles -Wl,--no-entry -Wl,--strip-debug -o "$core" "$core.o"
    rm -f "$core.o"
    todo+=("$core" "$o")
  else
    echo "up to date $o"
  fi
done
((${#todo[@]} == 0)) || "$JS" tests/cell/guests/build.mjs "${todo[@]}"
