// A reader for the EROFS images `weft pack build-image` makes: enough of the
// on-disk format (Linux Documentation/filesystems/erofs.rst, erofs_fs.h) to
// list a package's directories and read its files straight out of the image
// bytes that were just checked against the verity root hash. Reading the
// same bytes in memory — rather than asking fsck.erofs --extract to read the
// file again — leaves no window in which the image could change between
// being verified and being read, and needs no erofs-utils on the device.
//
// Supported: uncompressed inodes (flat plain and flat inline layouts), compact
// and extended inodes, directories, regular files. Anything else an image
// may hold is refused with a clear reason: compressed or chunked files
// (build with `weft pack build-image`, which never makes them), symlinks,
// devices, FIFOs and sockets (a package holds only files and directories).
//
// The image is untrusted input until its root hash is trusted, and may be
// read before that (`weft pack info`): every offset is bounds-checked, a
// directory cycle is refused, and the total size read is capped.

const SUPER_OFFSET = 1024;
const MAGIC = 0xe0f5e1e2;
const SLOT = 32;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const LAYOUT = ["flat plain", "compressed (full)", "flat inline", "compressed (compact)", "chunk-based"];
const FLAT_PLAIN = 0;
const FLAT_INLINE = 2;
const DIRENT = 12;
const MAX_DEPTH = 64;
const MAX_ENTRIES = 100_000;
const utf8 = new TextDecoder();

export class ErofsError extends Error {}

export interface ErofsTree {
  /** Regular files: `/`-separated relative path → its bytes (views into the image). */
  files: Map<string, Uint8Array>;
  /** Directories, relative paths, parents before children. */
  dirs: string[];
  /** Entries a package may not hold (symlinks, devices, …), one line each. */
  problems: string[];
  uuid: string;
}

interface Inode {
  mode: number;
  size: number;
  layout: number;
  /** Start of the inline tail: right after the inode and its xattrs. */
  inlineAt: number;
  rawBlkaddr: number;
}

