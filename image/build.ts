#!/usr/bin/env bun
// `bun run image` → a minimal bootable Debian 12 disk with weft:
//   weft.img   a GPT disk: an EFI system partition (systemd-boot, the image's
//              kernel and initramfs) and the ext4 root filesystem; UEFI
//              firmware boots it alone (image/boot.ts: qemu + OVMF)
// in $WEFT_IMAGE_DIR (default ~/.cache/weft-image).
//
// Steps (each prints what it does):
//   1. dist/weft (bun run build) unless --weft PATH is given
//   2. a Debian base by debootstrap (minbase + systemd + kernel + systemd-boot
//      + weft's runtime libraries); kept in base-<hash of the recipe> there
//      and reused while the recipe is unchanged, downloaded .debs cached too
//   3. a copy of the base with weft staged in (image/stage.ts): /usr/bin/weft,
//      the unit enabled, the system user, the default apps
//   4. the disk (image/disk.ts), made from that tree without mounting
//      anything and without loop devices
//
// Options: --smoke (add the boot-time smoke test), --with-tests (also copy
// bun and the fast test suites in, run by the smoke test), --full-tests
// (instead: the whole checkout and every Debian package CI installs, so the
// smoke test runs the whole `bun test`; a bigger base, 8 GiB disk),
// --tcg-subset (with --full-tests: every test file but the few that cannot
// finish under TCG, image/smoke/stage-tests.ts TCG_HEAVY),
// --console-journal (the journal on the serial console, for
// image/drm-screendump.ts), --vt-test (a client, chvt and a serial root
// shell for image/vt-switch.ts), --weft PATH, --out DIR (default: imageDir()), --size MiB (root
// filesystem, default 2048).
// Needs root (debootstrap) and: debootstrap, e2fsprogs, fdisk, dosfstools,
// mtools. Boot: image/boot.ts (needs qemu-system-x86 and ovmf).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../src/system/assets.ts";
import { buildDisk, missingDiskTools, SYSTEMD_BOOT } from "./disk.ts";
import { stageWeft } from "./stage.ts";

/**
 * Where images are built: NOT inside the checkout, where `bun test` would walk
 * a whole Debian tree looking for test files. $WEFT_IMAGE_DIR, else
 * $XDG_CACHE_HOME/weft-image (~/.cache/weft-image).
 */
export function imageDir(): string {
  return process.env.WEFT_IMAGE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "weft-image");
}

/** The disk's file name in the image dir: the full-tests image (much bigger) sits beside the plain one. */
export function imageName(full = false): string {
  return full ? "weft-full-tests.img" : "weft.img";
}

export const SUITE = "bookworm";
export const MIRROR = "http://deb.debian.org/debian";
/** What the image has besides minbase: an init, a kernel, its boot loader (only the EFI binary; image/disk.ts puts it on the ESP), the system libraries weft dlopens (README lists them), and veritysetup for mounting verified app images. */
export const PACKAGES = ["systemd", "systemd-sysv", "udev", "linux-image-amd64", "systemd-boot-efi", "libwayland-server0", "libpixman-1-0", "libxkbcommon0", "libdrm2", "cryptsetup-bin"];

/** The Debian packages CI installs (APT_PACKAGES in scripts/setup.sh): a --full-tests image has them all, so `bun test` inside it sees what CI sees. */
export function ciPackages(): string[] {
  const m = /^APT_PACKAGES="([^"]*)"/m.exec(readFileSync(join(ROOT, "scripts", "setup.sh"), "utf8"));
  if (!m) throw new Error("APT_PACKAGES not found in scripts/setup.sh");
  return m[1].split(/\s+/).filter(Boolean);
}

/** Added to CI's packages in a --full-tests image: debootstrap's resolver does not choose a provider for a virtual package (weston's dconf-service needs default-dbus-session-bus, libpam-systemd dbus-system-bus), so they are named. */
export const FULL_TESTS_EXTRA = ["dbus", "dbus-user-session"];

/** The kernel command line in the image's loader entry (root= is added by the disk). Serial console last: it becomes /dev/console, which the smoke test and image/boot.ts read. */
export const CMDLINE = "rw console=tty0 console=ttyS0 panic=-1 systemd.show_status=1 loglevel=4";

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const out = resolve(value("--out") ?? imageDir());
const full = flag("--full-tests");
// The tests inside the VM are run by the smoke test, so --full-tests implies --smoke.
const smoke = flag("--smoke") || full;
const sizeMiB = Number(value("--size") ?? (full ? 8192 : 2048));

