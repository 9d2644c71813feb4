// `bun image/build.ts --vt-test`: what image/vt-switch.ts needs inside the
// VM to show VT switching on a real kernel —
//   - an animating Wayland client on weft's display (Debian's
//     weston-simple-shm and the libwayland-client it links, copied from
//     this Debian 12 host: the image's base has only libwayland-server),
//     started after weft as its user;
//   - kbd's chvt (also from this host: the image's base has no kbd);
//   - a root shell on the serial console (autologin), through which the
//     script types `chvt 2` and `chvt 1`.
import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Host files copied in, and where they go. */
export const VT_TEST_FILES: [from: string, to: string][] = [
  ["/usr/bin/weston-simple-shm", "opt/weft-vt-test/weston-simple-shm"],
  ["/usr/lib/x86_64-linux-gnu/libwayland-client.so.0", "opt/weft-vt-test/lib/libwayland-client.so.0"],
  ["/usr/bin/chvt", "usr/local/bin/chvt"],
];

// Wants=, not Requires=: under TCG weft's first start may fail, and a
// required unit's failure would cancel this one for good; this way it keeps
// retrying until weft's socket is there.
const CLIENT_UNIT = `[Unit]
Description=weft VT test: an animating Wayland client on weft's display
Wants=weft.service
After=weft.service
StartLimitIntervalSec=0

[Service]
User=weft
Group=weft
Environment=XDG_RUNTIME_DIR=/run/weft WAYLAND_DISPLAY=wayland-0 LD_LIBRARY_PATH=/opt/weft-vt-test/lib
ExecStart=/opt/weft-vt-test/weston-simple-shm
# weft may restart under TCG (its first start can time out); follow it.
Restart=always
RestartSec=2s

[Install]
WantedBy=multi-user.target
`;

// Debian 12's serial-getty@.service line with --autologin root and login -f (no password asked).
const AUTOLOGIN = `[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-p -f -- \\\\u' --keep-baud --autologin root 115200,57600,38400,9600 - $TERM
`;

export function stageVtTest(root: string, say: (l: string) => void = () => {}): void {
  for (const [from, to] of VT_TEST_FILES) {
    if (!existsSync(from)) throw new Error(`${from} is missing on this host: apt-get install weston kbd (scripts/setup.sh)`);
    const dest = join(root, to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(from), dest);
    chmodSync(dest, 0o755);
  }
  say("vt test: weston-simple-shm (weft-vt-client.service), chvt, root autologin on ttyS0");
  const unit = join(root, "etc/systemd/system/weft-vt-client.service");
  writeFileSync(unit, CLIENT_UNIT);
  const wants = join(root, "etc/systemd/system/multi-user.target.wants/weft-vt-client.service");
  mkdirSync(dirname(wants), { recursive: true });
  if (!existsSync(wants)) symlinkSync("/etc/systemd/system/weft-vt-client.service", wants);
  // As for the smoke image: weft's first start under TCG (extracting its libraries) takes minutes.
  const slow = join(root, "etc/systemd/system/weft.service.d/vt-test-tcg.conf");
  mkdirSync(dirname(slow), { recursive: true });
  writeFileSync(slow, "[Service]\nTimeoutStartSec=10min\n");
  const dropIn = join(root, "etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf");
  mkdirSync(dirname(dropIn), { recursive: true });
  writeFileSync(dropIn, AUTOLOGIN);
}
