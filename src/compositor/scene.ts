// The scene: which surfaces are shown where, in what order, and what needs
// redrawing. Roles (xdg toplevel/popup, weft shell windows) create Views;
// the scene stacks them by layer, places new windows, tracks damage in
// output coordinates, answers "what is under this point" for input, and
// keeps keyboard focus on the window the user last clicked (or that just
// appeared).
import { contains, Damage, intersect, union, type Rect } from "./geometry.ts";
import type { Surface } from "./objects/surface.ts";
import type { Compositor } from "./compositor.ts";

/** Bottom to top. Panels (the shell's own full-output windows) sit below apps. */
export const LAYERS = ["background", "normal", "popup", "overlay"] as const;
export type Layer = (typeof LAYERS)[number];

export interface ViewHooks {
  /** Keyboard focus entered (true) or left (false) this view. */
  activated?(on: boolean): void;
  /** A repaint showed this view (after frame callbacks were sent). */
  presented?(time: { sec: number; nsec: number }, refreshNs: number): void;
  /** The view was unmapped by the scene (its surface went away). */
  unmapped?(): void;
  /** The user clicked the close button of weft's title bar. */
  close?(): void;
  /**
   * The user pressed on the border weft keeps around a window it decorates:
   * start resizing from those xdg resize_edge bits. Returns false when the
   * window cannot be resized now (maximized, fixed size).
   */
  resizeFromBorder?(edges: number): boolean;
}

/** Height of the title bar weft draws for server-side decorated windows. */
export const TITLE_HEIGHT = 24;
const CLOSE_SIZE = 16;
/** The invisible band around a decorated window (title bar included) that resizes it. */
export const BORDER = 6;
const EDGE = { top: 1, bottom: 2, left: 4, right: 8 } as const;

export class View {
  /** Output position of the surface's origin (not of its window geometry). */
  x = 0;
  y = 0;
  mapped = false;
  minimized = false;
  /** xdg window geometry relative to the surface origin, if the client set one. */
  geometry: Rect | null = null;
  /** Popups and other children that follow this view. */
  parent: View | null = null;
  /** weft draws a title bar above the window (xdg-decoration server_side). */
  decorated = false;
  constructor(
    readonly surface: Surface,
    public layer: Layer,
    readonly kind: "toplevel" | "popup" | "weft" | "cursor" | "icon",
    readonly hooks: ViewHooks = {},
  ) {}
  /** The window's visible rectangle in output coordinates. */
  frame(): Rect {
    const g = this.geometry ?? { x: 0, y: 0, width: this.surface.width, height: this.surface.height };
    return { x: this.x + g.x, y: this.y + g.y, width: g.width, height: g.height };
  }
  /** The title bar's rectangle (above the frame), if weft decorates this view. */
  titleBar(): Rect | null {
    if (!this.decorated) return null;
    const f = this.frame();
    return { x: f.x, y: f.y - TITLE_HEIGHT, width: f.width, height: TITLE_HEIGHT };
  }
  /** The close button inside the title bar. */
  closeButton(): Rect | null {
    const t = this.titleBar();
    if (!t) return null;
    const inset = (TITLE_HEIGHT - CLOSE_SIZE) / 2;
    return { x: t.x + t.width - CLOSE_SIZE - inset, y: t.y + inset, width: CLOSE_SIZE, height: CLOSE_SIZE };
  }
}

export class Scene {
  /** Bottom to top, grouped by layer. */
  views: View[] = [];
  readonly damage = new Damage();
  focused: View | null = null;
  background: [number, number, number, number] = [0.12, 0.13, 0.16, 1];
  private viewOf = new Map<Surface, View>();
  private placed = 0;

  constructor(private readonly comp: Compositor) {}

  /** The primary output (placement, maximize and fullscreen use it). */
  get output(): Rect {
    const o = this.comp.output;
    return o ? { x: o.x, y: o.y, width: o.mode.width, height: o.mode.height } : { x: 0, y: 0, width: 1, height: 1 };
  }

  /** Every output's area together (what is on screen somewhere). */
  get bounds(): Rect {
    let r: Rect | null = null;
    for (const o of this.comp.backend.outputs) {
      const a = { x: o.x, y: o.y, width: o.mode.width, height: o.mode.height };
      r = r ? union(r, a) : a;
    }
    return r ?? this.output;
  }

  // ---- views ------------------------------------------------------------------------
  /** Shows a view (on top of its layer) and damages where it appears. */
  map(v: View): void {
    if (v.mapped) return;
    v.mapped = true;
    this.viewOf.set(v.surface, v);
    this.insert(v);
    this.damageSurfaceTree(v.surface);
    this.comp.events.emit("map", v);
  }

