// wl_buffer contents: what a surface shows after a commit.
//
// wl_shm itself (pools, fds, bounds checks, the wl_buffer objects) is
// libwayland's own implementation (wl_display_init_shm): it already turns a
// bad fd, an oversized pool or a buffer outside its pool into protocol
// errors. What we do here is read a committed buffer: we copy its pixels
// into the surface's own image at commit time and release the buffer at
// once, so clients can reuse it immediately and nothing reads client memory
// during rendering (a client truncating its file can't SIGBUS us later;
// wl_shm_buffer_begin_access guards the copy itself).
import { wl, WL_SHM_FORMAT, type Pointer } from "../../../ffi/wayland.ts";
import { Format, Op, pixman, type Image } from "../../../ffi/pixman.ts";
import { ProtocolError, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import { intersect, type Rect } from "../geometry.ts";

export type Content =
  | { kind: "image"; img: Image; bytes: Uint8Array; width: number; height: number; opaque: boolean }
  | { kind: "color"; rgba: [number, number, number, number]; width: 1; height: 1 };

/** State of the wl_buffer objects weft creates itself (single-pixel buffers). */
export interface OwnBuffer {
  rgba: [number, number, number, number];
}

export function bufferSize(buf: Resource): { width: number; height: number } {
  if (!buf.foreign) return { width: 1, height: 1 };
  const shm = wl.wl_shm_buffer_get(buf.ptr as unknown as Pointer);
  if (!shm) return { width: 0, height: 0 };
  return { width: wl.wl_shm_buffer_get_width(shm), height: wl.wl_shm_buffer_get_height(shm) };
}

/**
 * Reads a committed buffer into `prev` (reused when the size and format
 * match) and returns the new content. `damage` (buffer coordinates) limits the
 * copy when the old image can be reused.
 */
export function readBuffer(surface: Resource, buf: Resource, prev: Content | null, damage: Rect | null): Content {
  if (!buf.foreign) {
    const own = buf.data as OwnBuffer | undefined;
    if (!own?.rgba) throw new ProtocolError(surface, wayland.wl_display.enums.error.invalid_object, "not a buffer weft can read");
    return { kind: "color", rgba: own.rgba, width: 1, height: 1 };
  }
  const shm = wl.wl_shm_buffer_get(buf.ptr as unknown as Pointer);
  if (!shm) throw new ProtocolError(surface, wayland.wl_display.enums.error.invalid_object, "unsupported buffer type (only wl_shm and single-pixel buffers)");
  const width = wl.wl_shm_buffer_get_width(shm);
  const height = wl.wl_shm_buffer_get_height(shm);
  const stride = wl.wl_shm_buffer_get_stride(shm);
  const fmt = wl.wl_shm_buffer_get_format(shm);
  if (fmt !== WL_SHM_FORMAT.argb8888 && fmt !== WL_SHM_FORMAT.xrgb8888) {
    throw new ProtocolError(surface, wayland.wl_shm.enums.error.invalid_format, `unsupported wl_shm format ${fmt}`);
  }
  const opaque = fmt === WL_SHM_FORMAT.xrgb8888;
  let content: Content;
  let full = true;
  if (prev && prev.kind === "image" && prev.width === width && prev.height === height && prev.opaque === opaque) {
    content = prev;
    full = damage === null;
  } else {
    if (prev?.kind === "image") pixman.unref(prev.img);
    const bytes = new Uint8Array(width * height * 4);
    content = { kind: "image", img: pixman.createBits(opaque ? Format.x8r8g8b8 : Format.a8r8g8b8, width, height, bytes, width * 4), bytes, width, height, opaque };
  }
  const area = full ? { x: 0, y: 0, width, height } : intersect(damage!, { x: 0, y: 0, width, height });
  if (area) {
    wl.wl_shm_buffer_begin_access(shm);
    try {
      const data = wl.wl_shm_buffer_get_data(shm) as unknown as number;
      const src = pixman.createBits(opaque ? Format.x8r8g8b8 : Format.a8r8g8b8, width, height, data, stride);
      pixman.composite(Op.src, src, null, content.img, area.x, area.y, 0, 0, area.x, area.y, area.width, area.height);
      pixman.unref(src);
    } finally {
      wl.wl_shm_buffer_end_access(shm);
    }
  }
  return content;
}

export function freeContent(c: Content | null): void {
  if (c?.kind === "image") pixman.unref(c.img);
}

/** Tells the client it may reuse the buffer (we copied what we needed). */
export function releaseBuffer(buf: Resource): void {
  if (!buf.destroyed && buf.is(wayland.wl_buffer)) buf.post("release");
}
