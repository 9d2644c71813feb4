// The DRM/KMS backend: every connected connector is an output (preferred
// mode, laid out left to right in connector order), each on its own CRTC,
// scanning out one of two dumb buffers while weft draws the other.
//
// Frame clock: page flips. A requested frame renders at once when the CRTC
// is idle and is flipped at the next vblank; requests while a flip is
// pending wait for its completion event (read from the device fd through
// the loop's watcher), so flips never overlap and frames follow the display.
//
// The compositor renders into a shadow image per output (memory that
// survives flips, pauses and re-layouts); each frame copies into the back
// buffer only what it lacks of the shadow: the area drawn since that buffer
// was last brought up to date — this frame's damage plus the previous
// frame's (which went into the other buffer). A whole 4K frame costs
// ~22 ms to copy (bench/drm-copy.ts); a cursor-sized change, nothing much.
//
// Session: losing DRM master (a flip refused with EACCES, or deactivate()
// on a VT switch) pauses the backend — nothing renders, frame callbacks
// wait. activate() takes master back, re-probes connectors, and sets every
// CRTC from the shadow images (a full repaint). destroy() restores what each
// CRTC showed before weft.
import { Format, Op, pixman, type Image } from "../../../ffi/pixman.ts";
import { monotonicNow } from "../../../ffi/wayland.ts";
import { watchFd, type FdWatch } from "../../loop/fd.ts";
import { Damage, intersect, type Rect } from "../geometry.ts";
import type { Backend, BackendHandlers, CursorImage, Output } from "./backend.ts";
import { isNotMaster, pickMode, type KmsBuffer, type KmsConnector, type KmsDevice, type KmsMode, type SavedCrtc } from "./kms.ts";
import { drawDefaultCursor, CURSOR_HOTSPOT } from "./cursor.ts";

class DrmOutput implements Output {
  x = 0;
  y = 0;
  readonly description: string;
  readonly make = "weft";
  readonly model: string;
  readonly mode: { width: number; height: number; refreshMHz: number };
  readonly physicalMm: { width: number; height: number };
  readonly image: Image;
  readonly pixels: Uint8Array;
  readonly stride: number;
  /** Two scanout buffers and pixman images over them; `front` is on screen. */
  readonly buffers: KmsBuffer[];
  readonly targets: Image[];
  front = 0;
  /** A modeset happened (the CRTC shows our buffer). */
  lit = false;
  flipping = false;
  wanted = false;
  queued = false;
  /** A cursor plane call failed (said once). */
  cursorFailed = false;
  /** Frames the driver refused in a row (not for master: EBUSY, EINVAL, ENOMEM…); retried, see frame(). */
  failures = 0;
  cursor: KmsBuffer | null = null;
  /** The other cursor buffer: a new image is painted there while the plane may still read `cursor`. */
  spareCursor: KmsBuffer | null = null;
  cursorShown = false;
  /** The cursor buffer was repainted: set it again (drivers read it when it is set). */
  cursorDirty = false;
  /** The last frame counter reported (MSC). */
  seq = 0;
  /** Per scanout buffer, what it lacks of the shadow image (output-local; null = all of it). */
  readonly stale: (Damage | null)[] = [null, null];
  /** Pixels copied into scanout buffers so far (what damage tracking saves shows here). */
  copied = 0;

