// The bootable disk's layout (image/disk.ts) and the VM's command line
// (image/boot.ts), checked without booting: a GPT with an ESP that UEFI
// firmware boots (systemd-boot as \EFI\BOOT\BOOTX64.EFI, one loader entry
// naming the root partition by its PARTUUID) and an ext4 root, all made in a
// plain file without loop devices. The boot itself is the opt-in VM test
// (tests/system/image.test.ts with WEFT_SLOW_TESTS=1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemuCommand } from "../../image/boot.ts";
import { buildDisk, ESP_TYPE, LOADER_CONF, loaderEntry, ROOT_TYPE, type Disk } from "../../image/disk.ts";
import { summarize } from "../../image/test-in-vm.ts";
import { TCG_HEAVY, testFiles } from "../../image/smoke/stage-tests.ts";

let work = "";
let disk: Disk;
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const files = { loader: bytes(70_000, 1), kernel: bytes(3_000_000, 2), initrd: bytes(5_000_000, 3) };
const ROOT_UUID = "0b7e2f1c-7a55-4d0e-9c3a-5a1e2d3c4b5a";

function sh(cmd: string[], env: Record<string, string> = {}): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** One partition's bytes, copied out of the disk file (what a loop device would show). */
function partition(p: { offset: number; size: number }, to: string): string {
  sh(["dd", `if=${disk.path}`, `of=${to}`, "bs=1M", `skip=${p.offset / 2 ** 20}`, `count=${p.size / 2 ** 20}`, "conv=sparse", "status=none"]);
  return to;
}

// The root partition is big enough (256 MiB) that the whole file passes 260 MiB, where mkfs.fat, left to
// itself, would size the ESP's clusters for the file and make an invalid FAT32 (a bug this test caught).
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "weft-disk-"));
  const tree = join(work, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  writeFileSync(join(tree, "etc", "hostname"), "weft\n");
  for (const [name, b] of Object.entries(files)) writeFileSync(join(work, name), b);
  disk = buildDisk({ tree, out: join(work, "disk.img"), loader: join(work, "loader"), kernel: join(work, "kernel"), initrd: join(work, "initrd"), cmdline: "rw console=ttyS0", title: "weft test", espMiB: 40, rootMiB: 256, rootUuid: ROOT_UUID });
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the bootable disk (made without loop devices)", () => {
  test("a GPT with an EFI system partition and a root partition named by the loader entry", () => {
    const table = JSON.parse(sh(["sfdisk", "--json", disk.path])).partitiontable;
    expect(table.label).toBe("gpt");
    expect(table.partitions.map((p: { start: number; size: number; type: string; name: string }) => [p.start * 512, p.size * 512, p.type, p.name])).toEqual([
      [disk.esp.offset, 40 * 2 ** 20, ESP_TYPE, "ESP"],
      [disk.root.offset, 256 * 2 ** 20, ROOT_TYPE, "weft-root"],
    ]);
    expect(table.partitions[1].uuid.toLowerCase()).toBe(ROOT_UUID);
    expect(disk.cmdline).toBe(`root=PARTUUID=${ROOT_UUID} rw console=ttyS0`);
  });

  test("the ESP is FAT and holds the loader where firmware looks, the kernel, the initramfs and the entry", () => {
    const esp = partition(disk.esp, join(work, "esp.img"));
    expect(Bun.spawnSync(["fsck.fat", "-n", esp], { stdout: "pipe" }).exitCode).toBe(0);
    const mt = { MTOOLS_SKIP_CHECK: "1" };
    for (const [name, at] of [["loader", "::/EFI/BOOT/BOOTX64.EFI"], ["kernel", "::/weft/vmlinuz"], ["initrd", "::/weft/initrd.img"]] as const) {
      const back = join(work, `${name}.back`);
      sh(["mcopy", "-n", "-i", esp, at, back], mt);
      expect(Buffer.compare(readFileSync(back), Buffer.from(files[name]))).toBe(0);
    }
    expect(sh(["mtype", "-i", esp, "::/loader/loader.conf"], mt)).toBe(LOADER_CONF);
    expect(sh(["mtype", "-i", esp, "::/loader/entries/weft.conf"], mt)).toBe(loaderEntry({ title: "weft test", cmdline: disk.cmdline }));
  });

  test("the root partition is a clean ext4 with the tree in it", () => {
    const root = partition(disk.root, join(work, "root.img"));
    const fsck = Bun.spawnSync(["e2fsck", "-fn", root], { stdout: "pipe", stderr: "pipe" });
    expect(fsck.exitCode).toBe(0);
    expect(sh(["debugfs", "-R", "cat /etc/hostname", root])).toBe("weft\n");
    expect(sh(["blkid", "-o", "value", "-s", "LABEL", root]).trim()).toBe("weft-root"); // the image's fstab mounts LABEL=weft-root
  }, 30_000); // copies 256 MiB out and checks it: disk-bound

  test("bad input: a missing kernel, or an ESP too small, is a clear error and leaves no disk behind", () => {
    const out = join(work, "bad.img");
    const o = { tree: join(work, "tree"), out, loader: join(work, "loader"), kernel: join(work, "kernel"), initrd: join(work, "initrd"), cmdline: "", title: "t", rootMiB: 8 };
    expect(() => buildDisk({ ...o, kernel: join(work, "nope") })).toThrow(/nope does not exist/);
    expect(() => buildDisk({ ...o, espMiB: 8 })).toThrow(/ESP \(8 MiB\) is too small .* \(\d+ MiB\)/);
    expect(() => buildDisk({ ...o, rootMiB: 0 })).toThrow(/mkfs|sfdisk/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });
});

