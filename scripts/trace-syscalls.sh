#!/usr/bin/env bash
# Lists every system call weft makes while it starts, serves a Wayland client
# and an HTTP request, runs an app, traps another, and stops on SIGTERM — the
# measurement behind SystemCallFilter= in systemd/weft.service. Prints the
# sorted names on stdout (systemd/syscalls-seen.txt holds the last run).
# Needs strace. Usage: bash scripts/trace-syscalls.sh > systemd/syscalls-seen.txt
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "trace-syscalls: needs strace (apt-get install strace)" >&2; exit 1; }
T=$(mktemp -d)
trap 'kill -TERM "$weft" 2>/dev/null || true; rm -rf "$T"' EXIT
export XDG_RUNTIME_DIR=$T/run HOME=$T/home WEFT_APP_STORE=$T/store XDG_CACHE_HOME=$T/cache WEFT_TRUSTED_KEYS=$T/keys
mkdir -p "$XDG_RUNTIME_DIR" "$HOME" "$T/keys"; chmod 700 "$XDG_RUNTIME_DIR"
weft() { bun bin/weft.ts "$@"; }
P=$T/pkg/org.weft.test.trap; mkdir -p "$P/ui"
cp tests/guests/build/trap_unreachable.wasm "$P/app.wasm"; echo '<!doctype html>' > "$P/ui/index.html"
printf '[package]\nid = "org.weft.test.trap"\nname = "Trap"\nversion = "1.0.0"\n[runtime]\nmodule = "app.wasm"\n[ui]\nentry = "ui/index.html"\n' > "$P/wapp.toml"
weft pack install --allow-unsigned "$P" >/dev/null
weft pack install --allow-unsigned examples/apps/hello >/dev/null
strace -f -qq -c -S name -o "$T/summary" bun bin/weft.ts run --headless --http-port 0 --allow-unsigned > "$T/out" 2>&1 &
for _ in $(seq 300); do grep -q '^APPD_URL=' "$T/out" && break; sleep 0.2; done
weft=$(pgrep -P $! -n)
export WEFT_APPD_SOCKET=$(sed -n 's/^APPD_SOCKET=//p' "$T/out")
export WAYLAND_DISPLAY=$(sed -n 's/^WAYLAND_DISPLAY=//p' "$T/out")
url=$(sed -n 's/^APPD_URL=//p' "$T/out")
weft launch org.weft.example.hello >&2
weft launch org.weft.test.trap >&2
timeout 2 weston-simple-shm >/dev/null 2>&1 || true
curl -s -H "Authorization: Bearer $(cat "$XDG_RUNTIME_DIR"/weft/appd.token)" "${url}api/apps" >/dev/null || true
for _ in $(seq 50); do grep -q 'org.weft.test.trap) ended' "$T/out" && break; sleep 0.2; done
weft ps >&2
kill -TERM "$weft"
for _ in $(seq 100); do kill -0 "$weft" 2>/dev/null || break; sleep 0.2; done
wait || true
grep -E 'launched|ended|stopp' "$T/out" >&2 || true
awk 'NR>2 && $1 !~ /^-/ && $NF != "total" {print $NF}' "$T/summary" | sort