  unmap(v: View): void {
    if (!v.mapped) return;
    this.damageSurfaceTree(v.surface);
    v.mapped = false;
    this.views = this.views.filter((x) => x !== v);
    if (this.viewOf.get(v.surface) === v) this.viewOf.delete(v.surface);
    // Children (popups) go with their parent.
    for (const c of this.views.filter((x) => x.parent === v)) {
      this.unmap(c);
      c.hooks.unmapped?.();
    }
    if (this.focused === v) {
      this.focused = null;
      const next = [...this.views].reverse().find((x) => x.layer === "normal" && x.kind !== "popup" && !x.minimized);
      this.focus(next ?? null);
    }
    this.comp.events.emit("unmap", v);
  }

  private insert(v: View): void {
    const rank = LAYERS.indexOf(v.layer);
    let i = this.views.length;
    while (i > 0 && LAYERS.indexOf(this.views[i - 1].layer) > rank) i--;
    this.views.splice(i, 0, v);
  }

  /** Moves a view to the top of its layer (its popups stay above it). */
  raise(v: View): void {
    if (!v.mapped) return;
    this.views = this.views.filter((x) => x !== v);
    this.insert(v);
    for (const c of this.views.filter((x) => x.parent === v)) this.raise(c);
    this.damageSurfaceTree(v.surface);
  }

  move(v: View, x: number, y: number): void {
    if (v.x === x && v.y === y) return;
    this.damageSurfaceTree(v.surface);
    v.x = x;
    v.y = y;
    this.damageSurfaceTree(v.surface);
  }

  /**
   * Hides (or shows again) a view without unmapping it. A minimized view is
   * not drawn, and its surfaces get no frame callbacks, so clients stop
   * rendering for nobody.
   */
  minimize(v: View, on: boolean): void {
    if (v.minimized === on) return;
    if (on) this.damageSurfaceTree(v.surface);
    v.minimized = on;
    if (!on) {
      this.damageSurfaceTree(v.surface);
      this.focus(v);
    } else if (this.focused === v) {
      const next = [...this.views].reverse().find((x) => x !== v && x.layer === "normal" && x.kind !== "popup" && !x.minimized);
      this.focus(next ?? null);
    }
  }

  setLayer(v: View, layer: Layer): void {
    if (v.layer === layer) return;
    v.layer = layer;
    if (v.mapped) this.raise(v);
  }

  /**
   * Picks a spot for a new window of size w×h: the first one is centred,
   * later ones cascade down-right from there and wrap before leaving the output.
   */
  place(width: number, height: number): { x: number; y: number } {
    const out = this.output;
    const step = 32;
    const n = this.placed++;
    const baseX = Math.max(0, Math.floor((out.width - width) / 2) - 3 * step);
    const baseY = Math.max(0, Math.floor((out.height - height) / 2) - 3 * step);
    const room = Math.max(1, Math.min(Math.floor((out.width - width - baseX) / step), Math.floor((out.height - height - baseY) / step), 7) + 1);
    const k = n % room;
    return { x: baseX + k * step, y: baseY + k * step };
  }

  /** Keyboard focus policy: the focused view is activated and raised; null clears focus. */
  focus(v: View | null): void {
    if (v && (!v.mapped || v.kind === "popup" || v.kind === "cursor" || v.kind === "icon")) return;
    if (v) this.raise(v);
    if (this.focused === v) return;
    const old = this.focused;
    this.focused = v;
    // Title bars show which window is active.
    if (old?.mapped) this.damageRect(old.titleBar());
    if (v) this.damageRect(v.titleBar());
    old?.hooks.activated?.(false);
    v?.hooks.activated?.(true);
    this.comp.seat.setKeyboardFocus(v?.surface ?? null);
    this.comp.events.emit("focus", v);
  }

  viewForSurface(s: Surface): View | undefined {
    return this.viewOf.get(s);
  }

  // ---- surfaces ----------------------------------------------------------------------
  surfaceCreated(_s: Surface): void {}

  surfaceGone(s: Surface): void {
    const v = this.viewOf.get(s);
    if (v) {
      this.unmap(v);
      v.hooks.unmapped?.();
    }
  }

  /** Where the surface's origin is on the output, if it is part of a mapped view. */
  position(s: Surface): { x: number; y: number; view: View } | null {
    let x = 0;
    let y = 0;
    let cur = s;
    while (cur.sub) {
      x += cur.sub.x;
      y += cur.sub.y;
      cur = cur.sub.parent;
      if (cur.destroyed) return null;
    }
    const v = this.viewOf.get(cur);
    if (!v || !v.mapped || v.minimized) return null;
    return { x: x + v.x, y: y + v.y, view: v };
  }

