#!/bin/sh
# Runs inside the booted image (weft-smoke.service). Every check prints one
# "WEFT-SMOKE: ok|FAIL <what>" line; the last line is "WEFT-SMOKE: pass" or
# "WEFT-SMOKE: fail". image/boot.ts reads them off the serial console.
failed=0
ok() { echo "WEFT-SMOKE: ok $*"; }
bad() { echo "WEFT-SMOKE: FAIL $*"; failed=1; }
prop() { systemctl show -P "$1" weft.service; }
# weft's own CLI, as the service's user, against the running daemon.
asweft() { setpriv --reuid=weft --regid=weft --clear-groups env -i PATH=/usr/bin:/bin HOME=/var/lib/weft XDG_RUNTIME_DIR=/run/weft XDG_CACHE_HOME=/var/cache XDG_DATA_HOME=/var/lib "$@"; }
# Wait for a condition with a deadline (seconds), checking twice a second.
until_true() { n=$(( $1 * 2 )); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.5; n=$((n - 1)); done; return 1; }

echo "WEFT-SMOKE: begin ($(uname -r), $(nproc) CPUs)"
# Booted from the disk by UEFI firmware and systemd-boot (not qemu -kernel): the loader leaves its name in an EFI variable.
loader=$(cat /sys/firmware/efi/efivars/LoaderInfo-* 2>/dev/null | tr -d '\000' | tr -cd '[:print:]')
case "$loader" in systemd-boot*) ok "booted from the disk by UEFI firmware and $loader";; *) bad "not booted through UEFI and systemd-boot (LoaderInfo: '$loader')";; esac
# Where the boot's time went (systemd-analyze time cannot say yet: this unit is part of the boot).
us() { systemctl show -P "$1"; }
fw=$(us FirmwareTimestampMonotonic); ld=$(us LoaderTimestampMonotonic); user=$(us UserspaceTimestampMonotonic); now=$(cut -d. -f1 /proc/uptime)
# systemd-boot measures firmware and loader time with the TSC; when it cannot (seen under TCG) both are 0.
if [ "${fw:-0}" = 0 ]; then pre="firmware and loader: not measured by the loader"; else pre="firmware $(( (fw - ld) / 1000 )) ms, loader $(( ld / 1000 )) ms"; fi
echo "WEFT-SMOKE: boot: $pre; kernel + initramfs $(( user / 1000 )) ms, userspace to this check $(( now * 1000 - user / 1000 )) ms (TCG)"
echo "WEFT-SMOKE: $(/usr/bin/weft --version | tr '\n' ' ')"

# Type=notify: "active" means weft sent READY=1.
if [ "$(prop ActiveState)" = active ]; then ok "weft.service active (READY=1 received)"; else bad "weft.service is $(prop ActiveState)/$(prop SubState)"; journalctl -b -u weft.service --no-pager | tail -n 30; fi
echo "WEFT-SMOKE: status: $(prop StatusText)"
# The smoke VM has no display device (image/boot.ts: -vga none): weft must say it chose headless, and why.
display=$(journalctl -b -u weft.service --no-pager -o cat | grep -m1 "display: ")
echo "WEFT-SMOKE: $display"
case "$display" in *"display: headless: no usable DRM device"*) ok "headless backend (no GPU in this VM)";; *) bad "display backend: ${display:-not logged}";; esac
# The display's fd moves into Bun's own epoll (docs/decisions/0010); under the unit's sandbox too.
stay=$(journalctl -b -u weft.service --no-pager -o cat | grep -m1 "stays on the watcher thread")
[ -z "$stay" ] && ok "display fd in Bun's epoll" || bad "$stay"
# How long systemd waited for READY=1 (exec → READY), as it measured it.
ready_ms() { echo $(( ($(prop ActiveEnterTimestampMonotonic) - $(prop ExecMainStartTimestampMonotonic)) / 1000 )); }
echo "WEFT-SMOKE: weft exec → READY=1: $(ready_ms) ms (first boot: includes extracting the libraries; TCG-emulated CPU)"
caps=$(grep CapEff /proc/$(prop MainPID)/status | awk '{print $2}')
echo "WEFT-SMOKE: effective capabilities $caps (CAP_SYS_NICE = 0000000000800000)"
[ "$caps" = 0000000000800000 ] && ok "only CAP_SYS_NICE" || bad "capabilities $caps"
# The loop thread is SCHED_RR only while guests run (docs/decisions/0002): not yet, with no app running.
policy=$(chrt -p "$(prop MainPID)" 2>/dev/null | head -n1)
echo "WEFT-SMOKE: main thread, no app running: $policy"
case "$policy" in *SCHED_OTHER*) ok "loop at SCHED_OTHER while no guest runs";; *) bad "loop not at SCHED_OTHER with no guest";; esac

if apps=$(asweft weft apps 2>&1) && echo "$apps" | grep -q org.weft.example.hello; then ok "API answers: weft apps lists the default app"; else bad "weft apps: $apps"; fi
if out=$(asweft weft launch org.weft.example.hello 2>&1); then ok "launched: $out"; else bad "weft launch: $out"; fi
if until_true 20 sh -c 'systemctl show -P StatusText weft.service | grep -q "^1 app running"'; then ok "STATUS follows: $(prop StatusText)"; else bad "STATUS stayed: $(prop StatusText)"; fi
policy=$(chrt -p "$(prop MainPID)" 2>/dev/null | head -n1)
echo "WEFT-SMOKE: main thread, one app running: $policy"
case "$policy" in *SCHED_RR*) ok "loop at SCHED_RR while a guest runs";; *) bad "loop not at SCHED_RR with a guest running";; esac

