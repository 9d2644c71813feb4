// dm-verity hash trees, computed and checked in userspace, byte for byte as
// `veritysetup format` writes them (format 1, with its superblock), so the
// kernel can use the same hash file where weft may mount (verity-mount.ts)
// and weft can check an image where it may not.
//
// The tree (cryptsetup's "normal" hash type 1): every data block is hashed
// as SHA-256(salt ‖ block); 128 such 32-byte hashes fill one 4 KiB hash
// block (zero-padded); the hash blocks are hashed the same way, level by
// level, until one block is left; the root hash is SHA-256(salt ‖ that
// block). The hash file is the superblock padded to one hash block, then the
// levels from the top (one block) down to the data blocks' own level.
//
// Hash file layout (struct verity_sb in cryptsetup's lib/verity/verity.c,
// 512 bytes, little-endian):
//   0 "verity\0\0"  8 version u32 (1)  12 hash_type u32 (1)  16 uuid[16]
//   32 algorithm[32] ("sha256")  64 data_block_size u32  68 hash_block_size u32
//   72 data_blocks u64  80 salt_size u16  82 pad[6]  88 salt[256]  344 pad[168]

export const VERITY_BLOCK = 4096;
const DIGEST = 32;
const SB_SIZE = 512;
const SB_MAGIC = Buffer.from("verity\0\0", "latin1");
const MAX_SALT = 256;

export interface VerityParams {
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: number;
  /** Up to 256 bytes; veritysetup's default is 32 random bytes, weft derives it from the image. */
  salt: Uint8Array;
  /** 16 bytes: names the hash device (veritysetup prints it); not part of the tree. */
  uuid: Uint8Array;
}

export class VerityError extends Error {}

/** What weft builds: 4 KiB blocks, and a salt and UUID derived from the image, so the same image always gets the same hash file. */
export function defaultParams(data: Uint8Array): VerityParams {
  if (data.length === 0 || data.length % VERITY_BLOCK) throw new VerityError(`the image is ${data.length} bytes, not a whole number of ${VERITY_BLOCK}-byte blocks`);
  const id = new Bun.CryptoHasher("sha256").update(data).digest();
  const salt = new Uint8Array(new Bun.CryptoHasher("sha256").update("weft-verity-salt\0").update(id).digest());
  const uuid = new Uint8Array(new Bun.CryptoHasher("sha256").update("weft-verity-uuid\0").update(id).digest().subarray(0, 16));
  uuid[6] = (uuid[6] & 0x0f) | 0x40; // RFC 4122 version 4 and variant bits: a well-formed UUID
  uuid[8] = (uuid[8] & 0x3f) | 0x80;
  return { dataBlockSize: VERITY_BLOCK, hashBlockSize: VERITY_BLOCK, dataBlocks: data.length / VERITY_BLOCK, salt, uuid };
}

/** The number of hash blocks on each level, from the data blocks' own level (0) up to the single top block. */
function levelSizes(p: VerityParams): number[] {
  const perBlock = p.hashBlockSize / DIGEST;
  const sizes: number[] = [];
  // As cryptsetup: no level at all for a single data block (the root hash is that block's hash).
  for (let n = p.dataBlocks; n > 1; ) sizes.push((n = Math.ceil(n / perBlock)));
  return sizes;
}

export interface HashTree {
  /** The levels as stored, top level first (without the superblock). */
  tree: Uint8Array;
  rootHash: Uint8Array;
}

