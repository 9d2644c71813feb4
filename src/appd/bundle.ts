// Bundles: `<id>.app.tar.zst`, a zstd-compressed tar whose only top-level
// entry is the directory `<id>/` (spec §2). The system's GNU tar (with the
// zstd CLI) reads and writes them. An archive is checked from its listing
// BEFORE anything is extracted, and extraction only ever happens into a
// fresh private directory, from a private copy of the archive (so what was
// checked is what gets extracted).
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { APP_ID_RE, checkPackage, PackageError } from "./manifest.ts";
import { byUtf8, walkPackage } from "./signature.ts";

export const BUNDLE_SUFFIX = ".app.tar.zst";
/** Refuse archives that would unpack to more than this (a zstd bomb fills the disk, not the package store). */
export const MAX_UNPACKED_BYTES = 1 << 30;
export const MAX_ENTRIES = 100_000;

export type EntryType = "file" | "dir" | "symlink" | "hardlink" | "device" | "fifo" | "other";

export interface BundleEntry {
  /** The name as stored in the archive (C escapes decoded). */
  path: string;
  type: EntryType;
  size: number;
}

const TYPES: Record<string, EntryType> = { "-": "file", d: "dir", l: "symlink", h: "hardlink", c: "device", b: "device", p: "fifo" };

/** Runs a tool to completion; throws its stderr's first line (one clear line) on failure. */
export async function tool(argv: string[], what: string): Promise<string> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  } catch (err) {
    throw new Error(`${what}: cannot run ${argv[0]} (${(err as Error).message}); install GNU tar and zstd`);
  }
  const [out, err, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
  if (code !== 0) {
    const line = err.split("\n").find((l) => l && !l.includes("Removing leading") && !l.startsWith("tar: Exiting")) ?? `${argv[0]} exited with ${code}`;
    if (/zstd: .*(unsupported format|unknown header|truncated|corrupted)/i.test(err) || /This does not look like a tar archive/.test(err))
      throw new Error(`${what}: not a zstd-compressed tar archive (${line.replace(/^.*zstd: (\S+: )?/, "zstd: ").trim()})`);
    throw new Error(`${what}: ${line.replace(/^tar: /, "").trim()}`);
  }
  return out;
}

/** Decodes GNU tar's --quoting-style=c (\\n, \\t, \\", \\ooo bytes, …) back to the stored name. */
export function unquoteC(s: string): string {
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34, "?": 63 };
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\") {
      bytes.push(...Buffer.from(s[i]));
      continue;
    }
    const c = s[++i];
    if (c in simple) bytes.push(simple[c]);
    else if (/[0-7]/.test(c)) {
      const oct = s.slice(i, i + 3).match(/^[0-7]{1,3}/)![0];
      bytes.push(Number.parseInt(oct, 8));
      i += oct.length - 1;
    } else bytes.push(92, ...Buffer.from(c ?? ""));
  }
  return Buffer.from(bytes).toString("utf8");
}

// `-rw-r--r-- 0/0   3 2026-01-01 08:59:05 "org.x.y/a.txt"` (+ ` -> "t"` or ` link to "t"`)
const LINE = /^(\S)\S*\s+\d+\/\d+\s+(\S+)\s+\S+\s+\S+\s+"((?:[^"\\]|\\.)*)"/;

/** Every entry of a bundle, without extracting anything. */
export async function listBundle(file: string, name = basename(file)): Promise<BundleEntry[]> {
  const out = await tool(["tar", "--zstd", "-tvf", file, "--numeric-owner", "--full-time", "--quoting-style=c"], name);
  const entries: BundleEntry[] = [];
  for (const line of out.split("\n")) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`${name}: cannot read the archive listing (${JSON.stringify(line.slice(0, 80))})`);
    entries.push({ path: unquoteC(m[3]), type: TYPES[m[1]] ?? "other", size: /^\d+$/.test(m[2]) ? Number(m[2]) : 0 });
  }
  return entries;
}

/**
 * What is wrong with a bundle's listing (empty = safe to extract), and the
 * app id its top-level directory names.
 */
