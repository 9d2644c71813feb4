#!/usr/bin/env bash
# Builds the small C Wayland clients the compositor tests and benchmarks use
# (tests/clients/*.c → build/clients/). Idempotent: skips what is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/clients
for src in tests/clients/*.c; do
  out="build/clients/$(basename "$src" .c)"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    printf '\033[1m==> %s\033[0m\n' "building $out"
    cc -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src" $(pkg-config --cflags --libs wayland-client)
    mv "$out.tmp" "$out"
  fi
done
