// Unix socket framing (spec §3): a 4-byte little-endian length, then a
// MessagePack body. WEFT had no cap; weft refuses frames over MAX_FRAME
// before buffering them, so a hostile length never allocates.
import { decode, encode } from "@msgpack/msgpack";

export const MAX_FRAME = 1 << 20;

export class FrameTooLarge extends Error {
  constructor(readonly length: number) {
    super(`frame of ${length} bytes exceeds the ${MAX_FRAME}-byte limit`);
  }
}

export function encodeFrame(message: unknown): Uint8Array {
  const body = encode(message);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/** Accumulates stream bytes and yields whole frame bodies. */
export class FrameReader {
  private buf = new Uint8Array(0);

  /** Appends `chunk`; returns the complete bodies now available. Throws FrameTooLarge. */
  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    const frames: Uint8Array[] = [];
    let off = 0;
    while (merged.length - off >= 4) {
      const len = new DataView(merged.buffer, merged.byteOffset + off, 4).getUint32(0, true);
      if (len > MAX_FRAME) throw new FrameTooLarge(len);
      if (merged.length - off - 4 < len) break;
      frames.push(merged.slice(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = merged.slice(off);
    return frames;
  }

  get pending(): number {
    return this.buf.length;
  }
}

/** No request of the spec nests deeper than 3; refuse absurd nesting before anything walks it. */
export const MAX_DEPTH = 32;

/** Decodes one MessagePack body; throws on malformed or too deeply nested input. */
export function decodeBody(body: Uint8Array): unknown {
  if (nestingDepth(body) > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH}`);
  return decode(body, { maxStrLength: MAX_FRAME, maxBinLength: MAX_FRAME, maxArrayLength: 65536, maxMapLength: 65536, maxExtLength: MAX_FRAME });
}

/**
 * An upper bound of the container nesting of a MessagePack body, by a linear
 * scan that counts array/map headers not yet closed. Cheap, and exact for
 * well-formed input; malformed input is refused by the decoder anyway.
 */
function nestingDepth(b: Uint8Array): number {
  const open: number[] = []; // items still expected in each open container
  let max = 0;
  let i = 0;
  const item = () => {
    // one item was consumed: close every container that is now complete
    while (open.length && --open[open.length - 1] === 0) open.pop();
  };
  const container = (n: number) => {
    if (n === 0) return item();
    open.push(n);
    max = Math.max(max, open.length);
  };
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (i < b.length) {
    const t = b[i++];
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) item();
    else if (t >= 0x80 && t <= 0x8f) container((t & 0x0f) * 2);
    else if (t >= 0x90 && t <= 0x9f) container(t & 0x0f);
    else if (t >= 0xa0 && t <= 0xbf) (i += t & 0x1f), item();
    else if (t === 0xdc || t === 0xde) {
      if (i + 2 > b.length) break;
      const n = view.getUint16(i);
      i += 2;
      container(t === 0xde ? n * 2 : n);
    } else if (t === 0xdd || t === 0xdf) {
      if (i + 4 > b.length) break;
      const n = view.getUint32(i);
      i += 4;
      container(t === 0xdf ? n * 2 : n);
    } else {
      // fixed-size scalars and length-prefixed str/bin/ext: skip their payload
      const sizes: Record<number, number> = { 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17 };
      if (t in sizes) i += sizes[t];
      else if (t === 0xd9 || t === 0xc4) i += 1 + (b[i] ?? 0);
      else if (t === 0xda || t === 0xc5) i += 2 + (i + 2 <= b.length ? view.getUint16(i) : 0);
      else if (t === 0xdb || t === 0xc6) i += 4 + (i + 4 <= b.length ? view.getUint32(i) : 0);
      else if (t === 0xc7) i += 2 + (b[i] ?? 0);
      else if (t === 0xc8) i += 3 + (i + 2 <= b.length ? view.getUint16(i) : 0);
      else if (t === 0xc9) i += 5 + (i + 4 <= b.length ? view.getUint32(i) : 0);
      item();
    }
  }
  return max;
}
