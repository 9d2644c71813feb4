// Package signatures exactly as spec §2 defines them, and the trusted keys
// they are checked against.
//
//   listing = for each file except the top-level signature.sig, sorted by its
//             `/`-separated relative path: `<relpath>\t<sha256 hex>\n`
//   digest  = SHA-256(listing)            (32 bytes)
//   sig     = Ed25519(private seed, digest), stored as 128 hex chars
//
// Keys are files of 64 hex chars: weft-sign.key (the 32-byte private seed)
// and weft-sign.pub (the 32-byte public key). WebCrypto does the Ed25519;
// Bun.CryptoHasher the SHA-256. WEFT never verified; weft verifies at install
// and again at launch.
import { type BigIntStats, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, lstat, readdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";

export const SIGNATURE_FILE = "signature.sig";
export const PRIVATE_KEY_FILE = "weft-sign.key";
export const PUBLIC_KEY_FILE = "weft-sign.pub";
/** PKCS#8 prefix that wraps a raw 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

// ---------------------------------------------------------------------------
// The file list

export interface PackageWalk {
  /** Regular files, relative `/` paths, in signing order (UTF-8 byte order). */
  files: string[];
  dirs: string[];
  /** Entries that cannot be in a package: symlinks, devices, FIFOs, sockets, unsafe names. */
  problems: string[];
}

/** Sorts as Rust's `String` does (UTF-8 bytes), which differs from JS's UTF-16 order for astral characters. */
export const byUtf8 = (a: string, b: string): number =>
  // UTF-16 order is code point (= UTF-8 byte) order except across surrogates; only then pay for encoding.
  SURROGATE.test(a) || SURROGATE.test(b) ? Buffer.compare(Buffer.from(a), Buffer.from(b)) : a < b ? -1 : a > b ? 1 : 0;
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Lists a package's files for signing. Symlinks are refused (one could point
 * outside the package), as are special files and names with a tab or newline
 * (they would make the listing ambiguous). `exclude` names top-level entries
 * to skip besides signature.sig (the store skips the app's `data/`).
 *
 * Synchronous on purpose: every LAUNCH_APP walks its package, a package is a
 * handful of small directories on local storage, and one readdir costs a few
 * microseconds in-line against tens for a round trip through the thread pool.
 */
export function walkPackageSync(dir: string, exclude: readonly string[] = []): PackageWalk {
  const out: PackageWalk = { files: [], dirs: [], problems: [] };
  const visit = (rel: string) => {
    const entries = readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true });
    entries.sort((a, b) => byUtf8(a.name, b.name)); // problems come out in a stable order
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && (e.name === SIGNATURE_FILE || exclude.includes(e.name))) continue;
      if (/[\t\n\r]/.test(e.name)) out.problems.push(`${JSON.stringify(path)}: file names may not contain tabs or newlines`);
      else if (e.isSymbolicLink()) out.problems.push(`${path}: is a symlink (packages may not contain symlinks; one could point outside the package)`);
      else if (e.isDirectory()) out.dirs.push(path), visit(path);
      else if (e.isFile()) out.files.push(path);
      else out.problems.push(`${path}: is a special file (device, FIFO or socket); packages hold only regular files and directories`);
    }
  };
  visit("");
  out.files.sort(byUtf8);
  out.dirs.sort(byUtf8);
  return out;
}

export async function walkPackage(dir: string, exclude: readonly string[] = []): Promise<PackageWalk> {
  return walkPackageSync(dir, exclude);
}

/**
 * What any change to a file changes: its inode, size, mtime and ctime (ctime
 * moves on every write and every utimes, so restoring an old mtime does not
 * hide a change). Null when the path is gone.
 */
export function fileStamp(path: string): string | null {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? stampOf(st) : null;
}