  constructor(
    dev: KmsDevice,
    readonly connector: KmsConnector,
    readonly crtc: number,
    readonly kmsMode: KmsMode,
    readonly saved: SavedCrtc,
  ) {
    const { width, height } = kmsMode;
    this.description = `${connector.name} ${width}x${height}@${(kmsMode.refreshMHz / 1000).toFixed(2)} (${dev.path})`;
    this.model = connector.name;
    this.mode = { width, height, refreshMHz: kmsMode.refreshMHz };
    const mm = connector.mmWidth && connector.mmHeight ? { width: connector.mmWidth, height: connector.mmHeight } : { width: Math.round((width * 25.4) / 96), height: Math.round((height * 25.4) / 96) };
    this.physicalMm = mm;
    this.stride = width * 4;
    this.pixels = new Uint8Array(this.stride * height);
    this.image = pixman.createBits(Format.x8r8g8b8, width, height, this.pixels, this.stride);
    this.buffers = [];
    this.targets = [];
    try {
      for (let i = 0; i < 2; i++) {
        const b = dev.createBuffer(width, height);
        this.buffers.push(b);
        this.targets.push(pixman.createBits(Format.x8r8g8b8, width, height, b.pixels, b.stride));
      }
    } catch (e) {
      this.free(dev);
      throw e;
    }
  }

  get name(): string {
    return this.connector.name;
  }

  /** The shadow changed in `area` (global coordinates; nothing = unknown, so everywhere). */
  drew(area: readonly Rect[] | void): void {
    if (!area) {
      this.stale.fill(null);
      return;
    }
    const bounds = { x: this.x, y: this.y, width: this.mode.width, height: this.mode.height };
    for (const r of area) {
      const c = intersect(r, bounds);
      if (!c) continue;
      const local = { x: c.x - this.x, y: c.y - this.y, width: c.width, height: c.height };
      for (const d of this.stale) d?.add(local);
    }
  }

  /** Brings scanout buffer `i` up to date with the shadow image. */
  refresh(i: number): void {
    const d = this.stale[i];
    const rects = d ? d.clear() : [{ x: 0, y: 0, width: this.mode.width, height: this.mode.height }];
    for (const r of rects) {
      pixman.composite(Op.src, this.image, null, this.targets[i], r.x, r.y, 0, 0, r.x, r.y, r.width, r.height);
      this.copied += r.width * r.height;
    }
    this.stale[i] = new Damage();
  }

  get refreshNs(): number {
    return Math.round(1e12 / this.mode.refreshMHz);
  }

  free(dev: KmsDevice): void {
    for (const t of this.targets) pixman.unref(t);
    this.targets.length = 0;
    for (const b of this.buffers) dev.destroyBuffer(b);
    this.buffers.length = 0;
    for (const b of [this.cursor, this.spareCursor]) if (b) dev.destroyBuffer(b);
    this.cursor = this.spareCursor = null;
    pixman.unref(this.image);
  }
}

export interface DrmBackendOptions {
  /** Where to report what happened (mode chosen, hotplug, session changes). */
  log?: (msg: string) => void;
}

export class DrmBackend implements Backend {
  outputs: DrmOutput[] = [];
  /** False while another session has the display (no DRM master). */
  active = true;
  private handlers: BackendHandlers | null = null;
  private watches: FdWatch[] = [];
  private destroyed = false;
  private readonly log: (msg: string) => void;
  private cursorAt: { x: number; y: number } | null = null;
  /** activate() found another session holding master (logged once until it succeeds). */
  private heldElsewhere = false;
  /** The pointer's look on the cursor planes: null = weft's arrow; else a client's image (cursorSize ARGB8888, tightly packed) or hidden. */
  private look: { pixels: Uint8Array; hotspot: { x: number; y: number } } | "hidden" | null = null;
  /** Every CRTC we ever drove, with what it showed before (restored on exit). */
  private readonly saved = new Map<number, SavedCrtc>();

  constructor(
    readonly device: KmsDevice,
    opts: DrmBackendOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    try {
      device.setMaster();
    } catch (e) {
      throw new Error(`cannot drive ${device.path}: ${(e as Error).message}`);
    }
    this.probe();
    if (this.outputs.length === 0) {
      this.freeAll();
      throw new Error(`${device.path}: no connected connector with a usable mode`);
    }
  }