  surfaceBounds(s: Surface): Rect | null {
    const p = this.position(s);
    if (!p || !s.content) return null;
    return { x: p.x, y: p.y, width: s.width, height: s.height };
  }

  /** Is the surface on screen (so its frame callbacks may fire)? */
  shown(s: Surface): boolean {
    const b = this.surfaceBounds(s);
    return !!b && !!intersect(b, this.bounds);
  }

  damageRect(r: Rect | null): void {
    if (!r) return;
    const clipped = intersect(r, this.bounds);
    if (!clipped) return;
    this.damage.add(clipped);
    this.comp.scheduleRepaint();
  }

  damageSurface(_s: Surface, before: Rect | null, after: Rect | null): void {
    if (before && after) this.damageRect(union(before, after));
    else this.damageRect(before ?? after);
  }

  /** Damages a surface and all its subsurfaces where they are now. */
  damageSurfaceTree(s: Surface): void {
    this.forEachSurface(s, (c) => this.damageRect(this.surfaceBounds(c)));
    const v = this.viewOf.get(s);
    if (v?.mapped && !v.minimized) this.damageRect(v.titleBar());
  }

  /** Turns weft's title bar on or off for a view. */
  setDecorated(v: View, on: boolean): void {
    if (v.decorated === on) return;
    if (v.mapped) this.damageRect(v.titleBar());
    v.decorated = on;
    if (v.mapped) this.damageRect(v.titleBar());
  }

  /**
   * weft's own decoration under (x, y), topmost first, unless a surface above
   * covers the point: the title bar (`edges` 0; `close` on its button) or the
   * resize border around the window (`edges`: xdg resize_edge bits).
   */
  decorationAt(x: number, y: number): { view: View; close: boolean; edges: number } | null {
    for (let i = this.views.length - 1; i >= 0; i--) {
      const v = this.views[i];
      if (!v.mapped || v.minimized) continue;
      const t = v.titleBar();
      if (t && contains(t, x, y)) return { view: v, close: contains(v.closeButton()!, x, y), edges: 0 };
      let covered = false;
      this.forEachSurface(v.surface, (s) => {
        const b = this.surfaceBounds(s);
        if (b && contains(b, x, y)) covered = true;
      });
      if (covered) return null;
      if (t && v.hooks.resizeFromBorder) {
        const f = v.frame();
        const outer = { x: f.x - BORDER, y: t.y - BORDER, width: f.width + 2 * BORDER, height: f.height + TITLE_HEIGHT + 2 * BORDER };
        if (contains(outer, x, y)) {
          const edges =
            (y < t.y ? EDGE.top : y >= f.y + f.height ? EDGE.bottom : 0) | (x < f.x ? EDGE.left : x >= f.x + f.width ? EDGE.right : 0);
          return { view: v, close: false, edges };
        }
      }
    }
    return null;
  }

  surfaceCommitted(s: Surface): void {
    this.comp.events.emit("commit", s);
    if ((s.hasFrames || s.feedbacks.length) && (this.shown(s) || this.comp.seat.isCursor(s))) this.comp.scheduleRepaint();
  }

  /** Visits a surface tree bottom to top (subsurfaces below, itself, above). */
  forEachSurface(s: Surface, fn: (s: Surface) => void): void {
    for (const c of s.stack) {
      if (c === "self") fn(s);
      else this.forEachSurface(c, fn);
    }
  }

  /** Every surface currently shown, bottom to top. */
  shownSurfaces(): Surface[] {
    const out: Surface[] = [];
    for (const v of this.views) if (v.mapped && !v.minimized) this.forEachSurface(v.surface, (s) => this.shown(s) && out.push(s));
    return out;
  }

  /** The topmost surface accepting input at output point (x, y), with surface-local coordinates. */
  surfaceAt(x: number, y: number): { surface: Surface; sx: number; sy: number; view: View } | null {
    for (let i = this.views.length - 1; i >= 0; i--) {
      const v = this.views[i];
      // Cursors and drag icons hang under the pointer; they never take input.
      if (!v.mapped || v.minimized || v.kind === "cursor" || v.kind === "icon") continue;
      const hits: Surface[] = [];
      this.forEachSurface(v.surface, (s) => hits.push(s));
      for (let j = hits.length - 1; j >= 0; j--) {
        const s = hits[j];
        const b = this.surfaceBounds(s);
        if (!b || !contains(b, x, y)) continue;
        const sx = x - b.x;
        const sy = y - b.y;
        if (s.input && !s.input.contains(sx, sy)) continue;
        return { surface: s, sx, sy, view: v };
      }
      // weft's title bar hides what is below it.
      const t = v.titleBar();
      if (t && contains(t, x, y)) return null;
    }
    return null;
  }
}
