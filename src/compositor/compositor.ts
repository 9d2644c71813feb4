// The compositor: one Wayland display on weft's event loop, the globals
// clients see, the scene, and a backend that shows frames.
//
// Data path of a request (ARCHITECTURE.md): client socket → libwayland →
// the display's epoll fd becomes readable → Bun's epoll wakes the loop →
// wl_event_loop_dispatch → our dispatcher → objects/* → scene damage →
// backend frame at the next refresh → render → frame callbacks +
// presentation feedback → flush.
//
// Limitations (kept true): outputs side by side, one frame clock each, but
// placement, maximize and fullscreen use the first; software rendering only;
// drag-and-drop by pointer only; weft's title bars carry no text.
import { EventEmitter } from "node:events";
import { wl, type Pointer } from "../../ffi/wayland.ts";
import { watchInLoop, type InLoopWatch } from "../loop/in-loop.ts";
import { Server } from "./wl.ts";
import { Scene, View } from "./scene.ts";
import { render } from "./render/renderer.ts";
import { encodePng } from "./render/png.ts";
import { HeadlessBackend } from "./backend/headless.ts";
import type { Backend, FrameInfo, Output } from "./backend/backend.ts";
import { withImage } from "./objects/buffer.ts";
import type { Rect } from "./geometry.ts";
import { PROMPT_MS, registerCompositor, type Surface } from "./objects/surface.ts";
import { enterOutputs, registerOutput, syncOutputs } from "./objects/output.ts";
import { Seat } from "./objects/seat.ts";
import { registerXdgShell } from "./objects/xdg-shell.ts";
import { Presentation } from "./objects/presentation.ts";
import { registerViewporter } from "./objects/viewporter.ts";
import { registerSinglePixelBuffer } from "./objects/single-pixel-buffer.ts";
import { registerDecoration } from "./objects/decoration.ts";
import { registerCursorShape } from "./objects/cursor-shape.ts";
import { DataDevice } from "./objects/data-device.ts";
import { WeftShell } from "./objects/weft-shell.ts";
import { DEFAULT_PING, PingTracker, type PingOptions } from "./objects/xdg-ping.ts";

export interface CompositorOptions {
  width?: number;
  height?: number;
  /** Hz */
  refresh?: number;
  /** Socket name (relative to XDG_RUNTIME_DIR) or absolute path; default: wayland-N. */
  socket?: string;
  /** A backend to use instead of a new headless one. */
  backend?: Backend;
  /** When and how long to wait for xdg_wm_base pongs (tests shorten them). */
  ping?: Partial<PingOptions>;
}

export class Compositor {
  readonly server = new Server();
  readonly backend: Backend;
  readonly scene: Scene;
  readonly seat: Seat;
  readonly presentation: Presentation;
  readonly dataDevice: DataDevice;
  readonly shell: WeftShell;
  readonly pings: PingTracker;
  /** "map" | "unmap" | "focus" | "commit" | "frame" | "selection" | "move" | "resize" | "unresponsive" | "responsive" (for tests, tools and the appd). */
  readonly events = new EventEmitter();
  socket = "";
  frames = 0;
  /** Frames after which a prompt client's commit was awaited and came in time (decision 0008). */
  awaitedCommits = 0;
  private watch: InLoopWatch | null = null;
  /** Damage each output has not drawn yet (outputs refresh on their own clocks). */
  private readonly outputDamage = new Map<Output, Rect[]>();

  constructor(opts: CompositorOptions = {}) {
    this.events.setMaxListeners(0);
    this.backend = opts.backend ?? new HeadlessBackend({ width: opts.width ?? 1280, height: opts.height ?? 720, refresh: opts.refresh ?? 60 });
    this.scene = new Scene(this);
    this.pings = new PingTracker(this, { ...DEFAULT_PING, ...opts.ping });
    // wl_shm is libwayland's own (see objects/buffer.ts); argb8888 and xrgb8888 are always on.
    if (wl.wl_display_init_shm(this.server.display as unknown as Pointer) !== 0) throw new Error("wl_display_init_shm failed");
    registerCompositor(this);
    registerOutput(this);
    this.seat = new Seat(this);
    this.presentation = new Presentation(this);
    this.dataDevice = new DataDevice(this);
    registerXdgShell(this);
    registerDecoration(this);
    registerViewporter(this);
    registerSinglePixelBuffer(this);
    registerCursorShape(this);
    this.shell = new WeftShell(this);
    this.backend.start({ render: (o) => this.render(o), presented: (o, info) => this.presented(o, info), outputsChanged: () => this.outputsChanged() });
    this.socket = this.server.addSocket(opts.socket);
    // libwayland's epoll fd never hangs up: it can sit in Bun's own epoll (one wake-up per request, decision 0010).
    this.watch = watchInLoop(this.server.eventLoopFd(), () => this.server.dispatch());
    this.scene.damageRect(this.scene.output);
  }

  /** How the display's fd wakes the loop: "loop" once it sits in Bun's own epoll (decision 0010). */
  get displayWatch(): "thread" | "loop" | "closed" {
    return this.watch?.mode ?? "closed";
  }

  get output(): Output {
    return this.backend.outputs[0];
  }

  scheduleRepaint(): void {
    for (const o of this.backend.outputs) this.backend.scheduleFrame(o);
  }

  /** A client cursor composited into the frame (see showCursor). */
  private softCursor: { view: View; hotspotX: number; hotspotY: number } | null = null;

  private render(o: Output): Rect[] {
    const fresh = this.scene.damage.clear();
    if (fresh.length) for (const out of this.backend.outputs) this.outputDamage.set(out, [...(this.outputDamage.get(out) ?? []), ...fresh]);
    const mine = this.outputDamage.get(o) ?? [];
    this.outputDamage.delete(o);
    render(this.scene, { image: o.image, width: o.mode.width, height: o.mode.height, x: o.x, y: o.y }, mine);
    return mine;
  }