const stampOf = (st: BigIntStats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/**
 * Hashes already computed, keyed by the file's stamp. Every LAUNCH_APP
 * re-verifies a package; this makes that a stat per file, not a read.
 */
const hashCache = new Map<string, { stamp: string; hash: string }>();
const HASH_CACHE_MAX = 10_000;
const SMALL_FILE = 8 << 20;

export async function sha256File(path: string): Promise<string> {
  const st = statSync(path, { bigint: true }); // throws ENOENT and friends as they are
  const stamp = stampOf(st);
  const hit = hashCache.get(path);
  if (hit?.stamp === stamp) return hit.hash;
  const h = new Bun.CryptoHasher("sha256");
  if (st.size < SMALL_FILE) h.update(await Bun.file(path).bytes());
  else for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  const hash = h.digest("hex");
  if (hashCache.size >= HASH_CACHE_MAX) hashCache.clear();
  hashCache.set(path, { stamp, hash });
  return hash;
}

export interface PackageDigest {
  /** relpath → sha256 hex, in signing order. */
  hashes: Map<string, string>;
  listing: string;
  digest: Uint8Array<ArrayBuffer>;
}

/** The §2 listing and its digest. Throws if the package has entries that cannot be signed. */
export async function packageDigest(dir: string, exclude: readonly string[] = []): Promise<PackageDigest> {
  const walk = await walkPackage(dir, exclude);
  if (walk.problems.length) throw new SignatureError(walk.problems);
  const hashes = new Map<string, string>();
  for (const f of walk.files) hashes.set(f, await sha256File(join(dir, f)));
  const listing = [...hashes].map(([f, h]) => `${f}\t${h}\n`).join("");
  const digest = new Bun.CryptoHasher("sha256").update(listing).digest() as Uint8Array;
  return { hashes, listing, digest: new Uint8Array(digest) };
}

export class SignatureError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
  }
}

// ---------------------------------------------------------------------------
// Keys

const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX128 = /^[0-9a-fA-F]{128}$/;

export interface KeyPair {
  /** The private seed, 64 hex chars. */
  seedHex: string;
  publicHex: string;
}

function importSeed(seedHex: string, extractable = false): Promise<CryptoKey> {
  const pkcs8 = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, "hex")]);
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, extractable, ["sign"]);
}

export async function generateKeyPair(): Promise<KeyPair> {
  const kp = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", kp.privateKey));
  const pub = Buffer.from(await crypto.subtle.exportKey("raw", kp.publicKey));
  return { seedHex: pkcs8.subarray(PKCS8_ED25519_PREFIX.length).toString("hex"), publicHex: pub.toString("hex") };
}

/** The public key that belongs to a private seed. */
export async function publicKeyOf(seedHex: string): Promise<string> {
  const jwk = await crypto.subtle.exportKey("jwk", await importSeed(seedHex, true));
  return Buffer.from(jwk.x as string, "base64url").toString("hex");
}

/** Reads a key file (64 hex chars, surrounding whitespace allowed); throws a one-line error naming the file. */
export async function readKeyFile(path: string): Promise<string> {
  return readKeyFileSync(path);
}

function readKeyFileSync(path: string): string {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`${path}: no such key file`);
  if (!st.isFile()) throw new Error(`${path}: not a regular file`);
  if (st.size > 4096) throw new Error(`${path}: not a key file (a key is 64 hex characters)`);
  const text = readFileSync(path, "utf8").trim();
  if (!HEX64.test(text)) throw new Error(`${path}: not a key file (a key is 64 hex characters, found ${text.length} characters)`);
  return text.toLowerCase();
}

/** Writes a new key pair into `dir` (key 0600, pub 0644); refuses to overwrite unless `force`. */
export async function writeKeyPair(dir: string, force = false): Promise<KeyPair & { keyFile: string; pubFile: string }> {
  const keyFile = join(dir, PRIVATE_KEY_FILE);
  const pubFile = join(dir, PUBLIC_KEY_FILE);
  if (!force) for (const f of [keyFile, pubFile]) if (await lstat(f).catch(() => null)) throw new Error(`${f} already exists (use --force to replace it)`);
  const kp = await generateKeyPair();
  // The private key never exists with looser permissions, even briefly.
  await writeFile(`${keyFile}.tmp`, kp.seedHex, { mode: 0o600 });
  await chmod(`${keyFile}.tmp`, 0o600);
  await rename(`${keyFile}.tmp`, keyFile);
  await writeFile(`${pubFile}.tmp`, kp.publicHex, { mode: 0o644 });
  await rename(`${pubFile}.tmp`, pubFile);
  return { ...kp, keyFile, pubFile };
}