  /** Matches outputs to connected connectors: keeps the ones still there, adds new ones, drops the gone. Returns whether anything changed. */
  private probe(): boolean {
    // Modes with no size or refresh cannot be shown (and would divide by zero).
    const conns = this.device.connectors().map((c) => ({ ...c, modes: c.modes.filter((m) => m.width > 0 && m.height > 0 && m.refreshMHz > 0) }));
    let changed = false;
    const keep: DrmOutput[] = [];
    for (const o of this.outputs) {
      const c = conns.find((k) => k.id === o.connector.id);
      const mode = c?.connected ? pickMode(c.modes) : null;
      if (c && mode && mode.width === o.mode.width && mode.height === o.mode.height && mode.refreshMHz === o.mode.refreshMHz) keep.push(o);
      else {
        this.log(`output ${o.name} ${c?.connected ? "changed mode" : "disconnected"}`);
        this.removeOutput(o);
        changed = true;
      }
    }
    const used = new Set(keep.map((o) => o.crtc));
    for (const c of conns) {
      if (!c.connected || keep.some((o) => o.connector.id === c.id)) continue;
      const mode = pickMode(c.modes);
      if (!mode) continue;
      const crtc = (c.crtc && !used.has(c.crtc) ? c.crtc : 0) || c.crtcs.find((x) => !used.has(x));
      if (!crtc) {
        this.log(`output ${c.name}: no free CRTC; not used`);
        continue;
      }
      used.add(crtc);
      if (!this.saved.has(crtc)) this.saved.set(crtc, this.device.saveCrtc(crtc));
      keep.push(new DrmOutput(this.device, c, crtc, mode, this.saved.get(crtc)!));
      this.log(`output ${c.name}: ${mode.width}x${mode.height}@${(mode.refreshMHz / 1000).toFixed(2)} on CRTC ${crtc}`);
      changed = true;
    }
    // Side by side in connector order.
    keep.sort((a, b) => a.connector.id - b.connector.id);
    let x = 0;
    for (const o of keep) {
      if (o.x !== x) changed = true;
      o.x = x;
      x += o.mode.width;
    }
    this.outputs = keep;
    return changed;
  }

  private removeOutput(o: DrmOutput): void {
    if (this.active)
      try {
        this.device.disableCrtc(o.crtc);
      } catch (e) {
        if (!isNotMaster(e)) throw e;
      }
    o.free(this.device);
  }

  start(handlers: BackendHandlers): void {
    this.handlers = handlers;
    for (const fd of this.device.fds) this.watches.push(watchFd(fd, () => this.onEvents()));
    for (const o of this.outputs) this.scheduleFrame(o);
  }

  scheduleFrame(out: Output): void {
    const o = out as DrmOutput;
    if (!this.outputs.includes(o)) return;
    o.wanted = true;
    this.kick(o);
  }

  private kick(o: DrmOutput): void {
    if (!this.active || o.flipping || o.queued || !this.handlers || this.destroyed) return;
    o.queued = true;
    // Requests in the same turn of the loop make one frame.
    setImmediate(() => this.frame(o));
  }

  private frame(o: DrmOutput): void {
    o.queued = false;
    if (!this.active || o.flipping || !o.wanted || this.destroyed || !this.handlers || !this.outputs.includes(o)) return;
    o.wanted = false;
    o.drew(this.handlers.render(o));
    const back = 1 - o.front;
    o.refresh(back);
    const modeset = !o.lit;
    try {
      if (modeset) this.device.setCrtc(o.crtc, o.connector.id, o.kmsMode, o.buffers[back]);
      else this.device.pageFlip(o.crtc, o.buffers[back]);
    } catch (e) {
      if (isNotMaster(e)) {
        o.wanted = true; // the frame is shown once we are back
        this.pause(`lost DRM master (${(e as Error).message})`);
      } else this.refused(o, e as Error);
      return;
    }
    if (o.failures) this.log(`output ${o.name}: frames shown again after ${o.failures} refused`);
    o.failures = 0;
    if (!modeset) {
      o.flipping = true;
      return;
    }
    o.lit = true;
    o.front = back;
    this.placeCursor();
    const t = monotonicNow();
    this.handlers.presented(o, { sec: t.sec, nsec: t.nsec, refreshNs: o.refreshNs, seq: 0 });
    if (o.wanted) this.kick(o);
  }

