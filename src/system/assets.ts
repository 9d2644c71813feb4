// Where weft finds the files it ships with: the native libraries it dlopens
// and the asset trees (bundled apps, UI) it reads from disk.
//
// In a checkout they sit where scripts/setup.sh put them. In the single-file
// build (scripts/build.ts → dist/weft) they are embedded in the executable;
// the build's generated entry calls registerEmbedded() before anything else,
// and the first use of each file extracts it, once, by content hash, into a
// private cache dir:
//
//   $WEFT_CACHE_DIR or $XDG_CACHE_HOME/weft (default ~/.cache/weft)
//     lib/<sha256>/libwasmtime.so          one dir per library content
//     assets/<sha256 of the tree>/<tree>/…  one dir per asset tree content
//
// Every directory on that path that weft creates is 0700; each must be a real
// directory (not a symlink) owned by us and not writable by group or others,
// or weft refuses it. An existing extraction is trusted only after its
// SHA-256 matches the one recorded at build time; a mismatch is logged and
// the file extracted again (tmp file + rename, so concurrent starts agree).
// dlopen needs a real file, which is why libraries cannot be used in place.
import { chmodSync, closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { log } from "./log.ts";
import { cacheDir } from "./paths.ts";

export const ROOT = join(import.meta.dir, "..", "..");

/** Checkout-relative paths of the native libraries, by the name weft asks for. */
export const LIBRARIES: Record<string, string> = {
  "libwasmtime.so": "vendor/wasmtime/libwasmtime.so",
  "libweft_native.so": "build/libweft_native.so",
};

/** Packages installed into an empty store on first start. */
export const BUNDLED_APPS = ["examples/apps/hello", "examples/apps/counter", "examples/apps/notes", "examples/apps/fetcher"];

/** The public key the bundled apps are signed with (made by scripts/build-examples.sh; trusted when they are installed). */
export const BUNDLED_KEY = "examples/keys/weft-examples.pub";

/** Checkout-relative asset trees the single-file build embeds (missing ones are skipped). */
export const ASSET_TREES = [...BUNDLED_APPS, "examples/keys", "ui"];

/**
 * Build by-products inside asset trees that are not shipped. Everything else
 * is: a bundled app's signature covers every file of its package (its
 * source included), so leaving one out would make it fail verification.
 */
export const ASSET_EXCLUDE = /\.(o|tmp)$/;

/** One embedded file, as the build recorded it. */
export interface EmbeddedFile {
  /** Checkout-relative path, e.g. "vendor/wasmtime/libwasmtime.so". */
  path: string;
  /** Where Bun.file() reads it inside the executable. */
  embedded: string;
  sha256: string;
  size: number;
  mode: number;
}

export interface EmbeddedManifest {
  /** `git describe` of the tree it was built from ("unknown" outside git). */
  commit: string;
  builtAt: string;
  files: EmbeddedFile[];
}

let embedded: EmbeddedManifest | null = null;
const byPath = new Map<string, EmbeddedFile>();
const resolved = new Map<string, string>();

/** Called first thing by the single-file build's entry (scripts/build.ts). */
export function registerEmbedded(m: EmbeddedManifest): void {
  embedded = m;
  for (const f of m.files) byPath.set(f.path, f);
}

/** Build facts of the single-file executable; null when running from a checkout. */
export function buildInfo(): { commit: string; builtAt: string } | null {
  return embedded && { commit: embedded.commit, builtAt: embedded.builtAt };
}

/** What extraction cost this process (bytes hashed, bytes written, ms); WEFT_LOG=debug logs each file. */
export const extractionStats = { verifiedBytes: 0, writtenBytes: 0, ms: 0 };

export function libraryPath(name: keyof typeof LIBRARIES | string): string {
  const rel = LIBRARIES[name];
  if (!rel) throw new Error(`unknown bundled library ${name}`);
  if (!embedded) return join(ROOT, rel);
  const hit = resolved.get(rel);
  if (hit) return hit;
  const f = byPath.get(rel);
  if (!f) throw new Error(`${name} is not embedded in this build`);
  const t0 = performance.now();
  const dir = privateDir(cacheDir(), "lib", f.sha256);
  const out = join(dir, name);
  const wrote = materialize(f, out);
  const ms = performance.now() - t0;
  extractionStats.ms += ms;
  log.debug(`${wrote ? "extracted" : "verified"} ${out} (${(f.size / 1e6).toFixed(1)} MB) in ${ms.toFixed(1)} ms`);
  resolved.set(rel, out);
  return out;
}

/** A real directory holding the asset tree `rel` (e.g. "examples/apps/hello"). */
export function assetDir(rel: string): string {
  if (!embedded) return join(ROOT, rel);
  const hit = resolved.get(rel);
  if (hit) return hit;
  const files = embedded.files.filter((f) => f.path.startsWith(rel + "/"));
  if (!files.length) throw new Error(`asset tree ${rel} is not embedded in this build`);
  const t0 = performance.now();
  const h = new Bun.CryptoHasher("sha256");
  for (const f of files) h.update(`${f.path}\0${f.sha256}\0${f.mode}\n`);
  const base = privateDir(cacheDir(), "assets", h.digest("hex"));
  for (const f of files) {
    const parts = f.path.split("/");
    let dir = base;
    for (const p of parts.slice(0, -1)) dir = privateDir(dir, p);
    materialize(f, join(dir, parts[parts.length - 1]));
  }
  extractionStats.ms += performance.now() - t0;
  const out = join(base, rel);
  resolved.set(rel, out);
  return out;
}

/** The bundled app package dirs (real directories). */
export function bundledAppDirs(): string[] {
  return BUNDLED_APPS.filter((rel) => !embedded || embedded.files.some((f) => f.path.startsWith(rel + "/"))).map(assetDir);
}

/** The bundled apps' signing key (a real file), or null when this build or checkout has none. */
export function bundledKeyFile(): string | null {
  const dir = BUNDLED_KEY.slice(0, BUNDLED_KEY.lastIndexOf("/"));
  if (embedded && !embedded.files.some((f) => f.path === BUNDLED_KEY)) return null;
  const path = join(assetDir(dir), BUNDLED_KEY.slice(dir.length + 1));
  return embedded || existsSync(path) ? path : null;
}

// ---- extraction ----------------------------------------------------------------

/** mkdir -p base/...parts at 0700, checking every level weft relies on. */
function privateDir(base: string, ...parts: string[]): string {
  let dir = base;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivate(dir);
  for (const p of parts) {
    dir = join(dir, p);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    checkPrivate(dir);
  }
  return dir;
}

function checkPrivate(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory (a symlink?); refusing to extract weft's libraries there`);
  if (st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not ${uid}; refusing to extract weft's libraries there`);
  if (st.mode & 0o022) throw new Error(`${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); refusing to extract weft's libraries there`);
}

function sha256File(path: string): string | null {
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return null;
    const h = new Bun.CryptoHasher("sha256");
    // mmap: no copy of a 25 MB library into the heap just to hash it.
    if (st.size > 0) h.update(Bun.mmap(path, { shared: false }));
    extractionStats.verifiedBytes += st.size;
    return h.digest("hex");
  } catch {
    return null;
  }
}

/** Makes `out` hold exactly `f`: verify what is there, else write it anew (then true). */
function materialize(f: EmbeddedFile, out: string): boolean {
  const have = sha256File(out);
  if (have === f.sha256) return false;
  if (have !== null) log.warn(`${out} does not match its recorded SHA-256 (${have.slice(0, 12)}… ≠ ${f.sha256.slice(0, 12)}…); extracting it again`);
  const bytes = readEmbedded(f);
  const got = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  if (got !== f.sha256) throw new Error(`embedded ${f.path} is corrupt (SHA-256 ${got} ≠ ${f.sha256}); rebuild weft`);
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, "wx", 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // Read-only afterwards: libraries and app files are never edited in place.
  chmodSync(tmp, f.mode & 0o100 ? 0o500 : 0o400);
  renameSync(tmp, out);
  extractionStats.writtenBytes += bytes.length;
  return true;
}

function readEmbedded(f: EmbeddedFile): Uint8Array {
  // node:fs reads embedded paths from the executable's own image.
  const buf = readFileSync(f.embedded);
  if (buf.length !== f.size) throw new Error(`embedded ${f.path}: read ${buf.length} of ${f.size} bytes`);
  return buf;
}
