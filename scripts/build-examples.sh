#!/usr/bin/env bash
# Builds the example apps (examples/apps/*, see examples/apps/README.md) and
# signs them with the examples key:
#   - a package with a world.wit is a C *component* app: app.c is compiled
#     to a core module (examples/build/<name>.core.wasm) that imports
#     weft:app by hand (examples/include/weft_app.h), then examples/build.mjs
#     embeds world.wit and wraps it with jco's Preview 1 command adapter
#     into <package>/app.wasm;
#   - the others (hello) are Preview 1 modules built by build-guests.sh;
#   - build/example-keys/weft-sign.{key,pub}: an Ed25519 key pair made here
#     once per checkout (never committed); every package is signed with it
#     (signature.sig), so launching a bundled app verifies a real signature.
#     The public key ships with weft (src/system/assets.ts) and is trusted
#     when the bundled apps are installed.
# Idempotent: a second run builds and signs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
script=scripts/build-examples.sh
CC=${WASM_CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
jco=node_modules/@bytecodealliance/jco
keys=build/example-keys
die() { echo "build-examples: $*" >&2; exit 1; }
[ -f "$jco/package.json" ] || die "@bytecodealliance/jco is not installed (run bun install)"
if command -v node >/dev/null; then JS=node; else JS=bun; fi

# stale OUT INPUT...: OUT is missing or older than any INPUT.
stale() {
  local o=$1; shift
  [ -f "$o" ] || return 0
  for i in "$@"; do [ "$i" -nt "$o" ] && return 0; done
  return 1
}

built=0
mkdir -p examples/build
jobs=()
for world in examples/apps/*/world.wit; do
  [ -f "$world" ] || continue
  dir=$(dirname "$world"); name=$(basename "$dir")
  core=examples/build/$name.core.wasm
  if stale "$core" "$dir/app.c" examples/include/weft_app.h "$script"; then
    "$CC" --target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -Wall -Wextra -Werror -Iexamples/include -c -o "$core.o" "$dir/app.c"
    # Our own _start (weft_app.h): not a wasm-ld "command", whose exports would all be wrapped in ctors/dtors.
    "$CC" --target=wasm32-wasi "--sysroot=$SYSROOT" -nostartfiles -Wl,--no-entry -Wl,--strip-debug -o "$core.tmp" "$core.o"
    rm -f "$core.o"; mv "$core.tmp" "$core"
  fi
  if stale "$dir/app.wasm" "$core" "$world" wit/weft-app.wit examples/build.mjs scripts/jco-command.mjs "$jco/package.json"; then jobs+=("$core" "$world" "$dir/app.wasm"); fi
done
if ((${#jobs[@]})); then
  "$JS" examples/build.mjs "${jobs[@]}"
  built=$((built + ${#jobs[@]} / 3))
fi

# --- the examples key and signatures --------------------------------------------
if [ ! -f "$keys/weft-sign.key" ] || [ ! -f "$keys/weft-sign.pub" ]; then
  rm -rf "$keys"; mkdir -p "$keys"
  bun bin/weft.ts pack keygen "$keys" >/dev/null
  chmod 600 "$keys/weft-sign.key"
  echo "made the examples signing key $keys/weft-sign.pub"
fi
mkdir -p examples/keys
cmp -s "$keys/weft-sign.pub" examples/keys/weft-examples.pub || cp "$keys/weft-sign.pub" examples/keys/weft-examples.pub
for dir in examples/apps/*/; do
  dir=${dir%/}
  [ -f "$dir/wapp.toml" ] || continue
  sig=$dir/signature.sig
  # Re-sign when any file of the package (or the key) is newer than the signature.
  if [ ! -f "$sig" ] || [ -n "$(find "$dir" -type f ! -name signature.sig -newer "$sig" -print -quit)" ] || [ "$keys/weft-sign.key" -nt "$sig" ]; then
    bun bin/weft.ts pack sign "$dir" --key "$keys/weft-sign.key" >/dev/null
    echo "signed $dir"
    built=$((built + 1))
  fi
done
if [ "$built" -eq 0 ]; then echo "build-examples: everything up to date"; fi