/** Computes the whole tree over `data` (exactly dataBlocks × dataBlockSize bytes). */
export function computeHashTree(data: Uint8Array, p: VerityParams): HashTree {
  checkParams(p);
  if (data.length !== p.dataBlocks * p.dataBlockSize)
    throw new VerityError(`the image is ${data.length} bytes but the hash tree covers ${p.dataBlocks} blocks of ${p.dataBlockSize} (${p.dataBlocks * p.dataBlockSize} bytes)`);
  // One scratch buffer holds salt ‖ block; each digest is written straight into its level.
  const scratch = new Uint8Array(p.salt.length + Math.max(p.dataBlockSize, p.hashBlockSize));
  scratch.set(p.salt);
  const hashInto = (block: Uint8Array, into: Uint8Array) => {
    scratch.set(block, p.salt.length);
    Bun.SHA256.hash(scratch.subarray(0, p.salt.length + block.length), into);
  };
  const perBlock = p.hashBlockSize / DIGEST;
  const hashBlocks = (input: Uint8Array, blockSize: number, count: number): Uint8Array => {
    const out = new Uint8Array(Math.ceil(count / perBlock) * p.hashBlockSize);
    for (let i = 0; i < count; i++) hashInto(input.subarray(i * blockSize, (i + 1) * blockSize), out.subarray(i * DIGEST, (i + 1) * DIGEST));
    return out;
  };
  const sizes = levelSizes(p);
  const levels: Uint8Array[] = [];
  let below = data;
  let count = p.dataBlocks;
  let blockSize = p.dataBlockSize;
  for (let l = 0; l < sizes.length; l++) {
    below = hashBlocks(below, blockSize, count);
    levels.push(below);
    count = sizes[l];
    blockSize = p.hashBlockSize;
  }
  const top = levels.length ? levels[levels.length - 1] : data;
  const rootHash = new Uint8Array(DIGEST);
  hashInto(top, rootHash);
  const tree = new Uint8Array(levels.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of levels.reverse()) tree.set(l, at), (at += l.length);
  return { tree, rootHash };
}

function checkParams(p: VerityParams): void {
  const pow2 = (n: number) => n >= 512 && n <= 1 << 20 && (n & (n - 1)) === 0;
  if (!pow2(p.dataBlockSize) || !pow2(p.hashBlockSize)) throw new VerityError(`block sizes must be powers of two from 512 to 1 MiB (got ${p.dataBlockSize}/${p.hashBlockSize})`);
  if (!Number.isSafeInteger(p.dataBlocks) || p.dataBlocks < 1) throw new VerityError(`the hash tree must cover at least one data block (got ${p.dataBlocks})`);
  if (p.salt.length > MAX_SALT) throw new VerityError(`the salt is ${p.salt.length} bytes (at most ${MAX_SALT})`);
  if (p.uuid.length !== 16) throw new VerityError("the UUID must be 16 bytes");
}

export function encodeSuperblock(p: VerityParams): Uint8Array {
  checkParams(p);
  const sb = Buffer.alloc(SB_SIZE);
  SB_MAGIC.copy(sb, 0);
  sb.writeUInt32LE(1, 8);
  sb.writeUInt32LE(1, 12);
  sb.set(p.uuid, 16);
  sb.write("sha256", 32, "latin1");
  sb.writeUInt32LE(p.dataBlockSize, 64);
  sb.writeUInt32LE(p.hashBlockSize, 68);
  sb.writeBigUInt64LE(BigInt(p.dataBlocks), 72);
  sb.writeUInt16LE(p.salt.length, 80);
  sb.set(p.salt, 88);
  return new Uint8Array(sb);
}

