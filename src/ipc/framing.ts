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

/** Decodes one MessagePack body; throws on malformed input. */
export function decodeBody(body: Uint8Array): unknown {
  return decode(body, { maxStrLength: MAX_FRAME, maxBinLength: MAX_FRAME, maxArrayLength: 65536, maxMapLength: 65536, maxExtLength: MAX_FRAME });
}
