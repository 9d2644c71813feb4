// Image layers: local directories and .tar / .tar.zst archives, merged per
// file into one tree (later layer wins, directories merge, nothing is ever
// deleted). A single directory layer is used where it is, without a copy.
//
// Archives are checked from their listing before anything is extracted
// (GNU tar + zstd, as bundles are), extracted from a private copy into a
// private scratch directory, and the result is walked again: what reaches a
// guest never holds a device, a FIFO, a hard link, or a symlink that could
// lead out of the tree.
import { copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { MAX_ENTRIES, MAX_UNPACKED_BYTES, tool, unquoteC } from "../appd/bundle.ts";

export class ImageError extends Error {
  override name = "ImageError";
}

/** The image is well-formed but its etc/ asks for more than a budget holds (a service that does not fit). */
export class BudgetError extends ImageError {}

export type LayerKind = "dir" | "tar" | "tar.zst";

export interface Layer {
  /** As given on the command line (for messages). */
  given: string;
  path: string;
  kind: LayerKind;
}

export interface MergedTree {
  /** The merged tree (the layer itself for a single directory). */
  root: string;
  /** True when `root` is the caller's own directory, used in place. */
  inPlace: boolean;
  layers: Layer[];
  /** Removes whatever was extracted or copied (never an in-place layer). */
  cleanup(): Promise<void>;
}

/** "1 layer" / "3 layers" — the count error messages name. */
export const layerCount = (n: number) => `${n} layer${n === 1 ? "" : "s"}`;

export async function classifyLayer(given: string, index: number): Promise<Layer> {
  const path = resolve(given);
  const st = await lstat(path).catch(() => null);
  const where = `layer ${index + 1} (${given})`;
  if (!st) throw new ImageError(`${where}: no such file or directory`);
  if (st.isDirectory()) return { given, path, kind: "dir" };
  if (!st.isFile()) throw new ImageError(`${where}: not a directory or a regular file`);
  if (given.endsWith(".tar.zst") || given.endsWith(".tzst")) return { given, path, kind: "tar.zst" };
  if (given.endsWith(".tar")) return { given, path, kind: "tar" };
  throw new ImageError(`${where}: a layer is a directory, a .tar or a .tar.zst archive`);
}

/**
 * Why a symlink at `linkPath` (relative to the layer root, `/`-separated)
 * pointing at `target` is refused, or null. Allowed: relative targets whose
 * `..` steps all come first and stay inside the tree. `..` after a name could
 * climb out through another symlink (`s/../..` with `s -> .`), so it is refused
 * even when the text looks harmless.
 */
export function symlinkProblem(linkPath: string, target: string): string | null {
  if (target === "") return "empty symlink target";
  if (target.startsWith("/")) return `symlink to an absolute path (${target})`;
  const parts = target.split("/").filter((p) => p !== "" && p !== ".");
  let ups = 0;
  while (ups < parts.length && parts[ups] === "..") ups++;
  if (parts.slice(ups).includes("..")) return `symlink target ${JSON.stringify(target)} has ".." after a name`;
  const depth = linkPath.split("/").length - 1; // directories above the link
  if (ups > depth) return `symlink escapes the image (${target})`;
  return null;
}

/** Walks a directory layer; throws one ImageError listing every refused entry. */
export async function checkTree(dir: string, where: string): Promise<void> {
  const problems: string[] = [];
  let entries = 0;
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (++entries > MAX_ENTRIES) throw new ImageError(`${where}: more than ${MAX_ENTRIES} entries`);
      if (e.isDirectory()) await walk(r);
      else if (e.isSymbolicLink()) {
        const why = symlinkProblem(r, await readlink(join(dir, r)));
        if (why) problems.push(`${r}: ${why}`);
      } else if (!e.isFile()) problems.push(`${r}: ${e.isFIFO() ? "FIFO" : e.isSocket() ? "socket" : "device file"} (an image holds files, directories and symlinks)`);
    }
  };
  await walk("");
  if (problems.length) throw new ImageError(`${where}: ${problems.slice(0, 10).join("; ")}${problems.length > 10 ? ` (and ${problems.length - 10} more)` : ""}`);
}

// `-rw-r--r-- 0/0   3 2026-01-01 08:59:05 "a/b.txt"` (+ ` -> "t"` or ` link to "t"`)
const LINE = /^(\S)\S*\s+\d+\/\d+\s+(\S+)\s+\S+\s+\S+\s+"((?:[^"\\]|\\.)*)"(?: -> "((?:[^"\\]|\\.)*)")?/;

/** Everything wrong with an archive's listing (empty = safe to extract). */
export async function checkArchive(file: string, kind: "tar" | "tar.zst", where: string): Promise<void> {
  const out = await tool(["tar", ...(kind === "tar.zst" ? ["--zstd"] : []), "-tvf", file, "--numeric-owner", "--full-time", "--quoting-style=c"], where);
  const problems: string[] = [];
  let total = 0;
  let count = 0;
  for (const line of out.split("\n")) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) throw new ImageError(`${where}: cannot read the archive listing (${JSON.stringify(line.slice(0, 80))})`);
    if (++count > MAX_ENTRIES) throw new ImageError(`${where}: more than ${MAX_ENTRIES} entries`);
    const path = unquoteC(m[3]);
    const shown = JSON.stringify(path);
    if (path.startsWith("/")) {
      problems.push(`${shown}: absolute path`);
      continue;
    }
    const parts = path.replace(/^(\.\/)+/, "").replace(/\/$/, "").split("/");
    if (parts.includes("..")) problems.push(`${shown}: path traversal (..)`);
    else if (parts.length === 1 && parts[0] === ".") continue; // the archive's own root
    else if (parts.some((p) => p === "" || p === ".")) problems.push(`${shown}: empty or "." path segment`);
    else if (m[1] === "l") {
      const why = symlinkProblem(parts.join("/"), unquoteC(m[4] ?? ""));
      if (why) problems.push(`${shown}: ${why}`);
    } else if (m[1] === "h") problems.push(`${shown}: hard link (not allowed in a layer)`);
    else if (m[1] === "c" || m[1] === "b") problems.push(`${shown}: device file`);
    else if (m[1] === "p") problems.push(`${shown}: FIFO`);
    else if (m[1] !== "-" && m[1] !== "d") problems.push(`${shown}: not a file, directory or symlink`);
    if (m[1] === "-" && /^\d+$/.test(m[2])) total += Number(m[2]);
  }
  if (total > MAX_UNPACKED_BYTES) problems.push(`unpacks to ${total} bytes (at most ${MAX_UNPACKED_BYTES})`);
  if (problems.length) throw new ImageError(`${where}: ${problems.slice(0, 10).join("; ")}${problems.length > 10 ? ` (and ${problems.length - 10} more)` : ""}`);
}