/** Reads the superblock at the start of a hash file; refuses anything but format 1, SHA-256, hash type 1. */
export function decodeSuperblock(hashFile: Uint8Array): VerityParams {
  if (hashFile.length < SB_SIZE) throw new VerityError(`the hash file is ${hashFile.length} bytes, too short for a verity superblock`);
  const sb = Buffer.from(hashFile.buffer, hashFile.byteOffset, SB_SIZE);
  if (!sb.subarray(0, 8).equals(SB_MAGIC)) throw new VerityError("the hash file has no verity superblock (made by `veritysetup format`, or `weft pack build-verity`)");
  const version = sb.readUInt32LE(8);
  const hashType = sb.readUInt32LE(12);
  const algorithm = sb.subarray(32, 64).toString("latin1").replace(/\0+$/, "");
  if (version !== 1) throw new VerityError(`verity superblock version ${version} (only 1 is known)`);
  if (hashType !== 1) throw new VerityError(`verity hash type ${hashType} (only 1, the normal type, is supported)`);
  if (algorithm !== "sha256") throw new VerityError(`verity hash algorithm ${JSON.stringify(algorithm)} (only sha256 is supported)`);
  const saltSize = sb.readUInt16LE(80);
  if (saltSize > MAX_SALT) throw new VerityError(`verity salt size ${saltSize} (at most ${MAX_SALT})`);
  const p: VerityParams = {
    dataBlockSize: sb.readUInt32LE(64),
    hashBlockSize: sb.readUInt32LE(68),
    dataBlocks: Number(sb.readBigUInt64LE(72)),
    salt: new Uint8Array(sb.subarray(88, 88 + saltSize)),
    uuid: new Uint8Array(sb.subarray(16, 32)),
  };
  checkParams(p);
  return p;
}

/** The hash file `veritysetup format` would write for `data` with these parameters, and the root hash. */
export function buildHashFile(data: Uint8Array, p: VerityParams = defaultParams(data)): { hashFile: Uint8Array; rootHash: Uint8Array; params: VerityParams } {
  const { tree, rootHash } = computeHashTree(data, p);
  const hashFile = new Uint8Array(p.hashBlockSize + tree.length);
  hashFile.set(encodeSuperblock(p), 0);
  hashFile.set(tree, p.hashBlockSize);
  return { hashFile, rootHash, params: p };
}

export const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Parses a root hash file (hex, as `veritysetup --root-hash-file` writes; whitespace around it allowed). */
export function parseRootHash(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new VerityError(`not a SHA-256 root hash (64 hex characters expected, found ${JSON.stringify(t.slice(0, 80))})`);
  return new Uint8Array(Buffer.from(t, "hex"));
}

/**
 * Checks an image against its hash file and a root hash, recomputing the
 * whole tree: the data must hash to the root hash, and the stored tree must
 * be exactly the recomputed one (the kernel reads the stored tree, so a
 * changed hash block matters even when the data is intact). Throws
 * VerityError with one line saying what does not match.
 */
export function verifyHashTree(data: Uint8Array, hashFile: Uint8Array, rootHash: Uint8Array): VerityParams {
  const p = decodeSuperblock(hashFile);
  const expectedSize = p.dataBlocks * p.dataBlockSize;
  if (data.length !== expectedSize) throw new VerityError(`the image is ${data.length} bytes but its hash file covers ${p.dataBlocks} blocks of ${p.dataBlockSize} (${expectedSize} bytes)`);
  const { tree, rootHash: computed } = computeHashTree(data, p);
  if (!Buffer.from(computed).equals(Buffer.from(rootHash)))
    throw new VerityError(`root hash mismatch: the image's data hashes to ${toHex(computed)}, the trusted root hash is ${toHex(rootHash)} (the image or its hash file's parameters were changed)`);
  const stored = hashFile.subarray(p.hashBlockSize);
  if (stored.length < tree.length) throw new VerityError(`the hash file is truncated: ${stored.length} bytes of hash tree, ${tree.length} expected`);
  const a = Buffer.from(stored.buffer, stored.byteOffset, tree.length);
  if (!a.equals(Buffer.from(tree))) {
    let i = 0;
    while (a[i] === tree[i]) i++;
    throw new VerityError(`the hash file's tree differs from the image's at hash block ${Math.floor(i / p.hashBlockSize) + 1} (byte ${p.hashBlockSize + i} of the hash file): it was changed`);
  }
  const sbPad = hashFile.subarray(SB_SIZE, p.hashBlockSize);
  if (sbPad.some((b) => b !== 0)) throw new VerityError("the hash file's superblock padding is not zero: it was changed");
  return p;
}
