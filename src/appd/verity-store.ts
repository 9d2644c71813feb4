// Verified images in the app store: what `weft pack install FILE.erofs` adds
// to a directory install, and what a launch of such an app checks.
//
//   <root>/<id>/                          the package, extracted from the verified image
//   <root>/.weft/images/<id>.erofs{,.verity,.roothash,.roothash.sig}
//                                         the image and its sidecars, as verified at install
//   <root>/.weft/mnt/<id>/                where the image is mounted (root + dm-verity only)
//
// Install verifies the staged copy of the image (signature, then the whole
// hash tree in userspace), extracts the package from the verified bytes, and
// keeps the image. Every launch re-checks the image in userspace (cached
// while its files' inode/size/times stay the same), then runs the app from
// the dm-verity mount where the system allows it, and otherwise from the
// extracted copy — after checking that copy still holds exactly the image's
// files — with one log line saying why it did not mount.
import { copyFile, lstat, mkdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { log } from "../system/log.ts";
import { PackageError } from "./manifest.ts";
import { describeChanges, fileStamp, packageDigest, SIGNATURE_FILE, sha256File, type TrustedKey, type Verification } from "./signature.ts";
import { extractImage, IMAGE_SUFFIX, imageFileHashes, imageFiles, type ImageFiles, openImage, type VerifiedImage } from "./verity-image.ts";
import { mountImage, mountSupport, unmountImage } from "./verity-mount.ts";

/** What the install record keeps about an app installed from a verified image. */
export interface ImageRecord {
  rootHash: string;
  signature: "signed" | "unsigned";
  keyId?: string;
}

const STATE_DIR = ".weft";
const storedImage = (root: string, id: string) => join(root, STATE_DIR, "images", `${id}${IMAGE_SUFFIX}`);
export const imageMountPoint = (root: string, id: string) => join(root, STATE_DIR, "mnt", id);
const sidecars = (f: ImageFiles) => [f.image, f.verity, f.rootHash, f.signature];

export interface StagedImage {
  /** The extracted package. */
  pkg: string;
  files: ImageFiles;
  record: ImageRecord;
  verification: Verification;
}

/**
 * Copies the image and its sidecars into the private `stage`, verifies the
 * copies (so the bytes checked are the bytes kept), applies the unsigned
 * policy, and extracts the package into `stage/pkg`.
 */
export async function stageImage(src: string, stage: string, keys: readonly TrustedKey[], allowUnsigned: boolean): Promise<StagedImage> {
  const from = imageFiles(src);
  const files = imageFiles(join(stage, "image", `image${IMAGE_SUFFIX}`));
  await mkdir(join(stage, "image"), { mode: 0o700 });
  for (const [a, b] of sidecars(from).map((f, i) => [f, sidecars(files)[i]])) {
    const st = await lstat(a).catch(() => null);
    if (!st) continue; // openImage names what is missing
    if (!st.isFile()) throw new PackageError([`${a}: not a regular file`]);
    await copyFile(a, b);
  }
  const v = await openImage(files.image, keys).catch((err) => {
    // Name the file the user gave, not the stage copy.
    if (err instanceof PackageError) throw new PackageError(err.problems.map((p) => p.replaceAll(`image${IMAGE_SUFFIX}`, basename(src))));
    throw err;
  });
  if (v.signature.status === "unsigned" && !allowUnsigned)
    throw new PackageError([`${src}: the image's root hash is not signed (no ${basename(from.signature)}); refusing to install it (use --allow-unsigned if you trust where it came from)`]);
  const pkg = join(stage, "pkg");
  await extractImage(v, pkg);
  const { hashes } = await packageDigest(pkg);
  const sig = v.signature;
  return {
    pkg,
    files,
    record: { rootHash: v.rootHash, signature: sig.status, ...(sig.status === "signed" && { keyId: sig.keyId }) },
    verification: { status: sig.status, ...(sig.status === "signed" && { keyId: sig.keyId, keyFile: sig.keyFile }), problems: [], hashes },
  };
}

/**
 * Puts the store's image for `id` in order, under the id's lock: unmounts
 * and removes the previous one (an upgrade, a directory install over an
 * image install, an uninstall), then moves the staged one in, if any.
 */
export async function replaceStoredImage(root: string, id: string, staged?: ImageFiles): Promise<void> {
  await unmountImage(imageMountPoint(root, id)).catch((err) => log.warn(`${id}: could not unmount its old image: ${(err as Error).message}`));
  const kept = imageFiles(storedImage(root, id));
  for (const f of sidecars(kept)) await rm(f, { force: true });
  if (!staged) return;
  await mkdir(join(root, STATE_DIR, "images"), { recursive: true });
  for (const [a, b] of sidecars(staged).map((f, i) => [f, sidecars(kept)[i]])) if (await lstat(a).catch(() => null)) await rename(a, b);
}

// ---------------------------------------------------------------------------
// Launch

interface Checked {
  stamp: string;
  rootHash: string;
  signature: VerifiedImage["signature"];
  hashes: Map<string, string>;
}
/** Per image path: the last full check, valid while the files' stamps and the trusted keys are the same. */
const checkedImages = new Map<string, Checked>();
const fallbackLogged = new Set<string>();

/** What any change to the stored image or its sidecars changes (the store's launch cache includes it). */
export function storedImageStamps(root: string, id: string): string[] {
  return sidecars(imageFiles(storedImage(root, id))).map((f) => fileStamp(f) ?? "-");
}

function stampOf(files: ImageFiles, keys: readonly TrustedKey[]): string {
  return `${sidecars(files).map((f) => fileStamp(f) ?? "-").join("|")}|${keys.map((k) => `${k.id}=${k.publicHex}`).join(",")}`;
}

type LaunchApp = { id: string; dir: string; root: string };

/**
 * The launch check of an app installed from an image (the record says so):
 * the stored image verified in userspace against the root hash recorded at
 * install (and its signature against today's trusted keys), then the
 * directory to run it from. Throws PackageError with one line per reason.
 */
export async function checkImageLaunch<A extends LaunchApp>(app: A, image: ImageRecord, keys: readonly TrustedKey[], allowUnsigned: boolean): Promise<{ app: A; verification: Verification }> {
  const { id, root } = app;
  const files = imageFiles(storedImage(root, id));
  const stamp = stampOf(files, keys);
  let c = checkedImages.get(files.image);
  if (c?.stamp !== stamp) {
    checkedImages.delete(files.image);
    const v = await openImage(files.image, keys).catch((err) => {
      if (err instanceof PackageError) throw new PackageError(err.problems.map((p) => `${id}: stored image ${p}`), id);
      throw err;
    });
    c = { stamp, rootHash: v.rootHash, signature: v.signature, hashes: imageFileHashes(v.tree) };
    checkedImages.set(files.image, c);
  }
  if (c.rootHash !== image.rootHash) throw new PackageError([`${id}: the stored image's root hash ${c.rootHash} is not the one installed (${image.rootHash}): the image was replaced`], id);
  if (c.signature.status === "unsigned" && !(allowUnsigned || image.signature === "unsigned"))
    throw new PackageError([`${id}: the image's root hash was signed at install and its signature is gone`], id);
  const sig = c.signature;
  const verification: Verification = { status: sig.status, ...(sig.status === "signed" && { keyId: sig.keyId, keyFile: sig.keyFile }), problems: [], hashes: c.hashes };

  const support = mountSupport();
  let why = support.ok ? "" : support.reason;
  if (support.ok) {
    const mnt = imageMountPoint(root, id);
    try {
      await mountImage(files, id, c.rootHash, mnt);
      return { app: { ...app, dir: mnt }, verification };
    } catch (err) {
      why = (err as Error).message;
    }
  }
  // The fallback: the extracted copy, which must still hold exactly the image's files.
  const found = (await packageDigest(app.dir, ["data"])).hashes;
  const sigPath = join(app.dir, SIGNATURE_FILE);
  if (await lstat(sigPath).catch(() => null)) found.set(SIGNATURE_FILE, await sha256File(sigPath));
  const changes = describeChanges(c.hashes, found, "the image was verified");
  if (changes.length) throw new PackageError([`${id}: the extracted copy of its verified image was changed:`, ...changes], id);
  const key = `${id}\0${why}`;
  if (!fallbackLogged.has(key)) {
    fallbackLogged.add(key);
    log.info(`${id}: image verified in userspace (root hash ${c.rootHash.slice(0, 16)}…); not mounted with dm-verity: ${why}; running the extracted copy ${app.dir}`);
  }
  return { app, verification };
}
