#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine with Node/npm, used by
# both README commands and by CI. Each step checks before it acts, so a second
# run does nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=$(sed -n 's/.*"bun": *"\([0-9.]*\)".*/\1/p' package.json)
WASMTIME_VERSION=49.0.0
APT_PACKAGES="binutils build-essential pkg-config python3-pip clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt binaryen libwayland-dev wayland-protocols libdrm-dev libpixman-1-dev libxkbcommon-dev weston foot gtk-3-examples wayland-utils zstd wl-clipboard chromium erofs-utils cryptsetup-bin fdisk dosfstools mtools kbd"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# --- Debian packages (only the missing ones) ---------------------------------
missing=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    die "missing Debian packages and not root; run as root: apt-get install -y ${missing[*]}"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Bun (pinned in package.json engines) -------------------------------------
if ! command -v bun >/dev/null || [ "$(bun --version)" != "$BUN_VERSION" ]; then
  step "installing bun $BUN_VERSION"
  command -v npm >/dev/null || die "npm is needed to install bun (apt-get install nodejs npm)"
  npm install -g --silent "bun@$BUN_VERSION" >/dev/null
  hash -r
  [ "$(bun --version)" = "$BUN_VERSION" ] || die "bun $BUN_VERSION did not install (found $(bun --version 2>&1))"
fi

# --- npm dependencies -----------------------------------------------------------
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || { [ -f bun.lock ] && [ bun.lock -nt node_modules ]; }; then
  step "bun install"
  bun install --silent
  touch node_modules
fi

# --- libwasmtime from the wasmtime==$WASMTIME_VERSION wheel in the local package store
if [ "$(cat vendor/wasmtime/VERSION 2>/dev/null)" != "$WASMTIME_VERSION" ] || [ ! -f vendor/wasmtime/libwasmtime.so ]; then
  step "extracting libwasmtime $WASMTIME_VERSION"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --no-deps "wasmtime==$WASMTIME_VERSION" -d "$tmp" -q 2>"$tmp/pip.log" || true
  whl=$(ls "$tmp"/wasmtime-"$WASMTIME_VERSION"-*.whl 2>/dev/null | head -n1)
  [ -n "$whl" ] || { cat "$tmp/pip.log" >&2; die "could not get the wasmtime==$WASMTIME_VERSION wheel"; }
  python3 - "$whl" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("wasmtime/linux-x86_64/_libwasmtime.so", sys.argv[2])
PY
  mkdir -p vendor/wasmtime
  mv "$tmp/x/wasmtime/linux-x86_64/_libwasmtime.so" vendor/wasmtime/libwasmtime.so
  # The wheel's version is the library's; check the library agrees before trusting it.
  grep -qaF "$WASMTIME_VERSION" vendor/wasmtime/libwasmtime.so || die "libwasmtime does not report version $WASMTIME_VERSION"
  echo "$WASMTIME_VERSION" > vendor/wasmtime/VERSION
fi

# --- the native helper ----------------------------------------------------------------
native_stale=0
[ -f build/libweft_native.so ] || native_stale=1
for f in ffi/native/*.c ffi/native/*.h; do [ "$f" -nt build/libweft_native.so ] && native_stale=1; done
if [ "$native_stale" = 1 ]; then
  step "building the native helper"
  mkdir -p build
  cc -O2 -Wall -Wextra -Werror -shared -fPIC -o build/libweft_native.so.tmp ffi/native/*.c -lpthread -ldl
  mv build/libweft_native.so.tmp build/libweft_native.so
fi

# --- test guests, examples, bench kernels, test clients --------------------------------
bash scripts/build-guests.sh
[ ! -f scripts/build-clients.sh ] || bash scripts/build-clients.sh
[ ! -f scripts/build-components.sh ] || bash scripts/build-components.sh
bash scripts/build-examples.sh
[ ! -f scripts/build-cell-guests.sh ] || bash scripts/build-cell-guests.sh
