// ffi/pixman.ts — libpixman-1 through bun:ffi: the software compositing
// weft's headless (and later DRM dumb-buffer) backends draw with.
//
// Ownership: `pixman_image_create_*` returns a reference the caller owns;
// release it with `unref`. Images made with `createBits` over a JS buffer do
// NOT own the pixels: keep the buffer alive while the image lives.
import type { PointerReturns } from "./types.ts";
import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";

const { ptr: P, i32, u32, void: v } = FFIType;

const lib = dlopen("libpixman-1.so.0", {
  pixman_image_create_bits: { args: [u32, i32, i32, P, i32], returns: P },
  pixman_image_create_solid_fill: { args: [P], returns: P },
  pixman_image_unref: { args: [P], returns: i32 },
  pixman_image_composite32: { args: [i32, P, P, P, i32, i32, i32, i32, i32, i32, i32, i32], returns: v },
  pixman_image_fill_boxes: { args: [i32, P, P, i32, P], returns: i32 },
  pixman_image_set_transform: { args: [P, P], returns: i32 },
  pixman_image_set_filter: { args: [P, i32, P, i32], returns: i32 },
  pixman_image_set_repeat: { args: [P, i32], returns: v },
});
const X = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

/** PIXMAN_FORMAT(bpp, type, a, r, g, b) for the formats weft uses. */
export const Format = { a8r8g8b8: 0x20028888, x8r8g8b8: 0x20020888 } as const;
export const Op = { clear: 0, src: 1, over: 3 } as const;
export const Filter = { fast: 0, good: 1, best: 2, nearest: 3, bilinear: 4 } as const;
export const Repeat = { none: 0, normal: 1, pad: 2 } as const;

/** pixman_color_t { uint16_t red, green, blue, alpha; } */
const COLOR_SIZE = 8;
/** pixman_box32_t { int32_t x1, y1, x2, y2; } */
const BOX_SIZE = 16;
/** pixman_transform_t { pixman_fixed_t matrix[3][3]; } (16.16 fixed) */
const TRANSFORM_SIZE = 36;

export type Image = Pointer;

/**
 * pixman copies what these point to: one scratch buffer each serves every
 * call. Take ptr() at each call: the garbage collector may move a small
 * typed array's storage, so an address kept from earlier can go stale.
 */
const transform = new Int32Array(TRANSFORM_SIZE / 4);
const fillColor = new Uint16Array(COLOR_SIZE / 2);
const oneBox = new Int32Array(BOX_SIZE / 4);

export const pixman = {
  /** An image over `bits` (caller keeps `bits` alive). `bits` may be a native address. */
  createBits(format: number, width: number, height: number, bits: Uint8Array | number, stride: number): Image {
    const p = typeof bits === "number" ? (bits as unknown as Pointer) : ptr(bits);
    const img = X.pixman_image_create_bits(format, width, height, p, stride);
    if (!img) throw new Error(`pixman_image_create_bits(${width}x${height}) failed`);
    return img;
  },
  /** A solid image; channels are 0..1 premultiplied. */
  solid(r: number, g: number, b: number, a: number): Image {
    const c = new Uint16Array(COLOR_SIZE / 2);
    c.set([r, g, b, a].map((x) => Math.round(Math.max(0, Math.min(1, x)) * 0xffff)));
    const img = X.pixman_image_create_solid_fill(ptr(c));
    if (!img) throw new Error("pixman_image_create_solid_fill failed");
    return img;
  },
  unref(img: Image): void {
    X.pixman_image_unref(img);
  },
  composite(op: number, src: Image, mask: Image | null, dst: Image, sx: number, sy: number, mx: number, my: number, dx: number, dy: number, w: number, h: number): void {
    X.pixman_image_composite32(op, src, mask, dst, sx, sy, mx, my, dx, dy, w, h);
  },
  /** Fills boxes [x1, y1, x2, y2] with a color (0..1 channels). */
  fillBoxes(op: number, dst: Image, rgba: [number, number, number, number], boxes: [number, number, number, number][]): void {
    if (boxes.length === 0) return;
    for (let i = 0; i < 4; i++) fillColor[i] = Math.round(Math.max(0, Math.min(1, rgba[i])) * 0xffff);
    // One box (the renderer's case) goes through a scratch buffer: no allocation per frame.
    const b = boxes.length === 1 ? oneBox : new Int32Array((boxes.length * BOX_SIZE) / 4);
    for (let i = 0; i < boxes.length; i++) b.set(boxes[i], i * 4);
    X.pixman_image_fill_boxes(op, dst, ptr(fillColor), boxes.length, ptr(b));
  },
  /** Sets a scale from destination to source pixels (sx, sy = src/dst), or identity with 1, 1. */
  setScale(img: Image, sx: number, sy: number, ox = 0, oy = 0): void {
    pixman.setAffine(img, [sx, 0, ox, 0, sy, oy]);
  },
  /**
   * Sets an affine map from destination to source pixels: source x = a·x + b·y + c,
   * y = d·x + e·y + f, for m = [a, b, c, d, e, f]. Whole-pixel maps (rotations,
   * flips, shifts) sample the nearest pixel; anything that scales is filtered.
   */
  setAffine(img: Image, m: readonly number[]): void {
    const F = 65536;
    transform.set([Math.round(m[0] * F), Math.round(m[1] * F), Math.round(m[2] * F), Math.round(m[3] * F), Math.round(m[4] * F), Math.round(m[5] * F), 0, 0, F]);
    X.pixman_image_set_transform(img, ptr(transform));
    const unit = (v: number) => v === 0 || v === 1 || v === -1;
    const exact = m.slice(0, 2).concat(m.slice(3, 5)).every(unit) && Number.isInteger(m[2]) && Number.isInteger(m[5]);
    X.pixman_image_set_filter(img, exact ? Filter.nearest : Filter.bilinear, null, 0);
  },
  setRepeat(img: Image, repeat: number): void {
    X.pixman_image_set_repeat(img, repeat);
  },
};