export function checkListing(entries: BundleEntry[]): { id: string | null; problems: string[] } {
  const problems: string[] = [];
  const tops = new Set<string>();
  let total = 0;
  if (entries.length === 0) problems.push("the archive is empty");
  if (entries.length > MAX_ENTRIES) problems.push(`the archive has ${entries.length} entries (at most ${MAX_ENTRIES})`);
  for (const e of entries) {
    const shown = JSON.stringify(e.path);
    if (e.path.startsWith("/")) {
      problems.push(`${shown}: absolute path`);
      continue;
    }
    const parts = e.path.replace(/^\.\//, "").replace(/\/$/, "").split("/");
    if (parts.includes("..")) problems.push(`${shown}: path traversal (..)`);
    else if (parts.some((p) => p === "" || p === ".")) problems.push(`${shown}: empty or "." path segment`);
    else if (e.type === "symlink") problems.push(`${shown}: symlink (packages may not contain links)`);
    else if (e.type === "hardlink") problems.push(`${shown}: hard link (packages may not contain links)`);
    else if (e.type === "device" || e.type === "fifo") problems.push(`${shown}: ${e.type === "fifo" ? "FIFO" : "device file"}`);
    else if (e.type === "other") problems.push(`${shown}: not a regular file or directory`);
    else if (parts.length === 1 && e.type !== "dir") problems.push(`${shown}: a file at the top level (everything must be inside <id>/)`);
    else tops.add(parts[0]);
    total += e.type === "file" ? e.size : 0;
  }
  if (total > MAX_UNPACKED_BYTES) problems.push(`unpacks to ${total} bytes (at most ${MAX_UNPACKED_BYTES})`);
  if (tops.size > 1) problems.push(`more than one top-level directory (${[...tops].sort().join(", ")}); a bundle holds exactly <id>/`);
  const id = tops.size === 1 ? [...tops][0] : null;
  if (id !== null && !APP_ID_RE.test(id)) problems.push(`top-level directory "${id}" is not an app id (must match ${APP_ID_RE.source})`);
  return { id: problems.length ? null : id, problems };
}

/**
 * Unpacks a bundle into `parent/<id>` through a private scratch directory in
 * `parent` (so the final rename stays on one filesystem), after checking its
 * listing, and checks the unpacked package (files on disk and wapp.toml,
 * whose id must name the top-level directory). Refuses to replace an existing
 * `parent/<id>`. Returns the package directory. Nothing is left behind on failure.
 */
export async function extractBundle(file: string, parent: string): Promise<{ id: string; dir: string }> {
  const src = await stat(file).catch(() => null);
  if (!src?.isFile()) throw new Error(`${file}: no such bundle file`);
  await mkdir(parent, { recursive: true });
  const scratch = await mkdtemp(join(parent, ".unbundle-"));
  try {
    const { id, dir } = await unpackInto(file, scratch);
    const dest = join(parent, id);
    if (await stat(dest).catch(() => null)) throw new Error(`${dest} already exists`);
    await rename(dir, dest);
    return { id, dir: dest };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The checked unpack, into an existing private directory `scratch` (the
 * package store uses its staging dir). Returns `scratch/x/<id>`.
 */
export async function unpackInto(file: string, scratch: string): Promise<{ id: string; dir: string }> {
  const name = basename(file);
  // A private copy: the file we list is the file we extract.
  const copy = join(scratch, "bundle.tar.zst");
  await copyFile(file, copy);
  const listing = checkListing(await listBundle(copy, name));
  if (!listing.id) throw new PackageError(listing.problems.map((p) => `${name}: ${p}`), name);
  const out = join(scratch, "x");
  await mkdir(out, { mode: 0o700 });
  await tool(["tar", "--zstd", "-xf", copy, "-C", out, "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir"], name);
  await rm(copy);
  const dir = join(out, listing.id);
  // Defence in depth: look at what is really on disk, not only at the listing.
  const check = await checkPackage(dir);
  if (check.problems.length) throw new PackageError(check.problems.map((p) => `${name}: ${p}`), name);
  if (check.manifest?.id !== listing.id)
    throw new PackageError([`${name}: the top-level directory "${listing.id}" does not match [package].id "${check.manifest?.id}"`], name);
  return { id: listing.id, dir };
}

/**
 * Writes `<id>.app.tar.zst` for a valid package: entries `<id>/…` in signing
 * order, owner 0/0, mtime 0, so the same package always makes the same bytes.
 */
export async function createBundle(dir: string, out?: string): Promise<{ id: string; file: string; files: number }> {
  const check = await checkPackage(dir);
  if (!check.manifest || check.problems.length) throw new PackageError(check.problems);
  const id = check.manifest.id;
  const walk = await walkPackage(dir, []);
  // signature.sig is left out of the signing walk; a bundle carries it.
  const sig = await stat(join(dir, "signature.sig")).catch(() => null);
  const members = [...walk.dirs, ...walk.files, ...(sig?.isFile() ? ["signature.sig"] : [])].sort(byUtf8);
  const file = resolve(out ?? `${id}${BUNDLE_SUFFIX}`);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const scratch = await mkdtemp(join(tmpdir(), "weft-bundle-"));
  const list = join(scratch, "members");
  await Bun.write(list, members.map((m) => `${m}\0`).join(""));
  try {
    await tool(
      ["tar", "--zstd", "-cf", tmp, "-C", resolve(dir), "--null", "--no-recursion", "-T", list, "--transform", `s,^,${id}/,`,
        "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--mode=u+rw,go+r,go-w", "--format=gnu"],
      basename(file),
    );
    await rename(tmp, file);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(tmp, { force: true });
  }
  return { id, file, files: walk.files.length + (sig?.isFile() ? 1 : 0) };
}
