// The bootable disk: a GPT with an EFI system partition (systemd-boot, the
// kernel, the initramfs, one loader entry) and the ext4 root filesystem,
// written into a plain file without mounting anything and without loop
// devices (containers and CI machines often have neither): sfdisk writes
// the partition table into the file, mkfs.fat --offset and mkfs.ext4 -E
// offset= make the filesystems in place, mtools copies into the FAT one.
// UEFI firmware (OVMF under qemu) finds \EFI\BOOT\BOOTX64.EFI on the ESP,
// systemd-boot boots the one entry at once, the initramfs finds the root by
// its partition UUID.
import { closeSync, existsSync, ftruncateSync, openSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";

/** GPT partition types (UEFI spec; the root one is the Discoverable Partitions type for x86-64 root). */
export const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
/** Where systemd-boot-efi (in the image) puts the loader. */
export const SYSTEMD_BOOT = "usr/lib/systemd/boot/efi/systemd-bootx64.efi";

const MiB = 1024 * 1024;
const SECTOR = 512;

export interface DiskOptions {
  /** The root filesystem's tree (what mkfs.ext4 -d copies in). */
  tree: string;
  /** The disk file to write (replaced). */
  out: string;
  /** The loader, kernel and initramfs to put on the ESP. */
  loader: string;
  kernel: string;
  initrd: string;
  /** Kernel command line, without root= (the disk adds root=PARTUUID=…). */
  cmdline: string;
  /** Entry title shown by systemd-boot. */
  title: string;
  espMiB?: number;
  rootMiB: number;
  /** The root partition's UUID (default: a random one). */
  rootUuid?: string;
  log?: (line: string) => void;
}

export interface Disk {
  path: string;
  rootUuid: string;
  /** Byte offsets and sizes of the two partitions. */
  esp: { offset: number; size: number };
  root: { offset: number; size: number };
  /** The kernel command line in the loader entry. */
  cmdline: string;
}

/** Runs a tool, quietly; its output is shown only when it fails. */
function run(cmd: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): void {
  const r = Bun.spawnSync(cmd, {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.exitCode}): ${(r.stderr.toString() + r.stdout.toString()).trim()}`);
}

/** The tools a disk needs, with the Debian package each comes from. */
export const DISK_TOOLS: Record<string, string> = { sfdisk: "fdisk", "mkfs.fat": "dosfstools", mcopy: "mtools", mmd: "mtools", "mkfs.ext4": "e2fsprogs" };

export function missingDiskTools(): string[] {
  return Object.entries(DISK_TOOLS)
    .filter(([t]) => !Bun.which(t) && !existsSync(`/usr/sbin/${t}`) && !existsSync(`/sbin/${t}`))
    .map(([t, p]) => `${t} (${p})`);
}

export function loaderEntry(o: { title: string; cmdline: string }): string {
  return `title ${o.title}\nlinux /weft/vmlinuz\ninitrd /weft/initrd.img\noptions ${o.cmdline}\n`;
}

/** Boot the one entry at once; no editor (the command line is part of the image, not a prompt). */
export const LOADER_CONF = "default weft.conf\ntimeout 0\neditor no\nconsole-mode keep\n";

export function buildDisk(o: DiskOptions): Disk {
  const say = o.log ?? (() => {});
  const missing = missingDiskTools();
  if (missing.length) throw new Error(`missing tools: ${missing.join(", ")} (apt-get install fdisk dosfstools mtools e2fsprogs)`);
  for (const f of [o.loader, o.kernel, o.initrd]) if (!existsSync(f)) throw new Error(`${f} does not exist`);
  const espMiB = o.espMiB ?? 256;
  const need = Math.ceil((statSync(o.kernel).size + statSync(o.initrd).size + statSync(o.loader).size) / MiB) + 2;
  if (need > espMiB) throw new Error(`the ESP (${espMiB} MiB) is too small for the loader, kernel and initramfs (${need} MiB)`);
  if (espMiB < 40) throw new Error(`the ESP (${espMiB} MiB) is below FAT32's minimum here (40 MiB with 512-byte clusters)`);
  const rootUuid = (o.rootUuid ?? crypto.randomUUID()).toLowerCase();
  const esp = { offset: 1 * MiB, size: espMiB * MiB };
  const root = { offset: esp.offset + esp.size, size: o.rootMiB * MiB };
  // 1 MiB before (protective MBR, GPT header and entries, alignment), 1 MiB after (the backup GPT).
  const total = root.offset + root.size + 1 * MiB;
  const cmdline = `root=PARTUUID=${rootUuid} ${o.cmdline}`.trim();

  const tmp = `${o.out}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, "w");
  ftruncateSync(fd, total); // sparse
  closeSync(fd);
  try {
    say(`disk: GPT, ESP ${espMiB} MiB, root ${o.rootMiB} MiB (PARTUUID ${rootUuid})`);
    const s = (bytes: number) => bytes / SECTOR;
    run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", tmp], {
      stdin:
        `label: gpt\nunit: sectors\nfirst-lba: ${s(esp.offset)}\n` +
        `start=${s(esp.offset)}, size=${s(esp.size)}, type=${ESP_TYPE}, name="ESP"\n` +
        `start=${s(root.offset)}, size=${s(root.size)}, type=${ROOT_TYPE}, uuid=${rootUuid}, name="weft-root"\n`,
    });

    say("disk: ESP (FAT32) with systemd-boot, the kernel and the initramfs");
    // The cluster size is given: left to itself mkfs.fat sizes clusters for the whole file, not the partition, and a big disk gets a FAT32 with too few clusters to be valid.
    run(["mkfs.fat", "-F", "32", "-S", "512", "-s", "1", "-n", "WEFT-ESP", "--offset", String(s(esp.offset)), tmp, String(esp.size / 1024)]);
    const fat = `${tmp}@@${esp.offset}`;
    // mtools checks the FAT's geometry against a floppy's; a partition in a file has none to check.
    const mt = { env: { MTOOLS_SKIP_CHECK: "1" } };
    run(["mmd", "-i", fat, "::/EFI", "::/EFI/BOOT", "::/loader", "::/loader/entries", "::/weft"], mt);
    run(["mcopy", "-i", fat, o.loader, "::/EFI/BOOT/BOOTX64.EFI"], mt);
    run(["mcopy", "-i", fat, o.kernel, "::/weft/vmlinuz"], mt);
    run(["mcopy", "-i", fat, o.initrd, "::/weft/initrd.img"], mt);
    const text = (name: string, body: string) => {
      const p = `${tmp}.${name}`;
      writeFileSync(p, body);
      return p;
    };
    const conf = text("loader.conf", LOADER_CONF);
    const entry = text("entry.conf", loaderEntry({ title: o.title, cmdline }));
    try {
      run(["mcopy", "-i", fat, conf, "::/loader/loader.conf"], mt);
      run(["mcopy", "-i", fat, entry, "::/loader/entries/weft.conf"], mt);
    } finally {
      rmSync(conf, { force: true });
      rmSync(entry, { force: true });
    }

    say(`disk: ext4 root (${o.rootMiB} MiB) from the tree`);
    run(["mkfs.ext4", "-q", "-F", "-L", "weft-root", "-E", `offset=${root.offset}`, "-d", o.tree, tmp, `${root.size / 1024}k`]);
    // mkfs must not have grown the file over the backup GPT's place.
    if (statSync(tmp).size !== total) throw new Error(`mkfs changed the disk's size (${statSync(tmp).size} ≠ ${total})`);
    renameSync(tmp, o.out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { path: o.out, rootUuid, esp, root, cmdline };
}
