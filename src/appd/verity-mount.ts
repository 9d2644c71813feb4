// Mounting a verified image the kernel's way: dm-verity under a read-only
// EROFS mount, so every block read at run time is checked against the
// trusted root hash. This needs root (CAP_SYS_ADMIN), veritysetup, and a
// kernel with erofs and dm-verity; where any is missing weft says which and
// uses the extracted copy instead (verity-store.ts). Nothing here runs under
// the shipped systemd unit, which has no CAP_SYS_ADMIN: there the fallback
// is the design, and the image is still verified in userspace at launch.
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { ImageFiles } from "./verity-image.ts";

export type MountSupport = { ok: true } | { ok: false; reason: string };

let cached: MountSupport | undefined;

/** Whether this process can mount verified images; the reason when not. Decided once per process (WEFT_VERITY_MOUNT=0 turns it off). */
export function mountSupport(): MountSupport {
  if (cached) return cached;
  const no = (reason: string): MountSupport => (cached = { ok: false, reason });
  if (process.env.WEFT_VERITY_MOUNT === "0") return no("WEFT_VERITY_MOUNT=0");
  if (process.geteuid?.() !== 0) return no("weft is not running as root (mounting needs CAP_SYS_ADMIN)");
  if (!Bun.which("veritysetup") && !existsSync("/usr/sbin/veritysetup") && !existsSync("/sbin/veritysetup")) return no("veritysetup is not installed (apt-get install cryptsetup-bin)");
  const filesystems = safeRead("/proc/filesystems");
  if (!/\berofs\b/.test(filesystems) && !(modprobe("erofs") && /\berofs\b/.test(safeRead("/proc/filesystems"))))
    return no("the kernel has no EROFS support (no erofs in /proc/filesystems and modprobe erofs failed)");
  if (!existsSync("/dev/mapper/control") && !(modprobe("dm-mod") && existsSync("/dev/mapper/control")))
    return no("no device-mapper (/dev/mapper/control is missing and modprobe dm-mod failed)");
  if (!existsSync("/sys/module/dm_verity") && !modprobe("dm-verity")) return no("the kernel has no dm-verity (no /sys/module/dm_verity and modprobe dm-verity failed)");
  return (cached = { ok: true });
}

/** For tests: forget the decision. */
export function resetMountSupport(): void {
  cached = undefined;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function modprobe(mod: string): boolean {
  return Bun.which("modprobe") !== null && Bun.spawnSync(["modprobe", mod], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

async function run(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.slice(0, 2).join(" ")} failed: ${err.trim().split("\n")[0] ?? `exit ${code}`}`);
}

/** The mount source and fs type at `dir`, from /proc/self/mountinfo (the last mount there wins). */
function mountedAt(dir: string): { source: string; fstype: string } | null {
  let found: { source: string; fstype: string } | null = null;
  for (const line of safeRead("/proc/self/mountinfo").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const mountPoint = pre.split(" ")[4]?.replace(/\\040/g, " ");
    if (mountPoint !== dir) continue;
    const [fstype, source] = post.split(" ");
    found = { source, fstype };
  }
  return found;
}

/** The dm device name for an image: its app and root hash, so a new version never reuses an old mapping. */
export const mapperName = (id: string, rootHash: string) => `weft-${id}-${rootHash.slice(0, 16)}`;

/**
 * Opens the image under dm-verity with the (already trusted) root hash and
 * mounts it read-only at `mountPoint`; a mount that is already there from the
 * same mapping is reused. Throws with the failing step.
 */
export async function mountImage(files: ImageFiles, id: string, rootHash: string, mountPoint: string): Promise<void> {
  const name = mapperName(id, rootHash);
  const dev = `/dev/mapper/${name}`;
  const now = mountedAt(mountPoint);
  if (now?.fstype === "erofs" && (now.source === dev || now.source.endsWith(`/${name}`))) return;
  if (now) await run(["umount", mountPoint]);
  if (!existsSync(dev)) await run(["veritysetup", "open", files.image, name, files.verity, rootHash]);
  await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  await run(["mount", "-t", "erofs", "-o", "ro,nodev,nosuid", dev, mountPoint]);
}

/** Unmounts and closes whatever weft mounted for `id` at `mountPoint` (for uninstall and upgrade); silent when nothing is mounted. */
export async function unmountImage(mountPoint: string): Promise<void> {
  const now = mountedAt(mountPoint);
  if (!now) return;
  await run(["umount", mountPoint]);
  const name = now.source.replace(/^\/dev\/mapper\//, "");
  if (name.startsWith("weft-")) await run(["veritysetup", "close", name]).catch(() => {});
}
