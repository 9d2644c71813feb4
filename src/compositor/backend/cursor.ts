// weft's default pointer for hardware cursor planes: a plain arrow (white,
// black outline), drawn into an ARGB8888 cursor buffer — shown wherever no
// client has set a cursor surface of its own (drm.ts showCursor).
import type { KmsBuffer } from "./kms.ts";

export const CURSOR_HOTSPOT = { x: 1, y: 1 } as const;
const H = 20;

/** Inside the arrow: a triangle (left edge vertical, right edge 45°) with a slanted tail below. */
function inside(x: number, y: number): boolean {
  if (y < 1 || y >= H || x < 1) return false;
  if (y < 13) return x <= Math.min(y, 13 - (y >> 2));
  const from = 4 + ((y - 13) >> 1);
  return x >= from && x <= from + 2;
}

export function drawDefaultCursor(b: KmsBuffer): void {
  const px = new DataView(b.pixels.buffer, b.pixels.byteOffset, b.pixels.byteLength);
  b.pixels.fill(0);
  for (let y = 0; y < Math.min(b.height, H + 1); y++)
    for (let x = 0; x < Math.min(b.width, H); x++) {
      const inArrow = inside(x, y);
      const edge = !inArrow && (inside(x - 1, y) || inside(x + 1, y) || inside(x, y - 1) || inside(x, y + 1));
      // ARGB8888 little-endian: B, G, R, A in memory.
      if (inArrow) px.setUint32(y * b.stride + x * 4, 0xffffffff, true);
      else if (edge) px.setUint32(y * b.stride + x * 4, 0xff000000, true);
    }
}