/** A short, stable name for a public key in messages: the first 16 hex chars of its SHA-256. */
export function fingerprint(publicHex: string): string {
  return new Bun.CryptoHasher("sha256").update(Buffer.from(publicHex, "hex")).digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------------------
// Signing and verifying

/** Ed25519 over `message` with the private seed; 128 hex chars. */
export async function signDigest(seedHex: string, message: Uint8Array<ArrayBuffer>): Promise<string> {
  return Buffer.from(await crypto.subtle.sign("Ed25519", await importSeed(seedHex), message)).toString("hex");
}

/** Signs the package in place: writes signature.sig (exactly 128 hex chars). */
export async function signPackage(dir: string, seedHex: string): Promise<{ signatureHex: string; publicHex: string; files: number }> {
  const { digest, hashes } = await packageDigest(dir);
  const sig = await signDigest(seedHex, digest);
  const tmp = join(dir, `.${SIGNATURE_FILE}.tmp`);
  await writeFile(tmp, sig);
  await rename(tmp, join(dir, SIGNATURE_FILE));
  return { signatureHex: sig, publicHex: await publicKeyOf(seedHex), files: hashes.size };
}

/** (key, digest, signature) triples that verified: verification is a pure function, so a hit is as good as a check. */
const verified = new Set<string>();

export async function verifyDigest(publicHex: string, digest: Uint8Array<ArrayBuffer>, signatureHex: string): Promise<boolean> {
  const memo = `${publicHex}:${Buffer.from(digest).toString("hex")}:${signatureHex.toLowerCase()}`;
  if (verified.has(memo)) return true;
  const key = await crypto.subtle.importKey("raw", Buffer.from(publicHex, "hex"), { name: "Ed25519" }, false, ["verify"]);
  const ok = await crypto.subtle.verify("Ed25519", key, Buffer.from(signatureHex, "hex"), digest);
  if (ok) {
    if (verified.size >= 10_000) verified.clear();
    verified.add(memo);
  }
  return ok;
}

export interface TrustedKey {
  /** The file name without `.pub`, e.g. "weft-os" for weft-os.pub. */
  id: string;
  file: string;
  publicHex: string;
}

/** `$WEFT_TRUSTED_KEYS` (colon-separated) if set; else the system then the user keys dir. */
export function trustedKeyDirs(): string[] {
  const env = process.env.WEFT_TRUSTED_KEYS;
  if (env !== undefined) return env.split(":").filter(Boolean);
  const config = process.env.XDG_CONFIG_HOME || join(process.env.HOME || homedir(), ".config");
  return ["/etc/weft/trusted-keys", join(config, "weft", "trusted-keys")];
}

/** Every `*.pub` in the dirs; unreadable or malformed files become warnings, missing dirs are fine. */
export async function loadTrustedKeys(dirs = trustedKeyDirs()): Promise<{ keys: TrustedKey[]; warnings: string[] }> {
  // Synchronous inside: every launch loads the keys, and a keys dir is a few tiny files.
  const keys: TrustedKey[] = [];
  const warnings: string[] = [];
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {}
    for (const name of names.filter((n) => n.endsWith(".pub")).sort()) {
      const file = join(dir, name);
      try {
        keys.push({ id: basename(name, ".pub"), file, publicHex: readKeyFileSync(file) });
      } catch (err) {
        warnings.push(`trusted key ${(err as Error).message}; ignored`);
      }
    }
  }
  return { keys, warnings };
}

export type SignatureStatus = "signed" | "unsigned" | "invalid";

