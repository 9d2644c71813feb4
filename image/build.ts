#!/usr/bin/env bun
// `bun run image` → a minimal bootable Debian 12 image with weft:
//   weft.img               ext4 root filesystem (boot it with image/boot.ts)
//   vmlinuz, initrd.img    the image's own kernel and initramfs
// in $WEFT_IMAGE_DIR (default ~/.cache/weft-image).
//
// Steps (each prints what it does):
//   1. dist/weft (bun run build) unless --weft PATH is given
//   2. a Debian base by debootstrap (minbase + systemd + kernel + weft's
//      runtime libraries); kept in base-<hash of the recipe> there and
//      reused while the recipe is unchanged, downloaded .debs cached too
//   3. a copy of the base with weft staged in (image/stage.ts): /usr/bin/weft,
//      the unit enabled, the system user, the default apps
//   4. the ext4 image, made from that tree without mounting anything
//      (mkfs.ext4 -d)
//
// Options: --smoke (add the boot-time smoke test), --with-tests (also copy
// bun and the test suite in, run by the smoke test), --weft PATH,
// --out DIR (default: imageDir()), --size MiB (default 2048).
// Needs root (debootstrap) and: debootstrap, e2fsprogs. Boot: image/boot.ts.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../src/system/assets.ts";
import { stageWeft } from "./stage.ts";

/**
 * Where images are built: NOT inside the checkout, where `bun test` would walk
 * a whole Debian tree looking for test files. $WEFT_IMAGE_DIR, else
 * $XDG_CACHE_HOME/weft-image (~/.cache/weft-image).
 */
export function imageDir(): string {
  return process.env.WEFT_IMAGE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "weft-image");
}

export const SUITE = "bookworm";
export const MIRROR = "http://deb.debian.org/debian";
/** What the image has besides minbase: an init, a kernel, the system libraries weft dlopens (README lists them), and veritysetup for mounting verified app images. */
export const PACKAGES = ["systemd", "systemd-sysv", "udev", "linux-image-amd64", "libwayland-server0", "libpixman-1-0", "libxkbcommon0", "libdrm2", "cryptsetup-bin"];

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const out = resolve(value("--out") ?? imageDir());
const sizeMiB = Number(value("--size") ?? 2048);

let stepNo = 0;
const STEPS = 5;
function step(s: string) {
  console.log(`\x1b[1m==> [${++stepNo}/${STEPS}] ${s}\x1b[0m`);
}
function die(s: string): never {
  console.error(`image: ${s}`);
  process.exit(1);
}
/** Runs a command with its output shown (progress), failing loudly. */
function sh(cmd: string[], opts: { quiet?: boolean } = {}) {
  const r = Bun.spawnSync(cmd, { stdout: opts.quiet ? "pipe" : "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) die(`${cmd.join(" ")} failed (exit ${r.exitCode})`);
}

/**
 * debootstrap mounts /proc (and more) in the target and leaves it mounted when
 * anything was busy at its exit; a tree with a live /proc inside must never be
 * copied or walked.
 */
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((m) => m && (m === dir || m.startsWith(dir + "/")))
    .sort()
    .reverse();
  for (const m of mounts) {
    console.log(`unmounting ${m} (left by debootstrap)`);
    Bun.spawnSync(["umount", "-l", m]);
  }
}

if (import.meta.main) {
  if (process.getuid?.() !== 0) die("needs root (debootstrap, device nodes in the tree)");
  for (const tool of ["debootstrap", "mkfs.ext4"]) if (!Bun.which(tool) && !existsSync(`/usr/sbin/${tool}`)) die(`${tool} is missing: apt-get install debootstrap e2fsprogs`);
  mkdirSync(out, { recursive: true });

  step("the executable");
  let weft = value("--weft");
  if (!weft) {
    sh(["bun", join(ROOT, "scripts", "build.ts")]);
    weft = join(ROOT, "dist", "weft");
  }

  step(`Debian ${SUITE} base (debootstrap)`);
  const recipe = new Bun.CryptoHasher("sha256").update(JSON.stringify({ SUITE, MIRROR, PACKAGES, v: 1 })).digest("hex").slice(0, 12);
  const base = join(out, `base-${recipe}`);
  if (existsSync(join(base, ".complete"))) console.log(`reusing ${base}`);
  else {
    rmSync(base, { recursive: true, force: true });
    const debs = join(out, "debs");
    mkdirSync(debs, { recursive: true });
    try {
      sh(["debootstrap", "--variant=minbase", `--cache-dir=${debs}`, `--include=${PACKAGES.join(",")}`, SUITE, base, MIRROR]);
    } finally {
      unmountUnder(base);
    }
    // Leftovers of the build host's apt state are not part of the image.
    rmSync(join(base, "var", "cache", "apt", "archives"), { recursive: true, force: true });
    mkdirSync(join(base, "var", "cache", "apt", "archives", "partial"), { recursive: true });
    writeFileSync(join(base, ".complete"), new Date().toISOString() + "\n");
  }

  step("weft staged into a copy of the base");
  const tree = join(out, "rootfs");
  rmSync(tree, { recursive: true, force: true });
  unmountUnder(base);
  sh(["cp", "-a", base, tree]);
  rmSync(join(tree, ".complete"), { force: true });
  await stageWeft(tree, { weft, smoke: flag("--smoke"), log: (l) => console.log(l) });
  if (flag("--with-tests")) {
    const { stageTests } = await import("./smoke/stage-tests.ts");
    await stageTests(tree, (l) => console.log(l));
  }

  step(`ext4 image (${sizeMiB} MiB, sparse)`);
  const img = join(out, "weft.img");
  const tmpImg = `${img}.tmp`;
  rmSync(tmpImg, { force: true });
  sh(["mkfs.ext4", "-q", "-F", "-L", "weft-root", "-d", tree, tmpImg, `${sizeMiB}M`]);
  renameSync(tmpImg, img);

  step("kernel and initramfs");
  const boot = join(tree, "boot");
  const kernel = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  const initrd = readdirSync(boot).find((f) => f.startsWith("initrd.img-"));
  if (!kernel || !initrd) die(`no kernel/initrd in ${boot}`);
  copyFileSync(join(boot, kernel), join(out, "vmlinuz"));
  copyFileSync(join(boot, initrd), join(out, "initrd.img"));
  rmSync(tree, { recursive: true, force: true });
  const mb = (p: string) => `${(statSync(p).size / 1e6).toFixed(0)} MB`;
  console.log(`built ${img} (${sizeMiB} MiB apparent), ${join(out, "vmlinuz")} (${kernel}, ${mb(join(out, "vmlinuz"))}), initrd ${mb(join(out, "initrd.img"))}`);
  console.log(`boot it: bun image/boot.ts --dir ${out}${flag("--smoke") ? " --smoke" : ""}`);
}
