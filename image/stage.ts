// Puts weft into a root filesystem tree: the executable, its units, its
// system user, the default apps, the unit enabled. image/build.ts runs it on
// a debootstrapped Debian; tests/system/image.test.ts runs it on an empty dir
// (the light check CI can afford) and checks the result with systemctl and
// systemd-analyze --root.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generateKeyPair, signPackage } from "../src/appd/signature.ts";
import { buildImage, buildVerity } from "../src/appd/verity-image.ts";
import { BUNDLED_APPS, BUNDLED_KEY, ROOT } from "../src/system/assets.ts";

/** The smoke test's app that traps at once (tests/guests/trap_unreachable.c), signed by a key made for this image. */
export const SMOKE_TRAP_APP = "org.weft.smoke.trap";

export interface StageOptions {
  /** The executable to install as /usr/bin/weft (default dist/weft). */
  weft?: string;
  /** Also install the boot-time smoke test (image/smoke/): it reports on the serial console and powers off. */
  smoke?: boolean;
  /** Forward the journal to the serial console (for image/drm-screendump.ts, which shows weft's lines when the screen stays wrong). */
  consoleJournal?: boolean;
  /** Host name written to /etc/hostname (default "weft"). */
  hostname?: string;
  log?: (line: string) => void;
}

function put(root: string, path: string, from: string, mode = 0o644): void {
  const to = join(root, path);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

function write(root: string, path: string, text: string, mode = 0o644): void {
  const to = join(root, path);
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, text);
  chmodSync(to, mode);
}

/** `systemctl enable` without a running systemd: the [Install] symlink. */
function enable(root: string, unit: string, target: string): void {
  const link = join(root, "etc", "systemd", "system", `${target}.wants`, unit);
  mkdirSync(dirname(link), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(`/usr/lib/systemd/system/${unit}`, link);
}

export async function stageWeft(root: string, opts: StageOptions = {}): Promise<void> {
  const say = opts.log ?? (() => {});
  const weft = opts.weft ?? join(ROOT, "dist", "weft");
  if (!existsSync(weft)) throw new Error(`${weft} does not exist; run \`bun run build\` first`);

  say("weft: /usr/bin/weft, units, system user");
  put(root, "usr/bin/weft", weft, 0o755);
  put(root, "usr/lib/systemd/system/weft.service", join(ROOT, "systemd", "weft.service"));
  put(root, "usr/lib/systemd/user/weft.service", join(ROOT, "systemd", "user", "weft.service"));
  put(root, "usr/lib/sysusers.d/weft.conf", join(ROOT, "systemd", "sysusers.d", "weft.conf"));
  put(root, "usr/share/doc/weft/deploy.md", join(ROOT, "docs", "deploy.md"));
  enable(root, "weft.service", "multi-user.target");

  // The default apps go to the read-only system store; the user store (/var/lib/weft/apps) starts empty.
  say("weft: default apps into /usr/share/weft/apps");
  const store = join(root, "usr", "share", "weft", "apps");
  mkdirSync(store, { recursive: true });
  // They are signed with the examples key (scripts/build-examples.sh): the image trusts it system-wide, so every launch verifies them.
  const keys = join(root, "etc", "weft", "trusted-keys");
  mkdirSync(keys, { recursive: true });
  put(root, "etc/weft/trusted-keys/weft-bundled.pub", join(ROOT, BUNDLED_KEY));
  for (const rel of BUNDLED_APPS) {
    const p = Bun.spawnSync(["bun", join(ROOT, "bin", "weft.ts"), "pack", "install", join(ROOT, rel), "--store", store], {
      env: { ...process.env, WEFT_LOG: "warn", WEFT_TRUSTED_KEYS: keys },
      stdout: "pipe",
      stderr: "pipe",
    });
    if (p.exitCode !== 0) throw new Error(`installing ${rel}: ${p.stderr.toString().trim()}`);
  }

  write(root, "etc/hostname", `${opts.hostname ?? "weft"}\n`);
  write(root, "etc/fstab", "LABEL=weft-root / ext4 rw,noatime 0 1\n");

  if (opts.consoleJournal) write(root, "etc/systemd/journald.conf.d/console.conf", "[Journal]\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n");

  if (opts.smoke) {
    say("weft: smoke test unit (reports on ttyS0, then powers off)");
    put(root, "usr/local/sbin/weft-smoke", join(ROOT, "image", "smoke", "weft-smoke.sh"), 0o755);
    put(root, "usr/lib/systemd/system/weft-smoke.service", join(ROOT, "image", "smoke", "weft-smoke.service"));
    enable(root, "weft-smoke.service", "multi-user.target");
    // Under TCG on a busy host weft's first start (extracting its libraries) can
    // take minutes of emulated time; the smoke test checks READY, not its speed.
    write(root, "etc/systemd/system/weft.service.d/smoke-tcg.conf", "[Service]\nTimeoutStartSec=10min\n");
    await stageTrapApp(root, store);
  }
}

/**
 * A signed app that traps as soon as it starts, so the smoke test sees weft
 * (under its SystemCallFilter) catch a guest's trap and keep running. The
 * key is made here and trusted only in this image (/etc/weft/trusted-keys).
 * The same app as a verified image (its root hash signed with that key) goes
 * to /opt/weft-smoke, for the check of the dm-verity mount path as root.
 */
async function stageTrapApp(root: string, store: string): Promise<void> {
  const wasm = join(ROOT, "tests", "guests", "build", "trap_unreachable.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} does not exist; run \`bash scripts/setup.sh\` first`);
  const tmp = mkdtempSync(join(tmpdir(), "weft-smoke-app-"));
  try {
    const pkg = join(tmp, SMOKE_TRAP_APP);
    put(pkg, "app.wasm", wasm);
    write(pkg, "ui/index.html", "<!doctype html><title>trap</title>\n");
    write(pkg, "wapp.toml", `[package]\nid = "${SMOKE_TRAP_APP}"\nname = "Smoke: trap"\nversion = "1.0.0"\n\n[runtime]\nmodule = "app.wasm"\n\n[ui]\nentry = "ui/index.html"\n`);
    const key = await generateKeyPair();
    await signPackage(pkg, key.seedHex);
    write(root, "etc/weft/trusted-keys/smoke.pub", key.publicHex);
    const image = join(root, "opt", "weft-smoke", `${SMOKE_TRAP_APP}.erofs`);
    mkdirSync(dirname(image), { recursive: true });
    await buildImage(pkg, image);
    await buildVerity(image, { seedHex: key.seedHex });
    write(tmp, "keys/smoke.pub", key.publicHex);
    const p = Bun.spawnSync(["bun", join(ROOT, "bin", "weft.ts"), "pack", "install", pkg, "--store", store], {
      env: { ...process.env, WEFT_LOG: "warn", WEFT_TRUSTED_KEYS: join(tmp, "keys") },
      stdout: "pipe",
      stderr: "pipe",
    });
    if (p.exitCode !== 0) throw new Error(`installing ${SMOKE_TRAP_APP}: ${p.stderr.toString().trim()}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