  /**
   * The driver refused a modeset or flip for another reason than master
   * (a busy CRTC, a sick driver, memory). That costs the frame, not weft —
   * this runs from a timer, where a throw would end the process. The frame
   * is tried again a refresh later (once a second after a second of
   * refusals); its clients wait for it, as they wait for any frame. Said
   * at the first refusal and every 600th, and when frames go through again.
   */
  private refused(o: DrmOutput, e: Error): void {
    o.failures++;
    if (o.failures === 1 || o.failures % 600 === 0) this.log(`output ${o.name}: frame refused (${e.message}); trying again`);
    o.wanted = true;
    o.queued = true;
    const ms = o.failures < 60 ? o.refreshNs / 1e6 : 1000;
    setTimeout(() => this.frame(o), ms).unref();
  }

  private onEvents(): void {
    if (this.destroyed) return;
    let hotplug = false;
    for (const ev of this.device.readEvents()) {
      if (ev.type === "hotplug") {
        hotplug = true;
        continue;
      }
      const o = this.outputs.find((x) => x.crtc === ev.crtc && x.flipping);
      if (!o) continue;
      o.flipping = false;
      o.front = 1 - o.front;
      // wp_presentation's MSC must advance; drivers without a vblank counter (virtio-gpu) report 0.
      o.seq = Math.max(ev.sequence, o.seq + 1);
      this.handlers?.presented(o, { sec: ev.sec, nsec: ev.usec * 1000, refreshNs: o.refreshNs, seq: o.seq });
      if (o.wanted) this.kick(o);
    }
    if (hotplug) this.hotplug();
  }

  private hotplug(): void {
    if (!this.active) return; // re-probed on activate()
    if (!this.probe()) return;
    this.relight();
    this.handlers?.outputsChanged?.();
  }

  /** Shows every output again from its shadow image (after a re-layout or a pause). */
  private relight(): void {
    for (const o of this.outputs) {
      o.lit = false;
      o.flipping = false;
      o.stale.fill(null); // someone else drew on the card meanwhile, maybe into our buffers
      // ... and set its cursor planes (the console's modeset turns them off): set ours again, or clear it.
      o.cursorShown = true;
      o.cursorDirty = true;
      this.scheduleFrame(o);
    }
  }

  private pause(why: string): void {
    if (!this.active) return;
    this.active = false;
    this.log(`display paused: ${why}`);
    this.handlers?.sessionChanged?.(false);
  }

  /** Gives the display up (VT switch away): stop rendering and drop DRM master. */
  deactivate(): void {
    if (!this.active) return;
    try {
      this.device.dropMaster();
    } catch (e) {
      this.log(`drmDropMaster: ${(e as Error).message}`);
    }
    this.pause("session deactivated");
  }

  /** Takes the display back: DRM master, re-probe, full repaint. False if another session still holds it. */
  activate(): boolean {
    if (this.active || this.destroyed) return this.active;
    try {
      this.device.setMaster();
    } catch (e) {
      // Once per wait: the session retries until the other one lets go.
      if (!this.heldElsewhere) this.log(`display still held elsewhere: ${(e as Error).message}`);
      this.heldElsewhere = true;
      return false;
    }
    this.heldElsewhere = false;
    this.active = true;
    this.log("display resumed");
    const changed = this.probe();
    this.relight();
    if (changed) this.handlers?.outputsChanged?.();
    this.handlers?.sessionChanged?.(true);
    return true;
  }

  drewOutsideFrame(out: Output, area: readonly Rect[]): void {
    const o = out as DrmOutput;
    if (this.outputs.includes(o)) o.drew(area);
  }

