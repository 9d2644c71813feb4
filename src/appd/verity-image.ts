// Verified app images: a package as a read-only EROFS image, a dm-verity hash
// tree over it, and a signed root hash (docs/packages.md, "Verified images").
//
//   <id>.erofs                 the package's files (mkfs.erofs, reproducible)
//   <id>.erofs.verity          the hash tree with its superblock (veritysetup format 1)
//   <id>.erofs.roothash        the root hash, 64 hex chars (veritysetup --root-hash-file)
//   <id>.erofs.roothash.sig    Ed25519 over SHA-256 of the image descriptor (below), 128 hex
//
// The signature binds the root hash AND the tree's parameters: the signed
// message is the descriptor text built from the hash file's superblock and
// the root hash, so nothing the kernel or weft uses to check the data is
// left unsigned. The keys are the package signing keys (signature.ts) and
// the trusted keys are the same directories.
import { chmod, lstat, mkdir, mkdtemp, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { ErofsError, readErofs, type ErofsTree } from "./erofs.ts";
import { checkPackage, PackageError } from "./manifest.ts";
import { signDigest, trustedKeyDirs, type TrustedKey, verifyDigest, walkPackage } from "./signature.ts";
import { buildHashFile, decodeSuperblock, parseRootHash, toHex, VerityError, type VerityParams, verifyHashTree } from "./verity.ts";

export const IMAGE_SUFFIX = ".erofs";
/** Images larger than this are refused (they are read whole into memory to be verified). */
export const MAX_IMAGE_BYTES = 1 << 30;

export interface ImageFiles {
  image: string;
  verity: string;
  rootHash: string;
  signature: string;
}

/** The files that travel with an image, named after it. */
export function imageFiles(image: string): ImageFiles {
  return { image, verity: `${image}.verity`, rootHash: `${image}.roothash`, signature: `${image}.roothash.sig` };
}

export const isImage = (path: string) => path.endsWith(IMAGE_SUFFIX);

/** Runs a tool; throws one line (its stderr's first) on failure. */
async function tool(argv: string[], what: string, hint: string): Promise<void> {
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  } catch (err) {
    throw new Error(`${what}: cannot run ${argv[0]} (${(err as Error).message}); ${hint}`);
  }
  const [, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${what}: ${argv[0]} failed: ${errText.split("\n").find((l) => l.trim()) ?? `exit ${code}`}`);
}

// ---------------------------------------------------------------------------
// Building

/**
 * Makes `<id>.erofs` from a package directory. The package is checked first;
 * its files are staged with the store's modes (0644/0755) so the source's
 * umask does not leak in, and mkfs.erofs gets a fixed time (0), owner (root),
 * no xattrs and a UUID derived from the package's §2 listing: the same
 * package always gives the same image, byte for byte.
 */
export async function buildImage(dir: string, out?: string): Promise<{ file: string; id: string; bytes: number; files: number }> {
  const check = await checkPackage(dir);
  if (!check.manifest || check.problems.length) throw new PackageError(check.problems);
  const id = check.manifest.id;
  const walk = await walkPackage(dir);
  if (walk.problems.length) throw new PackageError(walk.problems);
  const file = resolve(out ?? `${id}${IMAGE_SUFFIX}`);
  const tmp = await mkdtemp(join(tmpdir(), "weft-image-"));
  try {
    const stage = join(tmp, id);
    await mkdir(stage, { mode: 0o755 });
    for (const d of walk.dirs) await mkdir(join(stage, d), { mode: 0o755 });
    const listing = new Bun.CryptoHasher("sha256");
    // signature.sig (left out of the walk) travels in the image too: the package stays §2-signed inside.
    const sig = join(dir, "signature.sig");
    const files = (await lstat(sig).catch(() => null))?.isFile() ? [...walk.files, "signature.sig"] : walk.files;
    for (const f of files) {
      const bytes = await Bun.file(join(dir, f)).bytes();
      await writeFile(join(stage, f), bytes, { mode: 0o644 });
      await chmod(join(stage, f), 0o644);
      listing.update(`${f}\t${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}\n`);
    }
    for (const d of ["", ...walk.dirs]) await chmod(join(stage, d), 0o755);
    const u = listing.digest("hex");
    const uuid = `${u.slice(0, 8)}-${u.slice(8, 12)}-4${u.slice(13, 16)}-${((Number.parseInt(u[16], 16) & 3) | 8).toString(16)}${u.slice(17, 20)}-${u.slice(20, 32)}`;
    const raw = join(tmp, "image");
    await tool(["mkfs.erofs", "-T0", `-U${uuid}`, "--all-root", "-x", "-1", "--quiet", raw, stage], file, "install erofs-utils (apt-get install erofs-utils)");
    // dm-verity hashes whole 4 KiB blocks; mkfs.erofs writes whole blocks, but make sure.
    const size = (await stat(raw)).size;
    if (size % 4096) {
      const fh = await open(raw, "r+");
      await fh.truncate(size + 4096 - (size % 4096));
      await fh.close();
    }
    await rename(raw, file).catch(async () => {
      await writeFile(file, await Bun.file(raw).bytes());
    });
    return { file, id, bytes: (await stat(file)).size, files: files.length };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The text whose SHA-256 the root hash signature signs: the root hash and every parameter of the tree. */
export function imageDescriptor(p: VerityParams, rootHash: Uint8Array): string {
  return [
    "weft verified image 1",
    `root-hash ${toHex(rootHash)}`,
    "hash sha256",
    "hash-type 1",
    `data-block-size ${p.dataBlockSize}`,
    `hash-block-size ${p.hashBlockSize}`,
    `data-blocks ${p.dataBlocks}`,
    `salt ${toHex(p.salt)}`,
    "",
  ].join("\n");
}

const descriptorDigest = (p: VerityParams, rootHash: Uint8Array) => new Uint8Array(new Bun.CryptoHasher("sha256").update(imageDescriptor(p, rootHash)).digest());

/** Writes `<img>.verity` and `<img>.roothash` (and `.roothash.sig` with a key): what `veritysetup format` makes, reproducibly. */
export async function buildVerity(image: string, opts: { seedHex?: string } = {}): Promise<{ files: ImageFiles; rootHash: string; params: VerityParams; signed: boolean }> {
  const files = imageFiles(image);
  let built: ReturnType<typeof buildHashFile>;
  try {
    built = buildHashFile(await readImageBytes(image));
  } catch (err) {
    throw new Error(`${image}: ${(err as Error).message}`);
  }
  const { hashFile, rootHash, params } = built;
  await writeAtomically(files.verity, hashFile);
  await writeAtomically(files.rootHash, toHex(rootHash));
  if (opts.seedHex) await writeAtomically(files.signature, await signDigest(opts.seedHex, descriptorDigest(params, rootHash)));
  else await rm(files.signature, { force: true }); // a signature of an earlier tree would only fail later
  return { files, rootHash: toHex(rootHash), params, signed: !!opts.seedHex };
}

/** Signs an image's root hash (its .verity and .roothash must exist): writes `<img>.roothash.sig`. */
export async function signImage(image: string, seedHex: string): Promise<{ rootHash: string }> {
  const files = imageFiles(image);
  const params = decodeSuperblock(await readSmall(files.verity, "hash file", 1 << 30));
  const rootHash = parseRootHash(new TextDecoder().decode(await readSmall(files.rootHash, "root hash file", 4096)));
  await writeAtomically(files.signature, await signDigest(seedHex, descriptorDigest(params, rootHash)));
  return { rootHash: toHex(rootHash) };
}

async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  await writeFile(tmp, bytes, { mode: 0o644 });
  await rename(tmp, path);
}

// ---------------------------------------------------------------------------
// Verifying

async function readSmall(path: string, what: string, max: number): Promise<Uint8Array> {
  const st = await lstat(path).catch(() => null);
  if (!st) throw new VerityError(`${basename(path)}: missing (the image's ${what}; make it with \`weft pack build-verity\`)`);
  if (!st.isFile()) throw new VerityError(`${basename(path)}: not a regular file`);
  if (st.size > max) throw new VerityError(`${basename(path)}: ${st.size} bytes, larger than a ${what} can be`);
  return Bun.file(path).bytes();
}

async function readImageBytes(image: string): Promise<Uint8Array> {
  const st = await lstat(image).catch(() => null);
  if (!st) throw new VerityError("no such file");
  if (!st.isFile()) throw new VerityError("not a regular file");
  if (st.size > MAX_IMAGE_BYTES) throw new VerityError(`${st.size} bytes; images over ${MAX_IMAGE_BYTES} bytes are refused`);
  return Bun.file(image).bytes();
}

export type ImageSignature = { status: "signed"; keyId: string; keyFile: string } | { status: "unsigned" };

export interface VerifiedImage {
  files: ImageFiles;
  rootHash: string;
  params: VerityParams;
  signature: ImageSignature;
  /** The package's files, read from the verified bytes. */
  tree: ErofsTree;
}

/**
 * Reads an image and its sidecar files and checks them, in this order: the
 * root hash's signature against the trusted keys (a signature that does not
 * verify is always refused; none at all is "unsigned", for the caller's
 * policy), then the whole hash tree recomputed in userspace against that
 * root hash, then the files read out of the very bytes just hashed. Throws
 * PackageError with one line per reason.
 */
export async function openImage(image: string, keys: readonly TrustedKey[]): Promise<VerifiedImage> {
  const files = imageFiles(image);
  const name = basename(image);
  try {
    const hashFile = await readSmall(files.verity, "hash file", MAX_IMAGE_BYTES);
    const params = decodeSuperblock(hashFile);
    const rootHash = parseRootHash(new TextDecoder().decode(await readSmall(files.rootHash, "root hash file", 4096)));
    const signature = await checkImageSignature(files, params, rootHash, keys);
    const data = await readImageBytes(image);
    verifyHashTree(data, hashFile, rootHash);
    const tree = readErofs(data);
    if (tree.problems.length) throw new PackageError(tree.problems.map((p) => `${name}: ${p}`));
    return { files, rootHash: toHex(rootHash), params, signature, tree };
  } catch (err) {
    if (err instanceof VerityError || err instanceof ErofsError) throw new PackageError([`${name}: ${err.message}`]);
    throw err;
  }
}

async function checkImageSignature(files: ImageFiles, p: VerityParams, rootHash: Uint8Array, keys: readonly TrustedKey[]): Promise<ImageSignature> {
  const st = await lstat(files.signature).catch(() => null);
  if (!st) return { status: "unsigned" };
  const name = basename(files.signature);
  const text = st.isFile() && st.size <= 1024 ? (await Bun.file(files.signature).text()).trim() : "";
  if (!/^[0-9a-fA-F]{128}$/.test(text)) throw new VerityError(`${name}: malformed (an Ed25519 signature is 128 hex characters)`);
  if (keys.length === 0) throw new VerityError(`${name}: the root hash is signed, but no trusted keys are installed (put the signer's .pub file in one of: ${trustedKeyDirs().join(", ")})`);
  const digest = descriptorDigest(p, rootHash);
  for (const k of keys) if (await verifyDigest(k.publicHex, digest, text)) return { status: "signed", keyId: k.id, keyFile: k.file };
  const tried = keys.map((k) => k.id).join(", ");
  throw new VerityError(
    `${name}: the root hash signature does not verify with ${keys.length === 1 ? `key ${tried}` : `any trusted key (tried ${tried})`}: ` +
      "the root hash or the hash tree's parameters were changed, or it was signed with another key",
  );
}

/** The SHA-256 of every file in a verified image, as the store's install record keeps them. */
export function imageFileHashes(tree: ErofsTree): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, bytes] of tree.files) out.set(path, new Bun.CryptoHasher("sha256").update(bytes).digest("hex"));
  return out;
}

/** Writes the image's files into `dest` (a new directory) with the store's modes, fsyncing each. */
export async function extractImage(v: VerifiedImage, dest: string): Promise<void> {
  await mkdir(dest, { mode: 0o755 });
  for (const d of v.tree.dirs) await mkdir(join(dest, d), { mode: 0o755 });
  for (const [path, bytes] of v.tree.files) {
    const fh = await open(join(dest, path), "wx", 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** For `weft pack info/verify`: a verified image's package unpacked into a temp dir for `fn`. */
export async function withImageDir<T>(image: string, keys: readonly TrustedKey[], fn: (dir: string, v: VerifiedImage) => Promise<T>): Promise<T> {
  const v = await openImage(image, keys);
  const tmp = await mkdtemp(join(tmpdir(), "weft-image-"));
  try {
    const dir = join(tmp, "pkg");
    await extractImage(v, dir);
    return await fn(dir, v);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