# A guest that traps ends alone: weft (under its SystemCallFilter) reports the trap and keeps running.
pid=$(prop MainPID)
if out=$(asweft weft launch org.weft.smoke.trap 2>&1); then ok "launched the trapping app: $out"; else bad "weft launch org.weft.smoke.trap: $out"; fi
if until_true 20 sh -c 'journalctl -b -u weft.service --no-pager -o cat | grep -q "(org.weft.smoke.trap) ended: trap: unreachable"'; then
  ok "trap reported: $(journalctl -b -u weft.service --no-pager -o cat | grep "(org.weft.smoke.trap) ended" | tail -n1)"
else bad "no trap reported for org.weft.smoke.trap"; fi
if [ "$(prop MainPID)" = "$pid" ] && [ "$(prop ActiveState)" = active ]; then ok "weft still running after the trap (pid $pid)"; else bad "weft after the trap: $(prop ActiveState), pid $(prop MainPID) (was $pid)"; fi
echo "WEFT-SMOKE: seccomp: $(grep -E '^(Seccomp|Seccomp_filters):' /proc/$pid/status | tr '\n' ' ')"
grep -q '^Seccomp:[[:space:]]*2' /proc/$pid/status && ok "system call filter active (seccomp mode 2)" || bad "no seccomp filter on weft"

# The watchdog: freeze weft's loop (SIGSTOP); systemd must notice within
# WatchdogSec, kill it and start it again (Restart=on-failure).
pid=$(prop MainPID)
kill -STOP "$pid"
if until_true 60 sh -c "[ \"\$(systemctl show -P NRestarts weft.service)\" = 1 ] && [ \"\$(systemctl show -P ActiveState weft.service)\" = active ]"; then
  ok "frozen loop: watchdog killed and restarted weft (new pid $(prop MainPID))"
  echo "WEFT-SMOKE: weft exec → READY=1 after the restart: $(ready_ms) ms (libraries cached and verified; TCG-emulated CPU)"
else
  bad "frozen loop not restarted: $(prop ActiveState)/$(prop SubState), NRestarts=$(prop NRestarts), Result=$(prop Result)"
fi
# SIGTERM saves the running app; the restarted weft (after the watchdog it had none saved) runs fine; a clean stop exits 0.
systemctl stop weft.service
r=$(prop Result); code=$(prop ExecMainStatus)
if [ "$r" = success ] && [ "$code" = 0 ]; then ok "systemctl stop: clean exit ($r, status $code)"; else bad "stop: Result=$r ExecMainStatus=$code"; fi

# A verified app image mounted the kernel's way: as root, with dm-verity and erofs (modules of this
# kernel), a launch check opens it under the signed root hash and mounts it read-only.
img=/opt/weft-smoke/org.weft.smoke.trap.erofs
if [ -f "$img" ]; then
  vs=/tmp/weft-verity-store
  asroot() { env WEFT_APP_STORE=$vs WEFT_TRUSTED_KEYS=/etc/weft/trusted-keys "$@"; }
  if out=$(asroot weft pack install "$img" 2>&1); then ok "verified image installed: $out"; else bad "weft pack install $img: $out"; fi
  if out=$(asroot weft pack list --verify 2>&1) && echo "$out" | grep -q "signed (smoke)"; then ok "launch check of the image app passes"; else bad "weft pack list --verify: $out"; fi
  mnt=$(findmnt -n -o FSTYPE,SOURCE,OPTIONS "$vs/.weft/mnt/org.weft.smoke.trap" 2>&1)
  echo "WEFT-SMOKE: image mount: $mnt"
  case "$mnt" in erofs*/dev/mapper/weft-org.weft.smoke.trap-*ro*) ok "mounted read-only from dm-verity";; *) bad "not mounted with dm-verity: $mnt";; esac
  dev=$(echo "$mnt" | awk '{print $2}')
  echo "WEFT-SMOKE: $(veritysetup status "${dev#/dev/mapper/}" 2>&1 | grep -E 'status|root hash' | tr -s ' ' | tr '\n' ';')"
  if cmp -s "$vs/.weft/mnt/org.weft.smoke.trap/app.wasm" "$vs/org.weft.smoke.trap/app.wasm"; then ok "the mounted app reads back what was installed"; else bad "mounted app.wasm differs"; fi
  if out=$(asroot weft pack uninstall org.weft.smoke.trap 2>&1) && ! findmnt "$vs/.weft/mnt/org.weft.smoke.trap" >/dev/null && [ ! -e "$dev" ]; then ok "uninstall unmounted and closed it"; else bad "after uninstall: $out; $(findmnt "$vs/.weft/mnt/org.weft.smoke.trap"); $(ls -l "$dev" 2>&1)"; fi
fi

if [ -x /opt/weft-tests/run.sh ]; then
  echo "WEFT-SMOKE: running weft's tests inside the VM"
  if /opt/weft-tests/run.sh; then ok "tests inside the VM"; else bad "tests inside the VM"; fi
fi

journalctl -b -u weft.service --no-pager -o cat | sed 's/^/WEFT-SMOKE: journal: /' | tail -n 20
if [ $failed = 0 ]; then echo "WEFT-SMOKE: pass"; else echo "WEFT-SMOKE: fail"; fi
