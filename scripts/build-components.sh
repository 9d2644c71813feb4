#!/usr/bin/env bash
# Builds the WebAssembly *component* test guests (see tests/components/README.md):
#   tests/guests/build/<name>.wasm (Preview 1 core modules, scripts/build-guests.sh)
#     -> tests/components/build/<name>.component.wasm, wrapped with the
#        wasi_snapshot_preview1 command adapter that @bytecodealliance/jco ships
#   tests/components/<name>.js (imports weft:app, wit/weft-app.wit)
#     -> tests/components/build/js-<name>.component.wasm, with componentize-js
#        against tests/components/wit/guest.wit (world weft:test-guests/guest)
# One line per artifact ("built ..." or "up to date ..."). Anything newer than
# all its inputs (and this script, build.mjs, the tool versions) is skipped, so
# a second run builds nothing and takes about a second. A JS component takes
# ~20-60 s and ~12 MB to build, so they are built here once, not by tests.
# Run as `bash scripts/build-components.sh` from anywhere; needs `bun install`.
set -euo pipefail
cd "$(dirname "$0")/.."
script=scripts/build-components.sh
builder=tests/components/build.mjs
out=tests/components/build
# The WASI WIT packages the JS world is built against, as jco ships them.
WASI_VERSION=0.2.12
jco=node_modules/@bytecodealliance/jco
cjs=node_modules/@bytecodealliance/componentize-js
adapter=$jco/lib/wasi_snapshot_preview1.command.wasm
wasi_wit=$jco/lib/wit/builtin/$WASI_VERSION

die() { echo "build-components: $*" >&2; exit 1; }
[ -f "$jco/package.json" ] && [ -f "$cjs/package.json" ] ||
  die "@bytecodealliance/jco and componentize-js are not installed (run bun install)"
[ -f "$adapter" ] || die "jco no longer ships $adapter"
[ -d "$wasi_wit" ] || die "jco has no WASI $WASI_VERSION WIT in $wasi_wit (has: $(ls "$jco/lib/wit/builtin" | tr '\n' ' '))"
if command -v node >/dev/null; then JS=node; else JS=bun; fi

# The core modules come from build-guests.sh (idempotent, ~0.5 s when up to date).
guests=$(bash scripts/build-guests.sh)
grep -qv 'everything up to date' <<<"$guests" && echo "$guests"

# stale OUT INPUT...: OUT is missing or older than any INPUT.
stale() {
  local o=$1; shift
  [ -f "$o" ] || return 0
  for i in "$@"; do [ "$i" -nt "$o" ] && return 0; done
  return 1
}
common=("$script" "$builder" "$jco/package.json")

mkdir -p "$out"

# --- C guests wrapped with the Preview 1 command adapter ---------------------
# Only those built from C: the hand-written WAT guests (tests/guests/*.wat)
# test core-module instantiation and do not export what the adapter needs.
adapt=()
for src in tests/guests/*.c; do
  core=tests/guests/build/$(basename "$src" .c).wasm
  o=$out/$(basename "$core" .wasm).component.wasm
  if stale "$o" "$core" "$adapter" "${common[@]}"; then adapt+=("$core" "$o"); else echo "up to date $o"; fi
done
((${#adapt[@]} == 0)) || "$JS" "$builder" adapt "${adapt[@]}"

# --- JS guests importing weft:app ---------------------------------------------
# A source's world is `guest` unless its first line says `// world: NAME`.
wit_inputs=(tests/components/wit/guest.wit wit/weft-app.wit "$cjs/package.json")
declare -A js_by_world=()
for src in tests/components/*.js; do
  o=$out/js-$(basename "$src" .js).component.wasm
  world=$(sed -n '1s|^// world: *\([a-z0-9-]*\).*|\1|p' "$src")
  world=${world:-guest}
  if stale "$o" "$src" "${wit_inputs[@]}" "${common[@]}"; then js_by_world[$world]+="$src $o "; else echo "up to date $o"; fi
done
if ((${#js_by_world[@]})); then
  # The WIT package directory componentize-js reads: the world, weft:app and
  # jco's WASI packages as deps/ (rebuilt each time; it is tiny).
  rm -rf "$out/wit"
  mkdir -p "$out/wit/deps/weft-app"
  cp tests/components/wit/guest.wit "$out/wit/"
  cp wit/weft-app.wit "$out/wit/deps/weft-app/"
  cp -r "$wasi_wit"/wasi-* "$out/wit/deps/"
  for world in "${!js_by_world[@]}"; do
    # shellcheck disable=SC2086 # paths without spaces, split on purpose
    "$JS" "$builder" js "$out/wit" "$world" ${js_by_world[$world]}
  done
fi

# --- hand-written WAT components -----------------------------------------------
# tests/components/<name>.wat -> build/wat-<name>.component.wasm, embedded with
# the world its first line names (`;; world: NAME`) from tests/components/wit/<NAME>.wit.
for src in tests/components/*.wat; do
  [ -f "$src" ] || continue
  o=$out/wat-$(basename "$src" .wat).component.wasm
  world=$(sed -n '1s|^;; world: *\([a-z0-9-]*\).*|\1|p' "$src")
  [ -n "$world" ] || die "$src: the first line must be ';; world: NAME'"
  witfile=tests/components/wit/$world.wit
  if stale "$o" "$src" "$witfile" wit/weft-app.wit "${common[@]}"; then
    w=$out/wit-$world
    rm -rf "$w"
    mkdir -p "$w/deps/weft-app"
    cp "$witfile" "$w/"
    cp wit/weft-app.wit "$w/deps/weft-app/"
    cp -r "$wasi_wit"/wasi-* "$w/deps/"
    "$JS" "$builder" wat "$w" "$world" "$src" "$o"
  else
    echo "up to date $o"
  fi
done