let stepNo = 0;
const STEPS = 4;
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
  if (!Bun.which("debootstrap") && !existsSync("/usr/sbin/debootstrap")) die("debootstrap is missing: apt-get install debootstrap");
  const missing = missingDiskTools();
  if (missing.length) die(`missing: ${missing.join(", ")} (apt-get install fdisk dosfstools mtools e2fsprogs)`);
  mkdirSync(out, { recursive: true });

  step("the executable");
  let weft = value("--weft");
  if (!weft) {
    sh(["bun", join(ROOT, "scripts", "build.ts")]);
    weft = join(ROOT, "dist", "weft");
  }

  const packages = full ? [...new Set([...PACKAGES, ...ciPackages(), ...FULL_TESTS_EXTRA])] : PACKAGES;
  step(`Debian ${SUITE} base (debootstrap${full ? `, with CI's ${packages.length - PACKAGES.length} packages for the full test suite` : ""})`);
  const recipe = new Bun.CryptoHasher("sha256").update(JSON.stringify({ SUITE, MIRROR, PACKAGES: packages, v: 1 })).digest("hex").slice(0, 12);
  const base = join(out, `base-${recipe}`);
  if (existsSync(join(base, ".complete"))) console.log(`reusing ${base}`);
  else {
    rmSync(base, { recursive: true, force: true });
    const debs = join(out, "debs");
    mkdirSync(debs, { recursive: true });
    try {
      sh(["debootstrap", "--variant=minbase", `--cache-dir=${debs}`, `--include=${packages.join(",")}`, SUITE, base, MIRROR]);
    } finally {
      unmountUnder(base);
    }
    // Leftovers of the build host's apt state are not part of the image.
    rmSync(join(base, "var", "cache", "apt", "archives"), { recursive: true, force: true });
    mkdirSync(join(base, "var", "cache", "apt", "archives", "partial"), { recursive: true });
    writeFileSync(join(base, ".complete"), new Date().toISOString() + "\n");
  }

  step("weft staged into a copy of the base");
  // One staging tree per kind of image, so a plain and a --full-tests build can run at once in one dir.
  const tree = join(out, `rootfs-${imageName(full).replace(/\.img$/, "")}`);
  rmSync(tree, { recursive: true, force: true });
  unmountUnder(base);
  sh(["cp", "-a", base, tree]);
  rmSync(join(tree, ".complete"), { force: true });
  await stageWeft(tree, { weft, smoke, consoleJournal: flag("--console-journal"), log: (l) => console.log(l) });
  if (flag("--with-tests") || full) {
    const { stageTests } = await import("./smoke/stage-tests.ts");
    await stageTests(tree, { full, tcgSubset: flag("--tcg-subset"), log: (l) => console.log(l) });
  }
  if (flag("--vt-test")) {
    const { stageVtTest } = await import("./vt/stage.ts");
    stageVtTest(tree, (l) => console.log(l));
  }

  step(`bootable disk (GPT: ESP + ${sizeMiB} MiB ext4 root, sparse)`);
  const boot = join(tree, "boot");
  const kernel = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  const initrd = readdirSync(boot).find((f) => f.startsWith("initrd.img-"));
  if (!kernel || !initrd) die(`no kernel/initrd in ${boot}`);
  const img = join(out, imageName(full));
  let disk;
  try {
    disk = buildDisk({
      tree,
      out: img,
      loader: join(tree, SYSTEMD_BOOT),
      kernel: join(boot, kernel),
      initrd: join(boot, initrd),
      cmdline: CMDLINE,
      title: `weft (Debian ${SUITE}, ${kernel.slice("vmlinuz-".length)})`,
      rootMiB: sizeMiB,
      log: (l) => console.log(l),
    });
  } catch (e) {
    die((e as Error).message);
  }
  rmSync(tree, { recursive: true, force: true });
  // Earlier builds left the kernel beside the image for qemu -kernel; the disk boots alone now.
  for (const old of ["vmlinuz", "initrd.img"]) rmSync(join(out, old), { force: true });
  console.log(`built ${img}: ${(statSync(img).size / 2 ** 20).toFixed(0)} MiB apparent, ${((statSync(img).blocks * 512) / 1e6).toFixed(0)} MB on disk; kernel ${kernel}; command line: ${disk.cmdline}`);
  console.log(`boot it: bun image/boot.ts --dir ${out}${smoke ? " --smoke" : ""}${full ? ` --image ${imageName(true)} --mem 4096 --timeout 9000` : ""}`);
}
