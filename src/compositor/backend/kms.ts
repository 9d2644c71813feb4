// The KMS device port: everything the DRM backend needs from a display
// device. Two implementations keep one contract
// (tests/compositor/drm-contract.ts): kms-drm.ts over a real card through
// ffi/drm.ts, and kms-fake.ts, a scriptable device for tests (connectors,
// modes, flip completions and hotplug delivered through real fds in the
// kernel's own formats, DRM master taken away and given back).
//
// Errors are DrmError (ffi/drm.ts) with the kernel's errno, so the backend
// can tell "not master" (EACCES/EPERM) from "flip still pending" (EBUSY).
export { DrmError } from "../../../ffi/drm.ts";

export interface KmsMode {
  readonly width: number;
  readonly height: number;
  /** mHz, as wl_output.mode wants it. */
  readonly refreshMHz: number;
  readonly preferred: boolean;
  readonly name: string;
}

export interface KmsConnector {
  readonly id: number;
  /** The kernel's name, e.g. "HDMI-A-1", "Virtual-1". */
  readonly name: string;
  readonly connected: boolean;
  readonly mmWidth: number;
  readonly mmHeight: number;
  readonly modes: readonly KmsMode[];
  /** CRTCs that can drive this connector. */
  readonly crtcs: readonly number[];
  /** The CRTC driving it now (0 = none). */
  readonly crtc: number;
}

/** A scanout buffer: XRGB8888, CPU-mapped, with a framebuffer id. */
export interface KmsBuffer {
  readonly fb: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly pixels: Uint8Array;
}

export type KmsEvent = { type: "flip"; crtc: number; sequence: number; sec: number; usec: number } | { type: "hotplug" };

/** What a CRTC showed before we took it (restored on exit). */
export interface SavedCrtc {
  readonly crtc: number;
  readonly fb: number;
  readonly x: number;
  readonly y: number;
  readonly mode: KmsMode | null;
  readonly connectors: readonly number[];
}

export interface KmsDevice {
  readonly path: string;
  /** Watch these for readability, then call readEvents(). */
  readonly fds: readonly number[];
  /** Hardware cursor size, or null when the device has no cursor plane. */
  readonly cursorSize: { width: number; height: number } | null;
  /** Probes connectors again (after a hotplug event). */
  connectors(): KmsConnector[];
  saveCrtc(crtc: number): SavedCrtc;
  restoreCrtc(saved: SavedCrtc): void;
  createBuffer(width: number, height: number): KmsBuffer;
  destroyBuffer(b: KmsBuffer): void;
  /** Lights `connector` on `crtc` in `mode` showing `b` (a full modeset). */
  setCrtc(crtc: number, connector: number, mode: KmsMode, b: KmsBuffer): void;
  disableCrtc(crtc: number): void;
  /** Queues a flip to `b` at the next vblank; one flip event follows. EBUSY while one is pending. */
  pageFlip(crtc: number, b: KmsBuffer): void;
  /** Drains pending events (non-blocking). */
  readEvents(): KmsEvent[];
  /** A cursor buffer (cursorSize, ARGB8888) on `crtc`, or null to hide it. */
  setCursor(crtc: number, b: KmsBuffer | null): void;
  moveCursor(crtc: number, x: number, y: number): void;
  createCursorBuffer(): KmsBuffer;
  setMaster(): void;
  dropMaster(): void;
  close(): void;
}

export const EACCES = 13;
export const EPERM = 1;
export const EBUSY = 16;
export const EINVAL = 22;

/** True when an error means "we are not DRM master" (another session has the display). */
export function isNotMaster(e: unknown): boolean {
  const n = (e as { errno?: number }).errno;
  return n === EACCES || n === EPERM;
}

/** Picks the mode to use: the preferred one, else the largest (then highest refresh). */
export function pickMode(modes: readonly KmsMode[]): KmsMode | null {
  const pref = modes.find((m) => m.preferred);
  if (pref) return pref;
  return [...modes].sort((a, b) => b.width * b.height - a.width * a.height || b.refreshMHz - a.refreshMHz)[0] ?? null;
}