export interface Verification {
  status: SignatureStatus;
  /** Which trusted key verified it (status "signed"). */
  keyId?: string;
  keyFile?: string;
  /** Why it is invalid, one line each; empty otherwise. */
  problems: string[];
  /** The package's files and their hashes as found (absent when they could not be listed). */
  hashes?: Map<string, string>;
}

/** What changed between two file→hash maps, one line per file, sorted. */
export function describeChanges(expected: Map<string, string>, found: Map<string, string>, since: string): string[] {
  const lines: string[] = [];
  for (const [f, h] of found) {
    if (!expected.has(f)) lines.push(`${f}: added since ${since}`);
    else if (expected.get(f) !== h) lines.push(`${f}: changed since ${since}`);
  }
  for (const f of expected.keys()) if (!found.has(f)) lines.push(`${f}: removed since ${since}`);
  return lines.sort(byUtf8);
}

export interface VerifyOptions {
  /** Top-level names to leave out of the listing (the store passes ["data"]). */
  exclude?: readonly string[];
  /** The files and hashes recorded when the package was installed: lets a failure name the changed files. */
  recorded?: Map<string, string>;
}

/**
 * Checks a package's signature against trusted keys.
 * - "signed": signature.sig verifies with one of `keys` (keyId says which).
 * - "unsigned": there is no signature.sig (and, if `recorded` is given, no file changed since install).
 * - "invalid": anything else; `problems` says why.
 */
export async function verifyPackage(dir: string, keys: readonly TrustedKey[], opts: VerifyOptions = {}): Promise<Verification> {
  let d: PackageDigest;
  try {
    d = await packageDigest(dir, opts.exclude);
  } catch (err) {
    if (err instanceof SignatureError) return { status: "invalid", problems: err.problems };
    return { status: "invalid", problems: [`${dir}: cannot read the package: ${(err as Error).message}`] };
  }
  const changes = opts.recorded ? describeChanges(opts.recorded, d.hashes, "install") : [];
  const sigPath = join(dir, SIGNATURE_FILE);
  const st = await lstat(sigPath).catch(() => null);
  if (!st) {
    if (changes.length) return { status: "invalid", problems: ["unsigned package changed since install:", ...changes], hashes: d.hashes };
    return { status: "unsigned", problems: [], hashes: d.hashes };
  }
  if (!st.isFile()) return { status: "invalid", problems: [`${SIGNATURE_FILE}: not a regular file`], hashes: d.hashes };
  const text = st.size <= 1024 ? (await Bun.file(sigPath).text()).trim() : "";
  if (!HEX128.test(text))
    return { status: "invalid", problems: [`${SIGNATURE_FILE}: malformed (an Ed25519 signature is 128 hex characters)`], hashes: d.hashes };
  if (keys.length === 0)
    return {
      status: "invalid",
      problems: [`signed, but no trusted keys are installed (put the signer's .pub file in one of: ${trustedKeyDirs().join(", ")})`],
      hashes: d.hashes,
    };
  for (const k of keys) {
    if (await verifyDigest(k.publicHex, d.digest, text)) return { status: "signed", keyId: k.id, keyFile: k.file, problems: [], hashes: d.hashes };
  }
  const tried = keys.map((k) => k.id).join(", ");
  const problems = changes.length
    ? [`${SIGNATURE_FILE}: does not match the package's files (tried ${tried}):`, ...changes]
    : opts.recorded
      ? [
          `${SIGNATURE_FILE}: does not verify with ${keys.length === 1 ? `key ${tried}` : `any trusted key (tried ${tried})`}; ` +
            `the files are as installed, so signature.sig was replaced or the signer's key is no longer trusted`,
        ]
      : [
        `${SIGNATURE_FILE}: does not verify with ${keys.length === 1 ? `key ${tried}` : `any trusted key (tried ${tried})`}: ` +
          `files were changed, added or removed since signing, or it was signed with another key`,
      ];
  return { status: "invalid", problems, hashes: d.hashes };
}