  showCursor(c: "default" | "hidden" | CursorImage): boolean {
    const size = this.device.cursorSize;
    if (c === "default" || c === "hidden") this.look = c === "hidden" ? "hidden" : null;
    else {
      if (!size || c.width > size.width || c.height > size.height) return false;
      const pixels = new Uint8Array(size.width * size.height * 4);
      const dst = pixman.createBits(Format.a8r8g8b8, size.width, size.height, pixels, size.width * 4);
      pixman.composite(Op.src, c.image, null, dst, 0, 0, 0, 0, 0, 0, c.width, c.height);
      pixman.unref(dst);
      this.look = { pixels, hotspot: { x: c.hotspotX, y: c.hotspotY } };
    }
    if (!size) return c === "default";
    for (const o of this.outputs) {
      if (!o.cursor) continue;
      if (o.cursorShown) {
        // The plane reads `cursor` until the next set: painting it would show a half-drawn cursor.
        const next = o.spareCursor ?? this.device.createCursorBuffer();
        o.spareCursor = o.cursor;
        o.cursor = next;
      }
      this.paintCursor(o.cursor);
      // Drivers read the image when it is set (virtio-gpu sends it to the host then): set it again.
      o.cursorDirty = true;
    }
    if (this.active) this.placeCursor();
    return true;
  }

  private paintCursor(b: KmsBuffer): void {
    const look = this.look;
    if (look === null || look === "hidden") return drawDefaultCursor(b);
    const row = b.width * 4;
    for (let y = 0; y < b.height; y++) b.pixels.set(look.pixels.subarray(y * row, (y + 1) * row), y * b.stride);
  }

  /** Where the pointer is (global coordinates): the cursor plane of the output under it shows the cursor. */
  moveCursor(x: number, y: number): void {
    this.cursorAt = { x, y };
    if (this.active) this.placeCursor();
  }

  private placeCursor(): void {
    const at = this.cursorAt;
    if (!at || !this.device.cursorSize) return;
    const look = this.look;
    const hot = look && look !== "hidden" ? look.hotspot : CURSOR_HOTSPOT;
    for (const o of this.outputs) {
      if (!o.lit) continue;
      const inside = look !== "hidden" && at.x >= o.x && at.x < o.x + o.mode.width && at.y >= o.y && at.y < o.y + o.mode.height;
      try {
        if (inside) {
          if (!o.cursor) {
            o.cursor = this.device.createCursorBuffer();
            this.paintCursor(o.cursor);
          }
          if (!o.cursorShown || o.cursorDirty) this.device.setCursor(o.crtc, o.cursor);
          o.cursorShown = true;
          o.cursorDirty = false;
          this.device.moveCursor(o.crtc, at.x - o.x - hot.x, at.y - o.y - hot.y);
        } else if (o.cursorShown) {
          this.device.setCursor(o.crtc, null);
          o.cursorShown = false;
        }
      } catch (e) {
        // Without master: the session code takes over. Otherwise the pointer
        // may not show on this output; that is no reason to stop (said once).
        if (!isNotMaster(e) && !o.cursorFailed) {
          o.cursorFailed = true;
          this.log(`output ${o.name}: cursor plane refused (${(e as Error).message})`);
        }
      }
    }
  }

  private freeAll(): void {
    for (const o of this.outputs) o.free(this.device);
    this.outputs = [];
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    if (this.active) {
      for (const o of this.outputs)
        try {
          if (o.cursorShown) this.device.setCursor(o.crtc, null);
        } catch {
          // restoring below matters more
        }
      for (const s of this.saved.values())
        try {
          this.device.restoreCrtc(s);
        } catch (e) {
          this.log(`could not restore CRTC ${s.crtc}: ${(e as Error).message}`);
        }
    }
    this.freeAll();
    this.device.close();
  }
}
