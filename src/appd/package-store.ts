// The app store: where installed packages live (spec §1), how they get there
// atomically, and how the daemon finds and re-verifies one at launch.
//
// Layout of one store root:
//   <root>/<id>/                    an installed package; in the user's root
//                                   also the app's data at <id>/data (spec §1)
//   <root>/.weft/lock/<id>.lock     one install/uninstall of <id> at a time
//   <root>/.weft/records/<id>.json  what install saw: signature, key, file hashes
//   <root>/.weft/stage-<pid>-*/     work in progress (private, 0700)
//
// A package only ever appears under <id> by one rename of a directory that
// has already been copied, checked, verified and fsynced inside the same
// root; an upgrade moves the old version aside, renames the new one in, and
// removes the old. A crash at any point leaves either the old or the new
// version under <id>, never a mix (leftover stage dirs are swept later).
import { constants, lstatSync, readFileSync, statSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { unpackInto } from "./bundle.ts";
import { APP_ID_RE, checkPackage, MANIFEST_FILE, type Manifest, PackageError, parseManifest } from "./manifest.ts";
import { fileStamp, loadTrustedKeys, SIGNATURE_FILE, type SignatureStatus, type TrustedKey, type Verification, verifyPackage, walkPackageSync } from "./signature.ts";
import { isImage } from "./verity-image.ts";
import { checkImageLaunch, type ImageRecord, replaceStoredImage, type StagedImage, stageImage, storedImageStamps } from "./verity-store.ts";

/** The app's own data inside its directory in the user's store (spec §1); never part of the package. */
export const DATA_DIR = "data";
const STATE_DIR = ".weft";

// ---------------------------------------------------------------------------
// Roots

/** Spec §1: `$WEFT_APP_STORE` alone if set; else the user's then the system's. First root wins per id. */
export function appStoreRoots(): string[] {
  if (process.env.WEFT_APP_STORE) return [process.env.WEFT_APP_STORE];
  return [userStoreRoot(), "/usr/share/weft/apps"];
}

/** Where `weft pack install` puts packages by default, and where app data lives. */
export function userStoreRoot(): string {
  if (process.env.WEFT_APP_STORE) return process.env.WEFT_APP_STORE;
  const data = process.env.XDG_DATA_HOME || join(process.env.HOME || homedir(), ".local", "share");
  return join(data, "weft", "apps");
}

/** The app's data directory, seen by the guest as /data (spec §1). */
export function appDataDir(id: string): string {
  assertAppId(id);
  return join(userStoreRoot(), id, DATA_DIR);
}

/** Throws a one-line error unless `id` is a valid app id (which also rules out any path trickery). */
export function assertAppId(id: string): void {
  if (!APP_ID_RE.test(id)) throw new PackageError([`"${id}" is not an app id (must match ${APP_ID_RE.source})`]);
}

// ---------------------------------------------------------------------------
// Records: what install saw, so launch can tell what changed since

export interface InstallRecord {
  id: string;
  version: string;
  installedAt: string;
  signature: SignatureStatus;
  keyId?: string;
  /** relpath → sha256 hex, as verified at install. */
  files: Record<string, string>;
  /** Installed from a verified image (verity-store.ts): launches check the image, not signature.sig. */
  image?: ImageRecord;
}

const recordPath = (root: string, id: string) => join(root, STATE_DIR, "records", `${id}.json`);

export async function readRecord(root: string, id: string): Promise<InstallRecord | null> {
  try {
    const r = JSON.parse(await readFile(recordPath(root, id), "utf8"));
    return r && r.id === id && typeof r.files === "object" ? (r as InstallRecord) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Listing and resolving

export interface InstalledApp {
  id: string;
  dir: string;
  root: string;
  /** Null when wapp.toml cannot be used; `problems` says why. */
  manifest: Manifest | null;
  problems: string[];
  /** Roots later in the search order that also hold this id (hidden by this one). */
  shadows: string[];
}

/** The ids present in one root: directories named like an app id that hold a wapp.toml (a dir holding only data/ is not an app). */
async function idsIn(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const ids: string[] = [];
  for (const name of names.sort()) {
    if (!APP_ID_RE.test(name)) continue;
    const st = await lstat(join(root, name, MANIFEST_FILE)).catch(() => null);
    if (st?.isFile() && (await lstat(join(root, name))).isDirectory()) ids.push(name);
  }
  return ids;
}

async function describe(root: string, id: string, shadows: string[]): Promise<InstalledApp> {
  const dir = join(root, id);
  const { manifest, problems } = parseManifest(await readFile(join(dir, MANIFEST_FILE), "utf8"));
  if (manifest && manifest.id !== id) problems.push(`${MANIFEST_FILE}: [package].id "${manifest.id}" does not match its directory ${dir}`);
  return { id, dir, root, manifest: problems.length ? null : manifest, problems, shadows };
}

/**
 * Every installed app, sorted by id, each from the first root that has it.
 * Reads only each wapp.toml (cheap enough for every QUERY_INSTALLED_APPS).
 */
export async function listInstalled(roots = appStoreRoots()): Promise<InstalledApp[]> {
  const found = new Map<string, { root: string; shadows: string[] }>();
  for (const root of roots)
    for (const id of await idsIn(root)) {
      const seen = found.get(id);
      if (seen) seen.shadows.push(root);
      else found.set(id, { root, shadows: [] });
    }
  const ids = [...found.keys()].sort();
  return Promise.all(ids.map((id) => describe(found.get(id)!.root, id, found.get(id)!.shadows)));
}

/**
 * The package for `id` from the first root that has it, fully checked
 * (files and wapp.toml); null if no root has it; a PackageError if the
 * installed package is broken.
 */
export async function resolveApp(id: string, roots = appStoreRoots()): Promise<{ id: string; dir: string; root: string; manifest: Manifest } | null> {
  assertAppId(id);
  for (const root of roots) {
    const dir = join(root, id);
    if (!(await lstat(join(dir, MANIFEST_FILE)).catch(() => null))) continue;
    const r = await checkPackage(dir, { exclude: [DATA_DIR] }); // the app's own data lives there
    const problems = r.problems;
    if (r.manifest && r.manifest.id !== id) problems.push(`${MANIFEST_FILE}: [package].id "${r.manifest.id}" does not match its directory ${dir}`);
    if (!r.manifest || problems.length) throw new PackageError(problems, id);
    return { id, dir, root, manifest: r.manifest };
  }
  return null;
}

export interface LaunchCheck {
  app: { id: string; dir: string; root: string; manifest: Manifest };
  verification: Verification;
}

/**
 * Launch checks that passed, by app id. A hit needs the same resolution (the
 * same root wins), the same trusted keys and the same stamp for every file
 * the check read: each package file, signature.sig and the install record.
 * Files are stamped as the hash cache does (inode, size, mtime, ctime), so a
 * hit is a walk and a stat per file — no manifest parse, no hashing, no
 * Ed25519 — and any change to any of them is a miss.
 */
const launchCache = new Map<string, { fingerprint: string; check: LaunchCheck }>();
const LAUNCH_CACHE_MAX = 1000;

function launchFingerprint(root: string, dir: string, id: string, keys: readonly TrustedKey[], allowUnsigned: boolean): string | null {
  let walk;
  try {
    walk = walkPackageSync(dir, [DATA_DIR]);
  } catch {
    return null;
  }
  if (walk.problems.length) return null;
  const parts = [root, String(allowUnsigned), keys.map((k) => `${k.id}=${k.publicHex}`).join(","), walk.dirs.join("/")];
  for (const f of walk.files) parts.push(f, fileStamp(join(dir, f)) ?? "gone");
  parts.push(fileStamp(join(dir, SIGNATURE_FILE)) ?? "-", fileStamp(recordPath(root, id)) ?? "-", ...storedImageStamps(root, id));
  return parts.join("\0");
}

/** The first root holding `id` (by its wapp.toml), synchronously: this is the launch hot path. */
function rootOf(id: string, roots: string[]): string | null {
  for (const root of roots) if (lstatSync(join(root, id, MANIFEST_FILE), { throwIfNoEntry: false })) return root;
  return null;
}

const lockPath = (root: string, id: string) => join(root, STATE_DIR, "lock", `${id}.lock`);

/**
 * Waits while an install or uninstall of `id` holds its lock in any root:
 * mid-swap, the app's directory is briefly missing or newer than its record.
 * A lock whose owner is gone does not count (the next install sweeps it).
 */
async function installSettled(id: string, roots: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    const held = roots.map((r) => lockPath(r, id)).find((p) => lockState(p).held);
    if (!held) return;
    if (Date.now() > deadline) throw new PackageError([`${id}: an install or uninstall has held ${held} for over ${timeoutMs / 1000} s; try again when it is done`], id);
    await Bun.sleep(wait);
  }
}

/**
 * What the daemon calls at LAUNCH_APP: resolve, check, and re-verify the
 * signature against the trusted keys. Refuses (PackageError) a tampered or
 * untrusted package, and an unsigned one unless it was installed with
 * --allow-unsigned (recorded at install) or `allowUnsigned` says so. Waits
 * for an install of the same id to finish, and checks again if one began
 * while it was checking.
 */
export async function checkLaunch(
  id: string,
  opts: { roots?: string[]; trustedKeys?: TrustedKey[]; allowUnsigned?: boolean; lockTimeoutMs?: number } = {},
): Promise<LaunchCheck> {
  assertAppId(id);
  const roots = opts.roots ?? appStoreRoots();
  const keys = opts.trustedKeys ?? (await loadTrustedKeys()).keys;
  const allowUnsigned = opts.allowUnsigned ?? false;
  await installSettled(id, roots, opts.lockTimeoutMs ?? 30_000);
  const root = rootOf(id, roots);
  const fingerprint = root ? launchFingerprint(root, join(root, id), id, keys, allowUnsigned) : null;
  const cached = launchCache.get(id);
  if (fingerprint && cached?.fingerprint === fingerprint) return cached.check;
  try {
    const check = await checkLaunchUncached(id, roots, keys, allowUnsigned);
    // Keep it only if nothing moved while we looked (an install may have begun).
    if (fingerprint && check.app.root === root && launchFingerprint(root, check.app.dir, id, keys, allowUnsigned) === fingerprint) {
      if (launchCache.size >= LAUNCH_CACHE_MAX) launchCache.clear();
      launchCache.set(id, { fingerprint, check });
    }
    return check;
  } catch (err) {
    launchCache.delete(id);
    // A swap that started mid-check looks like tampering; wait for it and judge the result.
    if (roots.some((r) => lstatSync(lockPath(r, id), { throwIfNoEntry: false }))) {
      await installSettled(id, roots, opts.lockTimeoutMs ?? 30_000);
      return checkLaunchUncached(id, roots, keys, allowUnsigned);
    }
    throw err;
  }
}

async function checkLaunchUncached(id: string, roots: string[], keys: readonly TrustedKey[], allowUnsigned: boolean): Promise<LaunchCheck> {
  const app = await resolveApp(id, roots);
  if (!app) throw new PackageError([`${id}: not installed (looked in ${roots.join(", ")})`]);
  const record = await readRecord(app.root, id);
  if (record?.image) return checkImageLaunch(app, record.image, keys, allowUnsigned);
  const v = await verifyPackage(app.dir, keys, { exclude: [DATA_DIR], recorded: record ? new Map(Object.entries(record.files)) : undefined });
  if (v.status === "invalid") throw new PackageError(v.problems.map((p) => `${id}: ${p}`), id);
  if (v.status === "unsigned" && !(allowUnsigned || record?.signature === "unsigned"))
    throw new PackageError([`${id}: unsigned, and it was not installed with --allow-unsigned`]);
  return { app, verification: v };
}

// ---------------------------------------------------------------------------
// Locks: one writer per id per root. The lock file holds the owner's pid; a
// lock whose owner is gone (a crash) is taken over.

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Who holds the lock file at `path`: held while it exists and its owner
 * lives. A lock without a pid (its owner died between creating and writing
 * it, or is writing right now) counts as held for 5 s, then as abandoned.
 * Synchronous: one stat and a read of a few bytes.
 */
function lockState(path: string): { held: boolean; owner: number } {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return { held: false, owner: 0 };
  let owner = 0;
  try {
    owner = Number.parseInt(readFileSync(path, "utf8"), 10) || 0;
  } catch {}
  if (owner > 0) return { held: alive(owner), owner };
  return { held: Date.now() - st.mtimeMs <= 5000, owner };
}

async function withLock<T>(root: string, id: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const path = lockPath(root, id);
  await mkdir(join(root, STATE_DIR, "lock"), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const { held, owner } = lockState(path);
    if (!held) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${id}: another install or uninstall is in progress (pid ${owner || "unknown"}, lock ${path})`);
    await Bun.sleep(wait);
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Copying with care: no symlinks followed, no FIFO ever opened, every file fsynced.

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function copyFileSafely(src: string, dest: string, rel: string): Promise<void> {
  // O_NONBLOCK: a FIFO swapped in after the directory listing must not hang us.
  const from = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err) => {
    throw new PackageError([`${rel}: cannot read (${(err as NodeJS.ErrnoException).code === "ELOOP" ? "is a symlink" : (err as Error).message})`]);
  });
  try {
    if (!(await from.stat()).isFile()) throw new PackageError([`${rel}: not a regular file`]);
    const to = await open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await from.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        await to.write(buf, 0, bytesRead);
      }
      await to.sync();
    } finally {
      await to.close();
    }
  } catch (err) {
    if (err instanceof PackageError) throw err;
    throw new PackageError([`${rel}: cannot copy (${(err as Error).message})`]);
  } finally {
    await from.close();
  }
}

/** Copies a package directory tree; refuses symlinks and special files as it meets them. */
async function copyPackage(src: string, dest: string, rel = ""): Promise<void> {
  await mkdir(dest, { mode: 0o755 });
  const entries = await readdir(src, { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymbolicLink()) throw new PackageError([`${r}: is a symlink (packages may not contain symlinks; one could point outside the package)`]);
    if (e.isDirectory()) await copyPackage(join(src, e.name), join(dest, e.name), r);
    else if (e.isFile()) await copyFileSafely(join(src, e.name), join(dest, e.name), r);
    else throw new PackageError([`${r}: is a special file (device, FIFO or socket); packages hold only regular files and directories`]);
  }
  await fsyncPath(dest);
}

/** Gives an unpacked tree the store's modes (dirs 0755, files 0644) and fsyncs it. */
async function settleTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await settleTree(p);
    else if (e.isFile()) await chmod(p, 0o644), await fsyncPath(p);
  }
  await fsyncPath(dir);
}

// ---------------------------------------------------------------------------
// Install and uninstall

export interface InstallOptions {
  /** The store root to install into (default: userStoreRoot()). */
  root?: string;
  /** Install an unsigned package (never a signed one that fails to verify). */
  allowUnsigned?: boolean;
  /** Default: loadTrustedKeys(). */
  trustedKeys?: TrustedKey[];
  lockTimeoutMs?: number;
  /** Test seam: runs after the staged copy is verified, before it is moved into place. */
  beforeCommit?: (stagedDir: string) => void | Promise<void>;
}

export interface InstallResult {
  id: string;
  version: string;
  dir: string;
  signature: SignatureStatus;
  keyId?: string;
  /** The version this install replaced, if any. */
  replaced?: string;
}

const isBundle = (path: string) => path.endsWith(".tar.zst");

/** The app id a leftover work dir belongs to, from the wapp.toml of either copy in it. */
async function leftoverId(dir: string): Promise<string | null> {
  for (const toml of [join(dir, "pkg", MANIFEST_FILE), join(dir, "old", MANIFEST_FILE)]) {
    const id = await readFile(toml, "utf8").then((t) => parseManifest(t).manifest?.id, () => undefined);
    if (id) return id;
  }
  return null;
}

/**
 * Repairs what a crashed install or uninstall of `id` left (its process is
 * gone): puts the previous version back if the swap was cut in half, and the
 * app's data back where it belongs; then removes the leftover. Called with
 * `id`'s lock held. Leftovers of other ids are removed only when they hold
 * nothing to put back.
 */
async function sweep(root: string, id: string): Promise<void> {
  const state = join(root, STATE_DIR);
  for (const name of await readdir(state).catch(() => [] as string[])) {
    const m = /^(stage|old)-(\d+)-/.exec(name);
    if (!m || Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
    const dir = join(state, name);
    const has = async (p: string) => !!(await lstat(join(dir, p)).catch(() => null));
    const restorable = (await has("old")) || (await has(`pkg/${DATA_DIR}`));
    if (restorable) {
      if ((await leftoverId(dir)) !== id) continue;
      const dest = join(root, id);
      if ((await has("old")) && !(await lstat(dest).catch(() => null))) await rename(join(dir, "old"), dest);
      if ((await has(`pkg/${DATA_DIR}`)) && !(await lstat(join(dest, DATA_DIR)).catch(() => null))) {
        await mkdir(dest, { recursive: true });
        await rename(join(dir, "pkg", DATA_DIR), join(dest, DATA_DIR));
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Installs a package directory or `.app.tar.zst` bundle into the store.
 * Everything is decided on a private copy inside the store root: the bytes
 * checked and verified are the bytes installed. Throws PackageError (with
 * every problem) or Error; on any failure nothing changes under <id>.
 */
export async function installPackage(src: string, opts: InstallOptions = {}): Promise<InstallResult> {
  const root = resolve(opts.root ?? userStoreRoot());
  const srcStat = await stat(src).catch(() => null);
  if (!srcStat) throw new Error(`${src}: no such file or directory`);
  await mkdir(join(root, STATE_DIR), { recursive: true });
  const stage = await mkdtemp(join(root, STATE_DIR, `stage-${process.pid}-`));
  await chmod(stage, 0o700);
  try {
    // 1. A private copy.
    const keys = opts.trustedKeys ?? (await loadTrustedKeys()).keys;
    let pkg: string;
    let image: StagedImage | undefined;
    if (srcStat.isDirectory()) {
      pkg = join(stage, "pkg");
      await copyPackage(resolve(src), pkg);
    } else if (srcStat.isFile() && isBundle(src)) {
      const unpacked = await unpackInto(src, stage);
      pkg = join(stage, "pkg");
      await rename(unpacked.dir, pkg);
      await rm(join(stage, "x"), { recursive: true, force: true });
      await settleTree(pkg);
    } else if (srcStat.isFile() && isImage(src)) {
      // Verified (root hash signature, hash tree) before anything is extracted from it.
      image = await stageImage(resolve(src), stage, keys, !!opts.allowUnsigned);
      pkg = image.pkg;
    } else throw new Error(`${src}: not a package directory, a ${".app.tar.zst"} bundle or a verified .erofs image`);

    // 2. Decide on the copy.
    const check = await checkPackage(pkg);
    if (!check.manifest || check.problems.length) throw new PackageError(check.problems);
    const m = check.manifest;
    assertAppId(m.id);
    const v = image?.verification ?? (await verifyPackage(pkg, keys));
    if (v.status === "invalid") throw new PackageError(v.problems, m.id);
    if (v.status === "unsigned" && !opts.allowUnsigned)
      throw new PackageError([`${m.id} is not signed; refusing to install it (use --allow-unsigned if you trust where it came from)`]);
    await opts.beforeCommit?.(pkg);

    // 3. Swap it in, one id at a time.
    return await withLock(root, m.id, opts.lockTimeoutMs ?? 30_000, async () => {
      await sweep(root, m.id);
      const dest = join(root, m.id);
      const existing = await lstat(dest).catch(() => null);
      if (existing && !existing.isDirectory()) throw new Error(`${dest} exists and is not a directory; remove it first`);
      let replaced: string | undefined;
      let aside: string | undefined;
      if (existing) {
        // (A directory holding only data/ is an app uninstalled with --keep-data.)
        replaced = await readFile(join(dest, MANIFEST_FILE), "utf8").then((t) => parseManifest(t).manifest?.version, () => undefined);
        // Keep the app's data: it moves into the new version before the swap.
        if (await lstat(join(dest, DATA_DIR)).catch(() => null)) await rename(join(dest, DATA_DIR), join(pkg, DATA_DIR));
        aside = join(stage, "old");
        await rename(dest, aside);
      }
      try {
        await rename(pkg, dest);
      } catch (err) {
        if (aside) {
          await rename(aside, dest).catch(() => {});
          await rename(join(pkg, DATA_DIR), join(dest, DATA_DIR)).catch(() => {});
        }
        throw err;
      }
      await fsyncPath(root);
      await replaceStoredImage(root, m.id, image?.files);
      const record: InstallRecord = {
        id: m.id,
        version: m.version,
        installedAt: new Date().toISOString(),
        signature: v.status,
        ...(v.keyId && { keyId: v.keyId }),
        files: Object.fromEntries(v.hashes ?? []),
        ...(image && { image: image.record }),
      };
      await writeAtomically(recordPath(root, m.id), `${JSON.stringify(record, null, 1)}\n`);
      return { id: m.id, version: m.version, dir: dest, signature: v.status, ...(v.keyId && { keyId: v.keyId }), ...(replaced !== undefined && { replaced }) };
    });
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Removes an installed package from `root` (default: the user's store).
 * With `keepData`, the app's data stays at <id>/data for a later reinstall.
 */
export async function uninstallPackage(id: string, opts: { root?: string; keepData?: boolean; lockTimeoutMs?: number } = {}): Promise<{ id: string; dir: string; version?: string }> {
  assertAppId(id);
  const root = resolve(opts.root ?? userStoreRoot());
  const dest = join(root, id);
  await mkdir(join(root, STATE_DIR), { recursive: true });
  return withLock(root, id, opts.lockTimeoutMs ?? 30_000, async () => {
    await sweep(root, id);
    if (!(await lstat(join(dest, MANIFEST_FILE)).catch(() => null))) {
      const elsewhere = (await listInstalled()).find((a) => a.id === id && a.root !== root);
      throw new Error(`${id} is not installed in ${root}${elsewhere ? ` (it is installed in ${elsewhere.root})` : ""}`);
    }
    const version = await readFile(join(dest, MANIFEST_FILE), "utf8").then((t) => parseManifest(t).manifest?.version, () => undefined);
    // A crash from here on leaves old-<pid>-*/pkg; the sweep puts its data/ back (data is never lost by accident).
    const trash = await mkdtemp(join(root, STATE_DIR, `old-${process.pid}-`));
    await rename(dest, join(trash, "pkg"));
    if (opts.keepData && (await lstat(join(trash, "pkg", DATA_DIR)).catch(() => null))) {
      await mkdir(dest);
      await rename(join(trash, "pkg", DATA_DIR), join(dest, DATA_DIR));
    }
    await fsyncPath(root);
    await rm(recordPath(root, id), { force: true });
    await replaceStoredImage(root, id);
    await rm(trash, { recursive: true, force: true });
    return { id, dir: dest, ...(version !== undefined && { version }) };
  });
}
