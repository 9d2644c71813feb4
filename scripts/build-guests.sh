#!/usr/bin/env bash
# Builds the C test guests, examples and bench kernels as WASI Preview 1
# command modules with Debian's clang + wasi-libc, and the bench kernels
# natively too:
#   tests/guests/*.c  -> tests/guests/build/<name>.wasm (+ malformed/ fixtures)
#   tests/guests/*.wat -> tests/guests/build/<name>.wasm (wabt's wat2wasm)
#   examples/*.c      -> examples/build/<name>.wasm
#   examples/apps/*/app.c -> examples/apps/*/app.wasm (inside the package)
#   bench/kernels/*.c -> bench/build/<name>.wasm and bench/build/<name>
# Anything newer than both its source and this script is skipped, so a second
# run builds nothing. Run as `bash scripts/build-guests.sh` from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
script=scripts/build-guests.sh

CC=${WASM_CC:-clang}
NATIVE_CC=${NATIVE_CC:-gcc}
SYSROOT=${WASI_SYSROOT:-/usr}

# Compile and link in two steps on purpose: when the *link* command carries an
# -O flag, clang runs binaryen's wasm-opt if it is on PATH, which drops the
# "name" section (trap backtraces then say "<wasm function 18>" instead of
# "main"), and whether that happens would depend on what is installed.
CFLAGS=(--target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -Wall -Wextra -Wno-unused-parameter)
LDFLAGS=(
  --target=wasm32-wasi "--sysroot=$SYSROOT"
  # Debian's libc.a carries DWARF; drop it but keep function names.
  -Wl,--strip-debug
  # C's shadow stack (locals whose address is taken, arrays) lives in linear
  # memory below the data, so overflowing it runs off address 0 and traps
  # instead of silently overwriting globals. 1 MiB instead of wasm-ld's 64 KiB.
  -Wl,--stack-first -Wl,-z,stack-size=1048576
)

die() { echo "build-guests: $*" >&2; exit 1; }
command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang lld)"
echo 'int main(void) { return 0; }' | "$CC" --target=wasm32-wasi -x c -c -o /dev/null - 2>/dev/null ||
  die "$CC has no wasm32 target (Debian's clang has it; apt-get install clang)"
command -v wasm-ld >/dev/null || die "wasm-ld not found (apt-get install lld)"
[ -f "$SYSROOT/lib/wasm32-wasi/libc.a" ] && [ -f "$SYSROOT/include/wasm32-wasi/stdio.h" ] ||
  die "wasi-libc not found under $SYSROOT (apt-get install wasi-libc)"
rt=$("$CC" --target=wasm32-wasi -print-libgcc-file-name 2>/dev/null || true)
[ -n "$rt" ] && [ -f "$rt" ] ||
  die "clang's wasm32 runtime $rt is missing (apt-get install libclang-rt-$("$CC" -dumpversion | cut -d. -f1)-dev-wasm32)"

built=0
# stale OUT SRC: OUT is missing or older than SRC or this script.
stale() { [ ! -f "$1" ] || [ "$2" -nt "$1" ] || [ "$script" -nt "$1" ]; }

wasm() { # SRC OUT
  stale "$2" "$1" || return 0
  mkdir -p "$(dirname "$2")"
  "$CC" "${CFLAGS[@]}" -c -o "$2.o" "$1"
  "$CC" "${LDFLAGS[@]}" -o "$2.tmp" "$2.o"
  rm -f "$2.o"
  mv "$2.tmp" "$2"
  echo "built $2"
  built=$((built + 1))
}

native() { # SRC OUT
  stale "$2" "$1" || return 0
  command -v "$NATIVE_CC" >/dev/null || die "$NATIVE_CC not found (apt-get install gcc)"
  mkdir -p "$(dirname "$2")"
  "$NATIVE_CC" -O2 -Wall -o "$2.tmp" "$1"
  mv "$2.tmp" "$2"
  echo "built $2"
  built=$((built + 1))
}

for src in tests/guests/*.c; do wasm "$src" "tests/guests/build/$(basename "$src" .c).wasm"; done
# Guests C cannot express (a start section): WebAssembly text, with wabt.
command -v wat2wasm >/dev/null || die "wat2wasm not found (apt-get install wabt)"
for src in tests/guests/*.wat; do
  out=tests/guests/build/$(basename "$src" .wat).wasm
  stale "$out" "$src" || continue
  mkdir -p "$(dirname "$out")"
  wat2wasm "$src" -o "$out.tmp"
  mv "$out.tmp" "$out"
  echo "built $out"
  built=$((built + 1))
done
for src in examples/*.c; do wasm "$src" "examples/build/$(basename "$src" .c).wasm"; done
# Example app packages: the module sits inside the package as wapp.toml names it.
# (Packages with a world.wit are components: scripts/build-examples.sh builds those.)
for src in examples/apps/*/app.c; do [ -f "$(dirname "$src")/world.wit" ] || wasm "$src" "$(dirname "$src")/app.wasm"; done
for src in bench/kernels/*.c; do
  name=$(basename "$src" .c)
  wasm "$src" "bench/build/$name.wasm"
  native "$src" "bench/build/$name"
done

# Malformed modules for the loader's error paths.
m=tests/guests/build/malformed
hello=tests/guests/build/hello.wasm
fixture() { # NAME DEP: regenerate when missing or older than DEP / this script
  stale "$m/$1" "$2" || return 0
  mkdir -p "$m"
  case $1 in
    empty.wasm) : >"$m/$1" ;;
    notwasm.wasm) echo "this is not a wasm module" >"$m/$1" ;;
    truncated.wasm) head -c 20 "$hello" >"$m/$1" ;;
    badmagic.wasm) printf '\0asn\1\0\0\0' >"$m/$1" ;; # "\0asm" misspelt, version 1
  esac
  echo "built $m/$1"
  built=$((built + 1))
}
fixture empty.wasm "$script"
fixture notwasm.wasm "$script"
fixture truncated.wasm "$hello"
fixture badmagic.wasm "$script"

if [ "$built" -eq 0 ]; then echo "build-guests: everything up to date"; else echo "build-guests: $built file(s) built"; fi