  /**
   * The pointer's look changed (seat): hand it to the backend's cursor
   * plane, if it has one. A client cursor the plane cannot take (too large)
   * is composited into the frame at the pointer instead, the plane hidden.
   */
  showCursor(c: "default" | "hidden" | { surface: Surface; hotspotX: number; hotspotY: number }): void {
    const show = this.backend.showCursor?.bind(this.backend);
    if (!show) return;
    if (typeof c === "string") {
      this.dropSoftCursor();
      return void show(c);
    }
    const content = c.surface.content;
    // Committed without a buffer yet, or a single-pixel buffer: nothing to show on a plane.
    if (!content || content.kind === "color") {
      this.dropSoftCursor();
      return void show("hidden");
    }
    let shown = false;
    withImage(content, (image) => (shown = show({ image, width: content.width, height: content.height, hotspotX: c.hotspotX, hotspotY: c.hotspotY })));
    if (shown) return this.dropSoftCursor();
    show("hidden");
    this.placeSoftCursor(c.surface, c.hotspotX, c.hotspotY);
  }

  /** The seat's pointer moved: a composited cursor follows. */
  pointerMoved(): void {
    const s = this.softCursor;
    if (s) this.placeSoftCursor(s.view.surface, s.hotspotX, s.hotspotY);
  }

  private placeSoftCursor(surface: Surface, hotspotX: number, hotspotY: number): void {
    if (this.softCursor?.view.surface !== surface) {
      this.dropSoftCursor();
      this.softCursor = { view: new View(surface, "overlay", "icon"), hotspotX, hotspotY };
    }
    const s = this.softCursor!;
    s.hotspotX = hotspotX;
    s.hotspotY = hotspotY;
    const x = this.seat.x - hotspotX;
    const y = this.seat.y - hotspotY;
    if (!s.view.mapped) {
      s.view.x = x;
      s.view.y = y;
      this.scene.map(s.view);
    } else this.scene.move(s.view, x, y);
  }

  private dropSoftCursor(): void {
    if (this.softCursor?.view.mapped) this.scene.unmap(this.softCursor.view);
    this.softCursor = null;
  }

  /** Hotplug: wl_output globals follow the backend's outputs, and everything is drawn again. */
  private outputsChanged(): void {
    for (const o of this.outputDamage.keys()) if (!this.backend.outputs.includes(o)) this.outputDamage.delete(o);
    syncOutputs(this);
    this.scene.damageRect(this.scene.bounds);
  }

  /** After a frame is shown: answer frame callbacks and presentation feedback of what was on it. */
  private presented(_o: Output, info: FrameInfo): void {
    this.frames++;
    const ms = info.sec * 1000 + Math.floor(info.nsec / 1e6);
    for (const v of this.scene.views) if (v.mapped && !v.minimized && v.surface.committedSinceRepaint) v.hooks.presented?.(info, info.refreshNs);
    let awaited: Surface[] | null = null;
    for (const s of this.scene.shownSurfaces()) {
      if (s.committedSinceRepaint) this.presentation.presented(s, info);
      s.committedSinceRepaint = false;
      if (s.sendFrameDone(ms) && s.prompt) (awaited ??= []).push(s);
      enterOutputs(s);
    }
    this.seat.cursorFrameDone(ms);
    const w = awaited && this.watch;
    if (!w) {
      this.server.flush();
      this.events.emit("frame", info);
      return;
    }
    // Paused before the flush that sends the callbacks, so a quick answer
    // cannot wake the loop as well (for nothing: it is read here).
    w.pause();
    try {
      this.server.flush();
      this.events.emit("frame", info);
      this.awaitCommits(awaited!);
    } finally {
      w.resume();
    }
  }

  /**
   * One wake-up per frame (docs/decisions/0008). A client that redraws on
   * its frame callback commits a fraction of a millisecond after them;
   * going back to sleep would cost the loop a second wake-up for that
   * commit (a Bun wake-up, 70–90 µs of CPU on this VM). So for clients that
   * answered the last frame within PROMPT_MS, wait here — in libwayland's
   * own epoll, the display's watch paused by presented() — until they have committed or
   * PROMPT_MS has passed. The loop is held at most that long per frame
   * (+1 ms: epoll waits in whole milliseconds).
   */
  private awaitCommits(awaited: Surface[]): void {
    const deadline = performance.now() + PROMPT_MS;
    for (;;) {
      if (!awaited.some((s) => s.frameDoneAt !== 0 && !s.destroyed)) {
        this.awaitedCommits++;
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) return;
      this.server.dispatch(Math.max(1, Math.floor(left)));
    }
  }

  /** The output's pixels now (BGRX, a copy). */
  snapshot(): { width: number; height: number; pixels: Uint8Array } {
    const o = this.output;
    return { width: o.mode.width, height: o.mode.height, pixels: o.pixels.slice() };
  }

  /** Renders pending damage at once and returns a PNG of the output. */
  screenshot(): Uint8Array {
    const o = this.output;
    const drawn = this.render(o);
    if (drawn.length) this.backend.drewOutsideFrame?.(o, drawn);
    return encodePng(o.pixels, o.mode.width, o.mode.height, o.stride);
  }

  /** Resolves on the next presented frame (tests use this instead of sleeping). */
  nextFrame(): Promise<FrameInfo> {
    this.scheduleRepaint();
    return new Promise((resolve) => this.events.once("frame", resolve));
  }

  destroy(): void {
    if (!this.watch) return;
    this.watch.close();
    this.watch = null;
    this.shell.closeAll();
    this.pings.destroy();
    this.server.destroy();
    this.backend.destroy();
  }
}
