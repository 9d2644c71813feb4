// A small PNG encoder: 8-bit RGB, filter 0 per row, one IDAT (zlib via
// node:zlib, CRC32 via Bun.hash.crc32). Enough for screenshots.
import { deflateSync } from "node:zlib";

/** Encodes little-endian 32-bit BGRX/BGRA pixels (pixman's a8r8g8b8 in memory) as an RGB PNG. */
export function encodePng(bgra: Uint8Array, width: number, height: number, stride = width * 4): Uint8Array {
  const raw = new Uint8Array((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    let i = y * stride;
    for (let x = 0; x < width; x++, i += 4) {
      raw[o++] = bgra[i + 2];
      raw[o++] = bgra[i + 1];
      raw[o++] = bgra[i];
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  const chunks = [chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 6 })), chunk("IEND", new Uint8Array(0))];
  const sig = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([sig, ...chunks]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

/** Decodes what encodePng writes (RGB, filter 0 or any standard filter) into RGB bytes; for tests and tools. */
export function decodePng(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let p = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (p < png.length) {
    const len = v.getUint32(p);
    const type = new TextDecoder().decode(png.subarray(p + 4, p + 8));
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === "IHDR") {
      width = v.getUint32(p + 8);
      height = v.getUint32(p + 12);
      if (data[8] !== 8 || data[9] !== 2) throw new Error("only 8-bit RGB PNGs are supported");
    } else if (type === "IDAT") idat.push(data);
    p += 12 + len;
  }
  const { inflateSync } = require("node:zlib") as typeof import("node:zlib");
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    const f = raw[y * (row + 1)];
    const src = raw.subarray(y * (row + 1) + 1, (y + 1) * (row + 1));
    const out = rgb.subarray(y * row, (y + 1) * row);
    const up = y > 0 ? rgb.subarray((y - 1) * row, y * row) : new Uint8Array(row);
    for (let i = 0; i < row; i++) {
      const a = i >= 3 ? out[i - 3] : 0;
      const b = up[i];
      const c = i >= 3 ? up[i - 3] : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const pp = a + b - c;
        const pa = Math.abs(pp - a);
        const pb = Math.abs(pp - b);
        const pc = Math.abs(pp - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[i] = (src[i] + pred) & 0xff;
    }
  }
  return { width, height, rgb };
}
