// wl_buffer contents: what a surface shows after a commit.
//
// wl_shm itself (pools, fds, bounds checks, the wl_buffer objects) is
// libwayland's own implementation (wl_display_init_shm): it already turns a
// bad fd, an oversized pool or a buffer outside its pool into protocol
// errors. Like weston's pixman renderer, we read a committed shm buffer in
// place, at render time, and release it only when the surface moves on to
// another buffer (clients double-buffer for exactly this). Every read is
// bracketed by wl_shm_buffer_begin/end_access, so a client that truncates
// its file gets a protocol error instead of crashing us with SIGBUS. If a
// client destroys a buffer that is still on screen, we copy it first.
import { wl, WL_SHM_FORMAT, type Pointer } from "../../../ffi/wayland.ts";
import { Format, Op, pixman, type Image } from "../../../ffi/pixman.ts";
import { read } from "bun:ffi";
import { ProtocolError, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";

export type Content =
  /** A client's shm buffer, read in place (we hold it until replaced). */
  | { kind: "shm"; buffer: Resource; info: ShmInfo; width: number; height: number; opaque: boolean }
  /** Pixels we own (a copy of a buffer destroyed while shown). */
  | { kind: "image"; img: Image; bytes: Uint8Array; width: number; height: number; opaque: boolean }
  | { kind: "color"; rgba: [number, number, number, number]; width: 1; height: 1 };

/** State of the wl_buffer objects weft creates itself (single-pixel buffers). */
export interface OwnBuffer {
  rgba: [number, number, number, number];
}

/**
 * Turns a committed buffer into content. Throws ProtocolError (on the
 * surface) for buffers weft cannot read.
 */
export function readBuffer(surface: Resource, buf: Resource): Content {
  if (!buf.foreign) {
    const own = buf.data as OwnBuffer | undefined;
    if (!own?.rgba) throw new ProtocolError(surface, wayland.wl_display.enums.error.invalid_object, "not a buffer weft can read");
    return { kind: "color", rgba: own.rgba, width: 1, height: 1 };
  }
  let m = shmInfo.get(buf);
  if (!m) {
    const shm = wl.wl_shm_buffer_get(buf.ptr as unknown as Pointer);
    if (!shm) throw new ProtocolError(surface, wayland.wl_display.enums.error.invalid_object, "unsupported buffer type (only wl_shm and single-pixel buffers)");
    const fmt = wl.wl_shm_buffer_get_format(shm);
    if (fmt !== WL_SHM_FORMAT.argb8888 && fmt !== WL_SHM_FORMAT.xrgb8888) {
      throw new ProtocolError(surface, wayland.wl_shm.enums.error.invalid_format, `unsupported wl_shm format ${fmt}`);
    }
    m = { shm, width: wl.wl_shm_buffer_get_width(shm), height: wl.wl_shm_buffer_get_height(shm), stride: wl.wl_shm_buffer_get_stride(shm), opaque: fmt === WL_SHM_FORMAT.xrgb8888, img: null, data: 0, users: 0 };
    shmInfo.set(buf, m);
    const info = m;
    buf.onDestroy(() => {
      if (info.img) pixman.unref(info.img);
      info.img = null;
    });
  }
  probe(m.shm, m.stride * m.height);
  return { kind: "shm", buffer: buf, info: m, width: m.width, height: m.height, opaque: m.opaque };
}

/**
 * What a wl_shm buffer is never changes (size, stride, format), so it is
 * asked for once; the pixman image over its pixels is kept too, and made
 * again only if the pool was remapped (wl_shm_pool.resize moves the data).
 */
interface ShmInfo {
  shm: Pointer;
  /** How many surfaces show this buffer now: released when none does. */
  users: number;
  width: number;
  height: number;
  stride: number;
  opaque: boolean;
  img: Image | null;
  data: number;
}
const shmInfo = new WeakMap<Resource, ShmInfo>();

/**
 * Touches the first and last byte of a committed buffer: a pool larger than
 * its file faults here, and libwayland turns that into a protocol error for
 * the client at once (instead of at some later frame, or never if the
 * surface is not shown).
 */
function probe(shm: Pointer, size: number): void {
  wl.wl_shm_buffer_begin_access(shm);
  try {
    const data = wl.wl_shm_buffer_get_data(shm);
    if (data && size > 0) {
      read.u8(data, 0);
      read.u8(data, size - 1);
    }
  } finally {
    wl.wl_shm_buffer_end_access(shm);
  }
}

/** Runs `fn` with a pixman image over the content's pixels (valid only during `fn`). */
export function withImage(c: Content & { kind: "shm" | "image" }, fn: (img: Image) => void, dying = false): void {
  if (c.kind === "image") return fn(c.img);
  // A destroyed buffer is readable only inside its destroy hook (`dying`): libwayland frees it right after.
  if (c.buffer.destroyed && !dying) return;
  const info = c.info;
  const shm = info.shm;
  wl.wl_shm_buffer_begin_access(shm);
  try {
    // The pool may have been resized (remapped) since the commit: ask for the address each time.
    const data = wl.wl_shm_buffer_get_data(shm) as unknown as number;
    const format = c.opaque ? Format.x8r8g8b8 : Format.a8r8g8b8;
    if (dying) {
      // Inside the buffer's destroy hooks: nothing may be kept.
      const img = pixman.createBits(format, c.width, c.height, data, info.stride);
      try {
        fn(img);
      } finally {
        pixman.unref(img);
      }
      return;
    }
    if (!info.img || info.data !== data) {
      if (info.img) pixman.unref(info.img);
      info.img = pixman.createBits(format, c.width, c.height, data, info.stride);
      info.data = data;
    }
    fn(info.img);
  } finally {
    wl.wl_shm_buffer_end_access(shm);
  }
}

/** A copy of shm content into memory we own (call from the buffer's destroy hook: it is about to go). */
export function snapshot(c: Content & { kind: "shm" }): Content {
  const bytes = new Uint8Array(c.width * c.height * 4);
  const img = pixman.createBits(c.opaque ? Format.x8r8g8b8 : Format.a8r8g8b8, c.width, c.height, bytes, c.width * 4);
  withImage(c, (src) => pixman.composite(Op.src, src, null, img, 0, 0, 0, 0, 0, 0, c.width, c.height), true);
  return { kind: "image", img, bytes, width: c.width, height: c.height, opaque: c.opaque };
}

/** The surface now shows `c`: hold its buffer. */
export function holdContent(c: Content | null): void {
  if (c?.kind === "shm") c.info.users++;
}

/** The surface stopped showing `c`: free our pixels, or release the client's buffer when no surface shows it. */
export function dropContent(c: Content | null): void {
  if (!c) return;
  if (c.kind === "image") pixman.unref(c.img);
  if (c.kind !== "shm") return;
  if (--c.info.users > 0) return;
  c.info.users = 0;
  if (!c.buffer.destroyed && c.buffer.is(wayland.wl_buffer)) c.buffer.post("release");
}

/** Single-pixel buffers hold nothing of the client's; release them at once. */
export function releaseIfCopied(buf: Resource, c: Content): void {
  if (c.kind === "color" && !buf.destroyed && buf.is(wayland.wl_buffer)) buf.post("release");
}
