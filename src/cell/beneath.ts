// Files of a directory capability, opened by the kernel *beneath* it.
//
// Checking a path (realpath, "is it inside?") and then opening it is a race:
// between the two a process with write access to the directory can swap a
// component for a symlink that leads out. So nothing here resolves a guest's
// path in JS: the grant's directory is opened once per call and every guest
// path is opened relative to that fd with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS): the kernel refuses (EXDEV) any resolution that
// would leave the directory, at the moment of the open. A narrowed grant's
// subdirectory (fixed at spawn, symlink-free) is opened with
// RESOLVE_NO_SYMLINKS too, so a later swap of it fails instead of moving it.
// Everything after the open works on the fd; opens are O_NONBLOCK so a FIFO
// never blocks the loop, and only regular files (directories for list) pass.
import { closeSync, constants, fstatSync, openSync, read, readdir, writeFile } from "node:fs";
import { posix } from "node:path";
import { promisify } from "node:util";
import { errnoName, openat2, RESOLVE } from "../../ffi/libc.ts";
import { CapError, type Grant } from "./caps.ts";

type DirGrant = Grant & { kind: "dir" };

const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_DIRECTORY, O_NONBLOCK } = constants;
const EXDEV = 18;
const ELOOP = 40;
const ENOSYS = 38;

const readAt = promisify(read) as (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => Promise<{ bytesRead: number }>;
const writeFd = promisify(writeFile) as (fd: number, data: Uint8Array) => Promise<void>;
const readdirAsync = promisify(readdir) as (path: string) => Promise<string[]>;

/** The guest's path, normalised; `..` out of it and absolute paths are refused before anything is opened. */
function relative(path: string): string {
  const n = posix.normalize(path === "" ? "." : path);
  if (n.startsWith("/") || n === ".." || n.startsWith("../")) throw new CapError(`"${path}" is outside the directory`);
  return n;
}

function openError(path: string, errno: number): CapError {
  if (errno === EXDEV) return new CapError(`"${path}" leads outside the directory`);
  if (errno === ENOSYS) return new CapError(`${path}: this kernel has no openat2 (Linux 5.6 or later is needed to confine paths)`);
  return new CapError(`${path}: ${errnoName(errno)}`);
}

/** The grant's directory as an fd (its narrowed subdirectory, if any). The caller closes it. */
function openRoot(g: DirGrant): number {
  let root: number;
  try {
    root = openSync(g.host, O_RDONLY | O_DIRECTORY);
  } catch (e) {
    throw new CapError(`the directory of this capability is gone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!g.sub) return root;
  const fd = openat2(root, g.sub, O_RDONLY | O_DIRECTORY, 0, RESOLVE.beneath | RESOLVE.noMagicLinks | RESOLVE.noSymlinks);
  closeSync(root);
  if (fd === -ELOOP || fd === -EXDEV) throw new CapError(`the subdirectory "${g.sub}" of this capability was replaced by a symlink`);
  if (fd < 0) throw new CapError(`the subdirectory "${g.sub}" of this capability is gone (${errnoName(-fd)})`);
  return fd;
}

/** Opens `path` beneath the grant; `kind` says what it must be. */
function openBeneath(g: DirGrant, path: string, flags: number, kind: "file" | "dir"): number {
  const rel = relative(path);
  const root = openRoot(g);
  let fd: number;
  try {
    fd = openat2(root, rel, flags | O_NONBLOCK, flags & O_CREAT ? 0o644 : 0, RESOLVE.beneath | RESOLVE.noMagicLinks); // openat2 wants mode 0 without O_CREAT
  } finally {
    closeSync(root);
  }
  if (fd < 0) throw openError(path, -fd);
  const st = fstatSync(fd);
  if (kind === "file" ? !st.isFile() : !st.isDirectory()) {
    closeSync(fd);
    throw new CapError(`${path}: not a ${kind === "file" ? "regular file" : "directory"}`);
  }
  return fd;
}

/**
 * Reads to the end, never holding more than `max` + 1 bytes: the size fstat
 * gave is only a hint (the file can grow while it is read — another process
 * of the cell may be appending to it — and procfs files say 0).
 */
async function readAtMost(fd: number, path: string, hint: number, max: number): Promise<Uint8Array> {
  let buf = new Uint8Array(Math.min(Math.max(hint, 64 << 10), max) + 1);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (n > max) throw new CapError(`${path}: more than ${max} bytes (at most ${max})`);
      const more = new Uint8Array(Math.min(buf.length * 2, max + 1));
      more.set(buf);
      buf = more;
    }
    const { bytesRead } = await readAt(fd, buf, n, buf.length - n, n);
    if (bytesRead === 0) return buf.subarray(0, n);
    n += bytesRead;
  }
}

/** The file's bytes; refuses files over `max` bytes (before reading them, when their size says so). */
export async function readBeneath(g: DirGrant, path: string, max = Infinity): Promise<Uint8Array> {
  const fd = openBeneath(g, path, O_RDONLY, "file");
  try {
    const size = fstatSync(fd).size;
    if (size > max) throw new CapError(`${path}: ${size} bytes (at most ${max})`);
    return await readAtMost(fd, path, size, max);
  } catch (e) {
    throw e instanceof CapError ? e : new CapError(`${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

export async function writeBeneath(g: DirGrant, path: string, data: Uint8Array): Promise<void> {
  const fd = openBeneath(g, path, O_WRONLY | O_CREAT | O_TRUNC, "file");
  try {
    await writeFd(fd, data);
  } catch (e) {
    throw new CapError(`${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Entry names, sorted. */
export async function listBeneath(g: DirGrant, path: string): Promise<string[]> {
  const fd = openBeneath(g, path, O_RDONLY | O_DIRECTORY, "dir");
  try {
    // The opened directory itself (the fd's /proc link), not the path again.
    return (await readdirAsync(`/proc/self/fd/${fd}`)).sort();
  } catch (e) {
    throw new CapError(`${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