/** Checks and unpacks one archive into `dest` (a fresh private directory). */
async function unpack(layer: Layer, dest: string, scratch: string, where: string): Promise<void> {
  const copy = join(scratch, `copy-${basename(dest)}`);
  await copyFile(layer.path, copy); // the file we list is the file we extract
  try {
    await checkArchive(copy, layer.kind as "tar" | "tar.zst", where);
    await mkdir(dest, { mode: 0o700 });
    await tool(["tar", ...(layer.kind === "tar.zst" ? ["--zstd"] : []), "-xf", copy, "-C", dest, "--no-same-owner", "--no-same-permissions"], where);
  } finally {
    await rm(copy, { force: true });
  }
  await checkTree(dest, where); // defence in depth: what is on disk, not only the listing
}

const kindOf = (st: { isDirectory(): boolean; isSymbolicLink(): boolean }) => (st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file");

/** Copies `src` over `dst`: files and symlinks replace, directories merge. */
async function mergeInto(src: string, dst: string, rel: string, where: string, owner: Map<string, number>, index: number): Promise<void> {
  for (const e of await readdir(join(src, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const from = join(src, r);
    const to = join(dst, r);
    const have = await lstat(to).catch(() => null);
    if (have && have.isDirectory() !== e.isDirectory())
      throw new ImageError(
        `${where}: "${r}" is a ${kindOf(e)} but ${owner.has(r) ? `layer ${owner.get(r)}` : "an earlier layer"} made it a ${kindOf(have)}; a later layer can replace files, not change a file into a directory or back (layers never delete)`,
      );
    if (e.isDirectory()) {
      if (!have) {
        await mkdir(to, { mode: 0o755 });
        owner.set(r, index);
      }
      await mergeInto(src, dst, r, where, owner, index);
      continue;
    }
    if (have) await unlink(to);
    if (e.isSymbolicLink()) await symlink(await readlink(from), to);
    else await copyFile(from, to);
    owner.set(r, index);
  }
}

/**
 * Opens the layers (checked, archives unpacked) and merges them in order.
 * `scratchParent` is where private copies go (default: the system temp dir).
 */
export async function mergeLayers(given: string[], scratchParent = tmpdir()): Promise<MergedTree> {
  if (!given.length) throw new ImageError("no layers given");
  const layers = await Promise.all(given.map((g, i) => classifyLayer(g, i)));
  const only = layers.length === 1 ? layers[0] : null;
  if (only?.kind === "dir") {
    await checkTree(only.path, `layer 1 (${only.given})`);
    return { root: only.path, inPlace: true, layers, cleanup: async () => {} };
  }
  const scratch = await mkdtemp(join(scratchParent, "weft-cell-"));
  const cleanup = () => rm(scratch, { recursive: true, force: true });
  try {
    const dirs: string[] = [];
    for (const [i, l] of layers.entries()) {
      const where = `layer ${i + 1} (${l.given})`;
      if (l.kind === "dir") {
        await checkTree(l.path, where);
        dirs.push(l.path);
      } else {
        const dest = join(scratch, `layer-${i + 1}`);
        await unpack(l, dest, scratch, where).catch((e) => {
          throw e instanceof ImageError ? e : new ImageError((e as Error).message);
        });
        dirs.push(dest);
      }
    }
    // One archive: its unpacked tree is already private; no second copy.
    if (dirs.length === 1) return { root: dirs[0], inPlace: false, layers, cleanup };
    const root = join(scratch, "root");
    await mkdir(root, { mode: 0o755 });
    const owner = new Map<string, number>();
    for (const [i, d] of dirs.entries()) await mergeInto(d, root, "", `layer ${i + 1} (${layers[i].given})`, owner, i + 1);
    return { root, inPlace: false, layers, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Merges an already-checked layer tree `src` over an existing merged tree (applying a layer to a running cell). */
export async function mergeOnto(src: string, dst: string, index: number, given: string): Promise<void> {
  const where = `layer ${index} (${given})`;
  // Conflicts first, so a refused layer changes nothing in the running tree.
  const check = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(src, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const have = await lstat(join(dst, r)).catch(() => null);
      if (have && have.isDirectory() !== e.isDirectory())
        throw new ImageError(`${where}: "${r}" is a ${kindOf(e)} but an earlier layer made it a ${kindOf(have)}; a later layer can replace files, not change a file into a directory or back (layers never delete)`);
      if (e.isDirectory() && have) await check(r);
    }
  };
  await check("");
  await mergeInto(src, dst, "", where, new Map(), index);
}