/** Reads every directory and regular file of an EROFS image held in memory. */
export function readErofs(img: Uint8Array, opts: { maxBytes?: number } = {}): ErofsTree {
  const view = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const need = (at: number, len: number, what: string) => {
    if (at < 0 || len < 0 || at + len > img.length) throw new ErofsError(`not a valid EROFS image: ${what} lies outside the image (bytes ${at}–${at + len} of ${img.length})`);
  };
  need(SUPER_OFFSET, 128, "the superblock");
  if (view.getUint32(SUPER_OFFSET, true) !== MAGIC) throw new ErofsError("not an EROFS image (no EROFS magic at byte 1024; make one with `weft pack build-image`)");
  const blkszbits = view.getUint8(SUPER_OFFSET + 12);
  if (blkszbits < 9 || blkszbits > 16) throw new ErofsError(`not a valid EROFS image: block size 2^${blkszbits}`);
  const blksz = 1 << blkszbits;
  const rootNid = view.getUint16(SUPER_OFFSET + 14, true);
  const metaBlkaddr = view.getUint32(SUPER_OFFSET + 40, true);
  const uuidBytes = Buffer.from(img.subarray(SUPER_OFFSET + 48, SUPER_OFFSET + 64)).toString("hex");
  const uuid = uuidBytes.replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
  const maxBytes = opts.maxBytes ?? 1 << 30;
  let total = 0;

  const inode = (nid: number, path: string): Inode => {
    const at = metaBlkaddr * blksz + nid * SLOT;
    need(at, SLOT, `the inode of ${path || "/"}`);
    const format = view.getUint16(at, true);
    const extended = (format & 1) === 1;
    const layout = (format >> 1) & 7;
    const isize = extended ? 64 : 32;
    need(at, isize, `the inode of ${path || "/"}`);
    const xattrCount = view.getUint16(at + 2, true);
    const xattrSize = xattrCount ? 12 + (xattrCount - 1) * 4 : 0;
    const size = extended ? Number(view.getBigUint64(at + 8, true)) : view.getUint32(at + 8, true);
    return { mode: view.getUint16(at + 4, true), size, layout, inlineAt: at + isize + xattrSize, rawBlkaddr: view.getUint32(at + 16, true) };
  };

  /** An uncompressed inode's bytes: whole blocks from raw_blkaddr, and for flat inline the tail after the inode. */
  const data = (ino: Inode, path: string): Uint8Array => {
    if (ino.layout !== FLAT_PLAIN && ino.layout !== FLAT_INLINE)
      throw new ErofsError(`${path}: ${LAYOUT[ino.layout] ?? `layout ${ino.layout}`} data is not supported (weft reads uncompressed images, as \`weft pack build-image\` makes them)`);
    total += ino.size;
    if (total > maxBytes) throw new ErofsError(`the image holds more than ${maxBytes} bytes of files; refused`);
    if (ino.layout === FLAT_PLAIN || ino.size % blksz === 0) {
      need(ino.rawBlkaddr * blksz, ino.size, `the data of ${path}`);
      return img.subarray(ino.rawBlkaddr * blksz, ino.rawBlkaddr * blksz + ino.size);
    }
    const head = Math.floor(ino.size / blksz) * blksz;
    const tail = ino.size - head;
    need(ino.inlineAt, tail, `the inline data of ${path}`);
    if ((ino.inlineAt % blksz) + tail > blksz) throw new ErofsError(`not a valid EROFS image: the inline data of ${path} crosses a block boundary`);
    if (head === 0) return img.subarray(ino.inlineAt, ino.inlineAt + tail);
    need(ino.rawBlkaddr * blksz, head, `the data of ${path}`);
    const out = new Uint8Array(ino.size);
    out.set(img.subarray(ino.rawBlkaddr * blksz, ino.rawBlkaddr * blksz + head));
    out.set(img.subarray(ino.inlineAt, ino.inlineAt + tail), head);
    return out;
  };

  const tree: ErofsTree = { files: new Map(), dirs: [], problems: [], uuid };
  const onPath = new Set<number>();
  let entries = 0;

  const walk = (nid: number, rel: string, depth: number) => {
    if (depth > MAX_DEPTH) throw new ErofsError(`${rel}: directories nested deeper than ${MAX_DEPTH}`);
    if (onPath.has(nid)) throw new ErofsError(`not a valid EROFS image: ${rel} is a directory cycle`);
    onPath.add(nid);
    const ino = inode(nid, rel);
    if ((ino.mode & S_IFMT) !== S_IFDIR) throw new ErofsError(`not a valid EROFS image: ${rel || "the root"} is not a directory`);
    const bytes = data(ino, rel || "/");
    for (let block = 0; block < bytes.length; block += blksz) {
      const b = bytes.subarray(block, Math.min(block + blksz, bytes.length));
      const bv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (b.length < DIRENT) throw new ErofsError(`not a valid EROFS image: a directory block of ${rel || "/"} is too short`);
      const count = bv.getUint16(8, true) / DIRENT;
      if (!Number.isInteger(count) || count < 1 || count * DIRENT > b.length) throw new ErofsError(`not a valid EROFS image: bad directory block in ${rel || "/"}`);
      for (let i = 0; i < count; i++) {
        const childNid = Number(bv.getBigUint64(i * DIRENT, true));
        const nameoff = bv.getUint16(i * DIRENT + 8, true);
        const end = i + 1 < count ? bv.getUint16((i + 1) * DIRENT + 8, true) : b.length;
        if (nameoff < count * DIRENT || end > b.length || end <= nameoff) throw new ErofsError(`not a valid EROFS image: bad directory entry in ${rel || "/"}`);
        let raw = b.subarray(nameoff, end);
        if (i + 1 === count) raw = raw.subarray(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0)); // the last name may be followed by padding
        const name = utf8.decode(raw);
        if (name === "." || name === "..") continue;
        if (++entries > MAX_ENTRIES) throw new ErofsError(`the image holds more than ${MAX_ENTRIES} entries; refused`);
        if (name === "" || name.includes("/") || name.includes("\0")) throw new ErofsError(`not a valid EROFS image: bad file name ${JSON.stringify(name)} in ${rel || "/"}`);
        const path = rel ? `${rel}/${name}` : name;
        const child = inode(childNid, path);
        const type = child.mode & S_IFMT;
        if (type === S_IFDIR) tree.dirs.push(path), walk(childNid, path, depth + 1);
        else if (type === S_IFREG) {
          if (tree.files.has(path)) throw new ErofsError(`not a valid EROFS image: ${path} appears twice`);
          tree.files.set(path, data(child, path));
        } else if (type === S_IFLNK) tree.problems.push(`${path}: is a symlink (packages may not contain symlinks; one could point outside the package)`);
        else tree.problems.push(`${path}: is a special file (device, FIFO or socket); packages hold only regular files and directories`);
      }
    }
    onPath.delete(nid);
  };
  walk(rootNid, "", 0);
  return tree;
}
