// The headless backend: one virtual output whose "scanout" is a memory
// buffer. Frames follow a virtual vblank grid at the configured refresh, and
// only happen when asked for (nothing damaged → no timer, no CPU).
import { Format, pixman } from "../../../ffi/pixman.ts";
import { monotonicNow } from "../../../ffi/wayland.ts";
import type { Backend, BackendHandlers, FrameInfo, Output } from "./backend.ts";

export interface HeadlessOptions {
  width: number;
  height: number;
  /** Hz */
  refresh: number;
}

export class HeadlessBackend implements Backend {
  readonly outputs: Output[];
  private handlers: BackendHandlers | null = null;
  /** The armed frame timer, if any. */
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly onTimer = () => this.frame();
  private readonly periodMs: number;
  private lastVblank = 0;
  /** The grid point the armed timer is for. */
  private target = 0;
  private seq = 0;
  private destroyed = false;

  constructor(opts: HeadlessOptions) {
    const { width, height, refresh } = opts;
    if (!(width > 0 && height > 0 && width <= 16384 && height <= 16384)) throw new Error(`bad output size ${width}x${height}`);
    if (!(refresh > 0 && refresh <= 1000)) throw new Error(`bad refresh rate ${refresh}`);
    const pixels = new Uint8Array(width * height * 4);
    this.outputs = [
      {
        name: "HEADLESS-1",
        x: 0,
        y: 0,
        description: `weft headless output ${width}x${height}@${refresh}`,
        make: "weft",
        model: "headless",
        mode: { width, height, refreshMHz: Math.round(refresh * 1000) },
        physicalMm: { width: Math.round((width * 25.4) / 96), height: Math.round((height * 25.4) / 96) },
        image: pixman.createBits(Format.x8r8g8b8, width, height, pixels, width * 4),
        pixels,
        stride: width * 4,
      },
    ];
    this.periodMs = 1000 / refresh;
  }

  /** Is a frame scheduled? (False while idle: the frame clock sleeps.) */
  get scheduled(): boolean {
    return this.timer !== null;
  }

  start(handlers: BackendHandlers): void {
    this.handlers = handlers;
  }

  scheduleFrame(_o: Output): void {
    if (this.timer || this.destroyed || !this.handlers) return;
    // Next point on the vblank grid that is not in the past.
    const now = performance.now();
    const k = Math.max(1, Math.ceil((now - this.lastVblank) / this.periodMs));
    const next = this.lastVblank === 0 || now - this.lastVblank > 10 * this.periodMs ? now : this.lastVblank + k * this.periodMs;
    this.target = next;
    // Whole milliseconds, rounded up: Bun runs a fractional delay rounded
    // down, so the frame would come up to 1 ms before its grid point.
    // One timer per delay, re-armed with refresh(): a new Bun timer per frame
    // cost an allocation and a few µs of Bun's own code, 60 times a second.
    const delay = Math.max(0, Math.ceil(next - now));
    let t = this.timers.get(delay);
    if (t) t.refresh();
    else {
      t = setTimeout(this.onTimer, delay);
      if (delay <= 50) this.timers.set(delay, t); // a slow refresh's long delays are not worth keeping
    }
    this.timer = t;
  }

  private frame(): void {
    this.timer = null;
    if (this.destroyed || !this.handlers) return;
    // The grid stays where it was planned: re-anchoring it at every timer's
    // firing time let it drift with Bun's millisecond rounding (62 Hz, not
    // 60, measured with weston-simple-shm). A timer that fired much later
    // than its grid point (a loaded machine) does move the grid, so the
    // next frame still comes a period after this one, not right behind it.
    const now = performance.now();
    this.lastVblank = now - this.target > this.periodMs / 4 ? now : this.target;
    const out = this.outputs[0];
    this.handlers.render(out);
    const t = monotonicNow();
    this.handlers.presented(out, { sec: t.sec, nsec: t.nsec, refreshNs: Math.round(this.periodMs * 1e6), seq: ++this.seq });
  }

  destroy(): void {
    this.destroyed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const o of this.outputs) pixman.unref(o.image);
  }
}
