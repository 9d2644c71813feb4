// The backend port: what the compositor needs from a display system.
// headless.ts and drm.ts implement it (DRM runs over a real card or the fake
// KMS device); one contract suite for all: tests/compositor/backend.contract.ts.
import type { Image } from "../../../ffi/pixman.ts";
import type { Rect } from "../geometry.ts";

export interface Mode {
  width: number;
  height: number;
  /** Refresh rate in mHz (wl_output.mode's unit). */
  refreshMHz: number;
}

export interface Output {
  readonly name: string;
  /** Position in the global (logical) space; outputs sit side by side. */
  readonly x: number;
  readonly y: number;
  readonly description: string;
  readonly make: string;
  readonly model: string;
  readonly mode: Mode;
  readonly physicalMm: { width: number; height: number };
  /** The frame the compositor renders into (a8r8g8b8). */
  readonly image: Image;
  readonly pixels: Uint8Array;
  readonly stride: number;
}

/** A client's cursor image: read `image` (a8r8g8b8 or x8r8g8b8) during the call; it may change afterwards. */
export interface CursorImage {
  image: Image;
  width: number;
  height: number;
  hotspotX: number;
  hotspotY: number;
}

export interface FrameInfo {
  /** When the frame was shown, CLOCK_MONOTONIC. */
  sec: number;
  nsec: number;
  /** Refresh period in ns (0 if unknown). */
  refreshNs: number;
  /** Frame counter (wp_presentation's MSC). */
  seq: number;
}

export interface BackendHandlers {
  /** Draw into o.image now; returns the area drawn (global coordinates) — all that changed in o.image — or nothing when that is unknown (then all of it may have). */
  render(o: Output): readonly Rect[] | void;
  presented(o: Output, info: FrameInfo): void;
  /** Outputs were added, removed or moved (hotplug). */
  outputsChanged?(): void;
  /** The display was lost to another session (false) or is back (true). */
  sessionChanged?(active: boolean): void;
}

export interface Backend {
  readonly outputs: readonly Output[];
  /**
   * Asks for a frame on `output`: at the output's next refresh the backend
   * calls `render(output)` (draw into output.image now), shows the result
   * and calls `presented` with its timestamp. Several requests before that
   * refresh make one frame. With no requests the backend sleeps.
   */
  scheduleFrame(output: Output): void;
  start(handlers: BackendHandlers): void;
  /** The compositor drew `area` (global coordinates) into o.image outside a frame (a screenshot rendered pending damage). */
  drewOutsideFrame?(o: Output, area: readonly Rect[]): void;
  /**
   * What the pointer looks like: weft's default arrow, nothing, or a
   * client's cursor surface. Backends with a cursor plane show it there and
   * return true; false when it does not fit the plane (or there is none).
   */
  showCursor?(c: "default" | "hidden" | CursorImage): boolean;
  /** The pointer moved (global coordinates); backends with a cursor plane show it there. */
  moveCursor?(x: number, y: number): void;
  destroy(): void;
}