describe("the VM's command line (image/boot.ts)", () => {
  const base = { image: "/tmp/x.img", mem: 2048, cpus: 2, kvm: false, firmware: "/fw/OVMF.fd" };
  const after = (cmd: string[], flag: string) => cmd.flatMap((a, i) => (cmd[i - 1] === flag ? [a] : []));

  test("boots the disk through UEFI firmware, never qemu -kernel", () => {
    const cmd = qemuCommand({ ...base, display: "none" });
    expect(after(cmd, "-bios")).toEqual(["/fw/OVMF.fd"]);
    expect(after(cmd, "-drive")).toEqual(["file=/tmp/x.img,format=raw,if=virtio"]);
    for (const f of ["-kernel", "-initrd", "-append"]) expect(cmd).not.toContain(f);
  });

  test("the display is explicit: the headless smoke VM has no GPU at all, the DRM check exactly the one it asks for", () => {
    const smoke = qemuCommand({ ...base, display: "none" });
    expect(after(smoke, "-vga")).toEqual(["none"]); // not qemu's default std VGA, which the kernel makes a DRM card of
    expect(after(smoke, "-device")).toEqual([]);
    const drm = qemuCommand({ ...base, display: "virtio-vga" });
    expect(after(drm, "-vga")).toEqual(["none"]);
    expect(after(drm, "-device")).toEqual(["virtio-vga"]);
    expect(after(qemuCommand({ ...base, display: "bochs-display" }), "-device")).toEqual(["bochs-display"]);
  });
});

describe("bun test under a VM: reading the suite's verdict off the console (image/test-in-vm.ts)", () => {
  test("the counts and the failed tests of a real bun test run, prefixed as run.sh prefixes them", () => {
    const dir = join(work, "suite");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "three.test.ts"), `import { test, expect } from "bun:test";\ntest("passes", () => expect(1).toBe(1));\ntest("fails on purpose", () => expect(1).toBe(2));\ntest.skip("skipped", () => {});\n`);
    // A second file: with several files bun names each failure again in its closing summary.
    writeFileSync(join(dir, "other.test.ts"), `import { test, expect } from "bun:test";\ntest("other passes", () => expect(2).toBe(2));\n`);
    const r = Bun.spawnSync(["bun", "test", "./three.test.ts", "./other.test.ts"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const lines = (r.stdout.toString() + r.stderr.toString()).split("\n").map((l) => `[ 12.0s] WEFT-SMOKE: test: ${l}`);
    // Bun's closing "N tests failed:" list (as a long run inside the VM printed it) names each failure again.
    const failLine = lines.find((l) => l.includes("(fail) fails on purpose"));
    lines.push("[ 98.0s] WEFT-SMOKE: test: 1 tests failed:", String(failLine));
    lines.push(`[ 99.0s] WEFT-SMOKE: test: exit ${r.exitCode} after 42 s`, "[ 99.1s] unrelated console line (fail) 7 pass");
    const s = summarize(lines);
    expect({ pass: s.pass, fail: s.fail, skip: s.skip, exit: s.exit, seconds: s.seconds }).toEqual({ pass: 2, fail: 1, skip: 1, exit: 1, seconds: 42 });
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]).toStartWith("fails on purpose");
  });
});

test("the TCG subset names only test files that exist, and leaves exactly those out", () => {
  const all = testFiles();
  const subset = testFiles(Object.keys(TCG_HEAVY));
  expect(all.length).toBeGreaterThan(Object.keys(TCG_HEAVY).length);
  expect(subset.length).toBe(all.length - Object.keys(TCG_HEAVY).length);
  expect(() => testFiles(["tests/no-such.test.ts"])).toThrow("tests/no-such.test.ts is not a test file of this checkout");
});
