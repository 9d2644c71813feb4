// ffi/drm.ts — libdrm (legacy KMS) through bun:ffi: resources, connectors,
// encoders, CRTCs, mode setting, dumb buffers, framebuffers, page flips, the
// cursor plane and DRM master.
//
// Page-flip completions are read from the DRM fd here (struct
// drm_event_vblank) instead of through drmHandleEvent: drmHandleEvent would
// need a JSCallback per event type, and the kernel's event format is a
// stable ABI (the fake device in tests writes the same bytes).
//
// Every struct offset is in LAYOUT, once; tests/compositor/drm-ffi.test.ts
// compiles a C program against libdrm-dev's headers and compares them all
// (offsetof/sizeof), so they cannot drift.
//
// Errors: libdrm returns -1 (errno set) or NULL; every wrapper throws a
// DrmError naming the call, the device and the errno.
import { dlopen, FFIType, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { closeSync, openSync, constants as fsc } from "node:fs";
import { errno, errnoName, mapShared, readSome, unmapShared } from "./libc.ts";
import type { PointerReturns } from "./types.ts";

const { i32, u32, u64, ptr: P, void: v } = FFIType;

const lib = dlopen("libdrm.so.2", {
  drmModeGetResources: { args: [i32], returns: P },
  drmModeFreeResources: { args: [P], returns: v },
  drmModeGetConnector: { args: [i32, u32], returns: P },
  drmModeFreeConnector: { args: [P], returns: v },
  drmModeGetEncoder: { args: [i32, u32], returns: P },
  drmModeFreeEncoder: { args: [P], returns: v },
  drmModeGetCrtc: { args: [i32, u32], returns: P },
  drmModeFreeCrtc: { args: [P], returns: v },
  drmModeSetCrtc: { args: [i32, u32, u32, u32, u32, P, i32, P], returns: i32 },
  drmModeAddFB2: { args: [i32, u32, u32, u32, P, P, P, P, u32], returns: i32 },
  drmModeRmFB: { args: [i32, u32], returns: i32 },
  drmModePageFlip: { args: [i32, u32, u32, u32, u64], returns: i32 },
  drmModeSetCursor: { args: [i32, u32, u32, u32, u32], returns: i32 },
  drmModeMoveCursor: { args: [i32, u32, i32, i32], returns: i32 },
  drmModeCreateDumbBuffer: { args: [i32, u32, u32, u32, u32, P, P, P], returns: i32 },
  drmModeDestroyDumbBuffer: { args: [i32, u32], returns: i32 },
  drmModeMapDumbBuffer: { args: [i32, u32, P], returns: i32 },
  drmGetCap: { args: [i32, u64, P], returns: i32 },
  drmSetMaster: { args: [i32], returns: i32 },
  drmDropMaster: { args: [i32], returns: i32 },
  drmIsKMS: { args: [i32], returns: i32 },
});
const D = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

/** Struct layouts (x86-64/aarch64 LP64), checked against the C headers by a test. */
export const LAYOUT = {
  drmModeRes: { size: 80, count_crtcs: 16, crtcs: 24, count_connectors: 32, connectors: 40, count_encoders: 48, encoders: 56, max_width: 68, max_height: 76 },
  drmModeModeInfo: { size: 68, clock: 0, hdisplay: 4, htotal: 10, vdisplay: 14, vtotal: 20, vrefresh: 24, flags: 28, type: 32, name: 36 },
  drmModeConnector: { size: 88, connector_id: 0, encoder_id: 4, connector_type: 8, connector_type_id: 12, connection: 16, mmWidth: 20, mmHeight: 24, count_modes: 32, modes: 40, count_encoders: 72, encoders: 80 },
  drmModeEncoder: { size: 20, encoder_id: 0, crtc_id: 8, possible_crtcs: 12 },
  drmModeCrtc: { size: 100, crtc_id: 0, buffer_id: 4, x: 8, y: 12, mode_valid: 24, mode: 28 },
  drm_event: { size: 8, type: 0, length: 4 },
  drm_event_vblank: { size: 32, user_data: 8, tv_sec: 16, tv_usec: 20, sequence: 24, crtc_id: 28 },
} as const;

export const DRM_FORMAT_XRGB8888 = 0x34325258; // fourcc 'XR24'
export const DRM_FORMAT_ARGB8888 = 0x34325241; // fourcc 'AR24'
export const PAGE_FLIP_EVENT = 0x01;
export const EVENT_FLIP_COMPLETE = 0x02;
/** Linux's O_CLOEXEC (node's fs.constants does not carry it). */
const O_CLOEXEC = 0o2000000;
const CAP_DUMB_BUFFER = 0x1;
const CAP_CURSOR_WIDTH = 0x8;
const CAP_CURSOR_HEIGHT = 0x9;
/** drmModeConnection */
const CONNECTED = 1;
/** drmModeModeInfo.type / .flags bits */
const MODE_TYPE_PREFERRED = 1 << 3;
const MODE_FLAG_INTERLACE = 1 << 4;
const MODE_FLAG_DBLSCAN = 1 << 5;

/** The kernel's connector type names (drm_connector.c), for names like "HDMI-A-1". */
const CONNECTOR_TYPES = ["Unknown", "VGA", "DVI-I", "DVI-D", "DVI-A", "Composite", "SVIDEO", "LVDS", "Component", "DIN", "DP", "HDMI-A", "HDMI-B", "TV", "eDP", "Virtual", "DSI", "DPI", "Writeback", "SPI", "USB"];

export class DrmError extends Error {
  constructor(
    readonly call: string,
    readonly device: string,
    readonly errno: number,
  ) {
    const hint = errno === 25 ? " (not a DRM/KMS device)" : errno === 13 || errno === 1 ? " (not DRM master: another process owns the display, or no permission)" : "";
    super(`${call} on ${device} failed: ${errnoName(errno)}${hint}`);
  }
}

export interface DrmModeInfo {
  width: number;
  height: number;
  /** Refresh in mHz computed from the timings (more exact than vrefresh). */
  refreshMHz: number;
  preferred: boolean;
  name: string;
  /** The 68-byte drmModeModeInfo, handed back to drmModeSetCrtc as is. */
  raw: Uint8Array;
}

export interface DrmConnectorInfo {
  id: number;
  name: string;
  connected: boolean;
  mmWidth: number;
  mmHeight: number;
  modes: DrmModeInfo[];
  /** The encoder driving it now (0 = none). */
  encoderId: number;
  encoderIds: number[];
}

export interface DrmEncoderInfo {
  id: number;
  crtcId: number;
  /** Bit i set: crtcs[i] of the resources can drive this encoder. */
  possibleCrtcs: number;
}

export interface DrmCrtcInfo {
  id: number;
  fb: number;
  x: number;
  y: number;
  mode: DrmModeInfo | null;
}

export interface DrmResources {
  crtcs: number[];
  connectors: number[];
  encoders: number[];
  maxWidth: number;
  maxHeight: number;
}

export interface DrmFlipEvent {
  crtcId: number;
  userData: bigint;
  sec: number;
  usec: number;
  sequence: number;
}

export interface DumbMapping {
  handle: number;
  pitch: number;
  size: number;
  pixels: Uint8Array;
  /** The mmap address (munmap'd by unmap). */
  addr: number;
}

function u32s(p: Pointer, off: number, count: number): number[] {
  const at = read.ptr(p, off) as unknown as Pointer;
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(read.u32(at, i * 4));
  return out;
}

/** Parses a drmModeModeInfo (from native memory or a copy). */
export function parseMode(raw: Uint8Array): DrmModeInfo {
  const M = LAYOUT.drmModeModeInfo;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const clock = dv.getUint32(M.clock, true);
  const htotal = dv.getUint16(M.htotal, true);
  let vtotal = dv.getUint16(M.vtotal, true);
  const flags = dv.getUint32(M.flags, true);
  if (flags & MODE_FLAG_DBLSCAN) vtotal *= 2;
  let mhz = htotal && vtotal ? Math.round((clock * 1e6) / (htotal * vtotal)) : dv.getUint32(M.vrefresh, true) * 1000;
  if (flags & MODE_FLAG_INTERLACE) mhz *= 2;
  const nameBytes = raw.subarray(M.name, M.name + 32);
  const end = nameBytes.indexOf(0);
  return {
    width: dv.getUint16(M.hdisplay, true),
    height: dv.getUint16(M.vdisplay, true),
    refreshMHz: mhz,
    preferred: (dv.getUint32(M.type, true) & MODE_TYPE_PREFERRED) !== 0,
    name: new TextDecoder().decode(end < 0 ? nameBytes : nameBytes.subarray(0, end)),
    raw: raw.slice(),
  };
}

/** Parses every complete struct drm_event in `buf`; flip completions are returned, others skipped. */
export function parseDrmEvents(buf: Uint8Array): DrmFlipEvent[] {
  const E = LAYOUT.drm_event;
  const V = LAYOUT.drm_event_vblank;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: DrmFlipEvent[] = [];
  for (let off = 0; off + E.size <= buf.length; ) {
    const type = dv.getUint32(off + E.type, true);
    const len = dv.getUint32(off + E.length, true);
    if (len < E.size || off + len > buf.length) throw new Error(`malformed DRM event stream (event length ${len} at ${off} of ${buf.length})`);
    if (type === EVENT_FLIP_COMPLETE && len >= V.size) {
      out.push({
        userData: dv.getBigUint64(off + V.user_data, true),
        sec: dv.getUint32(off + V.tv_sec, true),
        usec: dv.getUint32(off + V.tv_usec, true),
        sequence: dv.getUint32(off + V.sequence, true),
        crtcId: dv.getUint32(off + V.crtc_id, true),
      });
    }
    off += len;
  }
  return out;
}

/** Encodes one flip-complete event exactly as the kernel writes it (used by the fake device). */
export function encodeFlipEvent(e: DrmFlipEvent): Uint8Array {
  const V = LAYOUT.drm_event_vblank;
  const b = new Uint8Array(V.size);
  const dv = new DataView(b.buffer);
  dv.setUint32(LAYOUT.drm_event.type, EVENT_FLIP_COMPLETE, true);
  dv.setUint32(LAYOUT.drm_event.length, V.size, true);
  dv.setBigUint64(V.user_data, e.userData, true);
  dv.setUint32(V.tv_sec, e.sec, true);
  dv.setUint32(V.tv_usec, e.usec, true);
  dv.setUint32(V.sequence, e.sequence, true);
  dv.setUint32(V.crtc_id, e.crtcId, true);
  return b;
}

/** An open DRM card: thin, typed, throwing wrappers over libdrm. */
export class DrmCard {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Opens a card read/write, non-blocking (events are read when the loop says the fd is readable). */
  static open(path: string): DrmCard {
    let fd: number;
    try {
      fd = openSync(path, fsc.O_RDWR | O_CLOEXEC | fsc.O_NONBLOCK);
    } catch (e) {
      throw new Error(`cannot open DRM device ${path}: ${(e as Error).message}`);
    }
    const card = new DrmCard(fd, path);
    if (D.drmIsKMS(fd) !== 1) {
      card.close();
      throw new DrmError("drmIsKMS", path, 25);
    }
    return card;
  }

  /** Wraps an fd the caller opened (tests use this to check errors on non-DRM fds). */
  static fromFd(fd: number, path: string): DrmCard {
    return new DrmCard(fd, path);
  }

  private fail(call: string): never {
    throw new DrmError(call, this.path, errno() || 5);
  }

  private check(call: string, rc: number): void {
    if (rc !== 0) this.fail(call);
  }

  resources(): DrmResources {
    const p = D.drmModeGetResources(this.fd);
    if (!p) this.fail("drmModeGetResources");
    const R = LAYOUT.drmModeRes;
    try {
      return {
        crtcs: u32s(p, R.crtcs, read.i32(p, R.count_crtcs)),
        connectors: u32s(p, R.connectors, read.i32(p, R.count_connectors)),
        encoders: u32s(p, R.encoders, read.i32(p, R.count_encoders)),
        maxWidth: read.u32(p, R.max_width),
        maxHeight: read.u32(p, R.max_height),
      };
    } finally {
      D.drmModeFreeResources(p);
    }
  }

  connector(id: number): DrmConnectorInfo {
    const p = D.drmModeGetConnector(this.fd, id);
    if (!p) this.fail(`drmModeGetConnector(${id})`);
    const C = LAYOUT.drmModeConnector;
    const M = LAYOUT.drmModeModeInfo;
    try {
      const type = read.u32(p, C.connector_type);
      const modes: DrmModeInfo[] = [];
      const count = read.i32(p, C.count_modes);
      const mp = read.ptr(p, C.modes) as unknown as Pointer;
      for (let i = 0; i < count; i++) modes.push(parseMode(new Uint8Array(toArrayBuffer(mp, i * M.size, M.size))));
      return {
        id: read.u32(p, C.connector_id),
        name: `${CONNECTOR_TYPES[type] ?? "Unknown"}-${read.u32(p, C.connector_type_id)}`,
        connected: read.u32(p, C.connection) === CONNECTED,
        mmWidth: read.u32(p, C.mmWidth),
        mmHeight: read.u32(p, C.mmHeight),
        modes,
        encoderId: read.u32(p, C.encoder_id),
        encoderIds: u32s(p, C.encoders, read.i32(p, C.count_encoders)),
      };
    } finally {
      D.drmModeFreeConnector(p);
    }
  }

  encoder(id: number): DrmEncoderInfo {
    const p = D.drmModeGetEncoder(this.fd, id);
    if (!p) this.fail(`drmModeGetEncoder(${id})`);
    const E = LAYOUT.drmModeEncoder;
    try {
      return { id: read.u32(p, E.encoder_id), crtcId: read.u32(p, E.crtc_id), possibleCrtcs: read.u32(p, E.possible_crtcs) };
    } finally {
      D.drmModeFreeEncoder(p);
    }
  }

  crtc(id: number): DrmCrtcInfo {
    const p = D.drmModeGetCrtc(this.fd, id);
    if (!p) this.fail(`drmModeGetCrtc(${id})`);
    const C = LAYOUT.drmModeCrtc;
    try {
      const valid = read.i32(p, C.mode_valid) !== 0;
      return {
        id: read.u32(p, C.crtc_id),
        fb: read.u32(p, C.buffer_id),
        x: read.u32(p, C.x),
        y: read.u32(p, C.y),
        mode: valid ? parseMode(new Uint8Array(toArrayBuffer(p, C.mode, LAYOUT.drmModeModeInfo.size))) : null,
      };
    } finally {
      D.drmModeFreeCrtc(p);
    }
  }

  /** Shows `fb` on `crtc` driving `connectors` in `mode`; fb 0 and no mode turns the CRTC off. */
  setCrtc(crtc: number, fb: number, x: number, y: number, connectors: number[], mode: Uint8Array | null): void {
    const ids = new Uint32Array(connectors.length || 1);
    ids.set(connectors);
    this.check(`drmModeSetCrtc(${crtc})`, D.drmModeSetCrtc(this.fd, crtc, fb, x, y, connectors.length ? ptr(ids) : null, connectors.length, mode ? ptr(mode) : null));
  }

  /** A single-plane framebuffer over a buffer object; returns the fb id. */
  addFb(width: number, height: number, format: number, handle: number, pitch: number): number {
    const handles = new Uint32Array([handle, 0, 0, 0]);
    const pitches = new Uint32Array([pitch, 0, 0, 0]);
    const offsets = new Uint32Array(4);
    const id = new Uint32Array(1);
    this.check("drmModeAddFB2", D.drmModeAddFB2(this.fd, width, height, format, ptr(handles), ptr(pitches), ptr(offsets), ptr(id), 0));
    return id[0];
  }

  rmFb(fb: number): void {
    this.check(`drmModeRmFB(${fb})`, D.drmModeRmFB(this.fd, fb));
  }

  /** Queues a flip to `fb` at the next vblank; completion arrives as a flip event carrying `userData`. */
  pageFlip(crtc: number, fb: number, userData: bigint): void {
    this.check(`drmModePageFlip(${crtc})`, D.drmModePageFlip(this.fd, crtc, fb, PAGE_FLIP_EVENT, userData as unknown as number));
  }

  /** Creates a dumb buffer and maps it into this process. */
  createDumb(width: number, height: number, bpp = 32): DumbMapping {
    const handle = new Uint32Array(1);
    const pitch = new Uint32Array(1);
    const size = new BigUint64Array(1);
    this.check(`drmModeCreateDumbBuffer(${width}x${height})`, D.drmModeCreateDumbBuffer(this.fd, width, height, bpp, 0, ptr(handle), ptr(pitch), ptr(size)));
    const offset = new BigUint64Array(1);
    try {
      this.check("drmModeMapDumbBuffer", D.drmModeMapDumbBuffer(this.fd, handle[0], ptr(offset)));
      const bytes = Number(size[0]);
      const addr = mapShared(this.fd, bytes, Number(offset[0]));
      return { handle: handle[0], pitch: pitch[0], size: bytes, addr, pixels: new Uint8Array(toArrayBuffer(addr as unknown as Pointer, 0, bytes)) };
    } catch (e) {
      D.drmModeDestroyDumbBuffer(this.fd, handle[0]);
      throw e;
    }
  }

  destroyDumb(m: DumbMapping): void {
    unmapShared(m.addr, m.size);
    this.check("drmModeDestroyDumbBuffer", D.drmModeDestroyDumbBuffer(this.fd, m.handle));
  }

  /** A buffer handle (0 = hide) as the CRTC's cursor. */
  setCursor(crtc: number, handle: number, width: number, height: number): void {
    this.check(`drmModeSetCursor(${crtc})`, D.drmModeSetCursor(this.fd, crtc, handle, width, height));
  }

  moveCursor(crtc: number, x: number, y: number): void {
    this.check(`drmModeMoveCursor(${crtc})`, D.drmModeMoveCursor(this.fd, crtc, x, y));
  }

  /** drmGetCap; null when the driver does not know the capability. */
  cap(cap: number): number | null {
    const val = new BigUint64Array(1);
    return D.drmGetCap(this.fd, cap, ptr(val)) === 0 ? Number(val[0]) : null;
  }

  hasDumbBuffers(): boolean {
    return (this.cap(CAP_DUMB_BUFFER) ?? 0) !== 0;
  }

  cursorSize(): { width: number; height: number } | null {
    const w = this.cap(CAP_CURSOR_WIDTH);
    const h = this.cap(CAP_CURSOR_HEIGHT);
    return w && h ? { width: w, height: h } : null;
  }

  setMaster(): void {
    this.check("drmSetMaster", D.drmSetMaster(this.fd));
  }

  dropMaster(): void {
    this.check("drmDropMaster", D.drmDropMaster(this.fd));
  }

  /** Drains the fd's pending events (non-blocking). */
  readEvents(): DrmFlipEvent[] {
    const out: DrmFlipEvent[] = [];
    for (;;) {
      const buf = readSome(this.fd, 4096);
      if (!buf || buf.length === 0) return out;
      out.push(...parseDrmEvents(buf));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
