// wl_compositor, wl_surface, wl_region, wl_subcompositor, wl_subsurface.
//
// A surface is a rectangle of pixels with double-buffered state: requests
// (attach, damage, frame, set_buffer_scale, …) fill `pending`; commit makes
// it current in one step. What the surface *is* (a window, a popup, a
// cursor, a subsurface) is its role, assigned once by another protocol; the
// role's `commit` hook runs after every commit and decides about mapping.
import type { Pointer } from "bun:ffi";
import { frameCallbacks } from "../../../ffi/native.ts";
import { interfacePointer, ProtocolError, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import { intersect, Region, union, type Rect } from "../geometry.ts";
import { dropContent, holdContent, readBuffer, releaseIfCopied, snapshot, type Content } from "./buffer.ts";
import type { Compositor } from "../compositor.ts";

const { wl_surface, wl_subsurface, wl_subcompositor } = wayland;
frameCallbacks.init();
const callbackInterface = interfacePointer("wl_callback") as unknown as Pointer;

/**
 * A client that commits within this long of its frame callbacks is
 * "prompt": after the next frame the compositor waits (at most this long)
 * for its commit instead of going back to sleep (docs/decisions/0008).
 */
export const PROMPT_MS = 2;
type SurfaceRes = Resource<typeof wl_surface, Surface>;

/** A role is what another protocol (xdg_shell, subsurface, cursor, weft shell) makes of a surface. */
export interface Role {
  readonly name: string;
  /** Runs after each commit has been applied. */
  commit(surface: Surface): void;
  /** The wl_surface is being destroyed. */
  surfaceDestroyed?(surface: Surface): void;
}

/** Viewport state (wp_viewporter), in surface-local units. */
export interface Viewport {
  src: Rect | null; // may be fractional
  dst: { width: number; height: number } | null;
}

interface State {
  /** undefined: no attach since the last commit; null: attached nothing (unmap). */
  buffer: Resource | null | undefined;
  dx: number;
  dy: number;
  damage: Rect[];
  bufferDamage: Rect[];
  feedbacks: Resource[];
  input: Region | null | undefined;
  scale: number | undefined;
  transform: number | undefined;
  viewport: Viewport | undefined;
}
const emptyState = (): State => ({ buffer: undefined, dx: 0, dy: 0, damage: [], bufferDamage: [], feedbacks: [], input: undefined, scale: undefined, transform: undefined, viewport: undefined });

export interface SubsurfaceInfo {
  resource: Resource;
  parent: Surface;
  x: number;
  y: number;
  pendingPos: { x: number; y: number } | null;
  sync: boolean;
  cached: State | null;
}

export class Surface {
  pending = emptyState();
  content: Content | null = null;
  /** Size in surface-local (logical) pixels. */
  width = 0;
  height = 0;
  scale = 1;
  /** wl_output.transform the client applied to its buffer (0 normal … 7 flipped_270). */
  transform = 0;
  viewport: Viewport = { src: null, dst: null };
  input: Region | null = null;
  /** The attach/offset of the last commit: how far the client moved its content (roles apply it). */
  offset = { dx: 0, dy: 0 };
  /**
   * Frame callbacks (native lists, ffi/native/frame_callbacks.c): asked for
   * since the last commit; cached with a synchronized subsurface's state
   * (made when first needed); committed, answered after the next repaint
   * that shows this surface.
   */
  readonly pendingFrames = frameCallbacks.newList();
  private cachedFrames: Pointer | null = null;
  private readonly frames = frameCallbacks.newList();
  /** Committed frame callbacks are waiting (the client's disconnect may have destroyed them meanwhile). */
  hasFrames = false;
  /** Committed presentation feedbacks (wp_presentation). */
  feedbacks: Resource[] = [];
  role: Role | null = null;
  /** Set while this surface is a subsurface. */
  sub: SubsurfaceInfo | null = null;
  /** Child subsurfaces in stacking order; `this` marks where the parent itself sits. */
  stack: (Surface | "self")[] = ["self"];
  /** Changed since the last repaint (the scene asks for damage). */
  committedSinceRepaint = false;
  /** When (performance.now()) frame callbacks were last answered; 0 once the client committed again. */
  frameDoneAt = 0;
  /** The client answered its last frame callbacks with a commit within PROMPT_MS (the compositor waits for such commits). */
  prompt = false;
  destroyed = false;
  /** Outputs this surface has been told it entered. */
  readonly entered = new Set<number>();
  private destroyHooks: (() => void)[] = [];

  constructor(
    readonly resource: SurfaceRes,
    readonly comp: Compositor,
  ) {}

  get client() {
    return this.resource.client;
  }

  /** Assigns a role once; a second, different role is a protocol error on `errorOn`. */
  setRole(role: Role, errorOn: Resource, errorCode: number): void {
    if (this.role && this.role.name !== role.name) throw new ProtocolError(errorOn, errorCode, `wl_surface@${this.resource.id} already has role ${this.role.name}`);
    this.role = role;
  }

  onDestroy(fn: () => void): void {
    this.destroyHooks.push(fn);
  }

  /** Is this a subsurface that must wait for its parent's commit? */
  effectivelySync(): boolean {
    for (let s: Surface | null = this; s?.sub; s = s.sub.parent) if (s.sub.sync) return true;
    return false;
  }

  commit(): void {
    if (this.frameDoneAt) {
      this.prompt = performance.now() - this.frameDoneAt <= PROMPT_MS;
      this.frameDoneAt = 0;
    }
    if (this.sub && this.effectivelySync()) {
      // Synchronized subsurface: the state waits in a cache for the parent's commit.
      this.sub.cached = mergeState(this.sub.cached, this.pending);
      frameCallbacks.take((this.cachedFrames ??= frameCallbacks.newList()), this.pendingFrames);
      this.pending = emptyState();
      return;
    }
    const state = this.sub?.cached ? mergeState(this.sub.cached, this.pending) : this.pending;
    if (this.sub?.cached) this.takeCachedFrames();
    if (this.sub) this.sub.cached = null;
    this.pending = emptyState();
    this.hasFrames = frameCallbacks.take(this.frames, this.pendingFrames);
    this.apply(state);
  }

  /**
   * A subsurface became desynchronized: apply what its cache holds now, and
   * what its subsurfaces' caches hold — they were synchronized through it,
   * whatever their own mode (as weston does: the whole subtree).
   */
  flushCached(): void {
    // A destroyed surface keeps its wl_subsurface object until the client destroys that too.
    if (this.destroyed || !this.sub) return;
    const st = this.sub.cached;
    if (!st) return this.applyChildren(true);
    this.sub.cached = null;
    this.takeCachedFrames();
    this.apply(st, true);
  }

  /**
   * Subsurface positions apply with the parent's state; so do the cached
   * states of synchronized children — and, below a synchronized one, of
   * every descendant whatever its own mode (`synced`; weston's rule).
   */
  private applyChildren(synced: boolean): void {
    for (const c of this.stack) {
      if (c === "self" || !c.sub) continue;
      if (c.sub.pendingPos) {
        c.sub.x = c.sub.pendingPos.x;
        c.sub.y = c.sub.pendingPos.y;
        c.sub.pendingPos = null;
        this.comp.scene.damageSurfaceTree(c);
      }
      if (!synced && !c.sub.sync) continue;
      const st = c.sub.cached;
      if (!st) {
        c.applyChildren(true);
        continue;
      }
      c.sub.cached = null;
      c.takeCachedFrames();
      c.apply(st, true);
    }
  }

  /** The cached state's frame callbacks join the committed ones (its state is applied, or dropped with the subsurface role). */
  takeCachedFrames(): void {
    if (this.cachedFrames) this.hasFrames = frameCallbacks.take(this.frames, this.cachedFrames);
  }

  /** Makes `s` current; `synced`: as part of a synchronized parent's (see applyChildren). */
  private apply(s: State, synced = false): void {
    const oldBounds = this.comp.scene.surfaceBounds(this);
    if (s.scale !== undefined) this.scale = s.scale;
    if (s.transform !== undefined) this.transform = s.transform;
    if (s.viewport !== undefined) this.viewport = s.viewport;
    if (s.input !== undefined) this.input = s.input;
    let contentChanged = false;
    if (s.buffer === null) {
      this.setContent(null);
      contentChanged = true;
    } else if (s.buffer && !s.buffer.destroyed) {
      const c = readBuffer(this.resource, s.buffer);
      this.setContent(c);
      releaseIfCopied(s.buffer, c);
      contentChanged = true;
    }
    this.offset = { dx: s.dx, dy: s.dy };
    this.updateSize();
    this.applyChildren(synced);
    if (s.feedbacks.length) {
      // A new content update replaces one that was never presented.
      for (const fb of this.feedbacks) this.comp.presentation.discard(fb);
      this.feedbacks = s.feedbacks.filter((f) => !f.destroyed);
    }
    this.committedSinceRepaint = true;
    const newBounds = this.comp.scene.surfaceBounds(this);
    this.damageAfterCommit(s, contentChanged, oldBounds, newBounds);
    this.role?.commit(this);
    this.comp.scene.surfaceCommitted(this);
  }

  /**
   * What to repaint after a commit. When the surface stayed where it was,
   * at the same size and mapping, only the rectangles the client damaged
   * (a terminal's cursor, a clock's digits); anything else — moved,
   * resized, a new viewport, scale or transform, a buffer with no damage —
   * repaints where it was and where it is.
   */
  private damageAfterCommit(s: State, contentChanged: boolean, before: Rect | null, after: Rect | null): void {
    const scene = this.comp.scene;
    const remapped = s.viewport !== undefined || s.scale !== undefined || s.transform !== undefined;
    const same = before && after && before.x === after.x && before.y === after.y && before.width === after.width && before.height === after.height;
    if (!same || remapped || (contentChanged && !s.damage.length && !s.bufferDamage.length)) {
      if (!same || remapped || contentChanged) scene.damageSurface(this, before, after);
      return;
    }
    // Buffer pixels are surface pixels only when nothing maps between them; otherwise take the whole surface.
    const direct = this.scale === 1 && this.transform === 0 && !this.viewport.src && !this.viewport.dst;
    if (s.bufferDamage.length && !direct) {
      scene.damageRect(after);
      return;
    }
    for (const r of s.damage) scene.damageRect(intersect({ x: after.x + r.x, y: after.y + r.y, width: r.width, height: r.height }, after));
    for (const r of s.bufferDamage) scene.damageRect(intersect({ x: after.x + r.x, y: after.y + r.y, width: r.width, height: r.height }, after));
  }

  private bufferHook: { buffer: Resource; hook: () => void } | null = null;

  /**
   * Switches what the surface shows. The old buffer is released once no
   * surface shows it; if the client destroys the buffer we show, we copy it
   * first, so the picture stays until the next commit.
   */
  private setContent(c: Content | null): void {
    if (this.bufferHook) {
      this.bufferHook.buffer.offDestroy(this.bufferHook.hook);
      this.bufferHook = null;
    }
    holdContent(c);
    dropContent(this.content);
    this.content = c;
    if (c?.kind === "shm") {
      const hook = () => {
        if (this.content === c) {
          this.bufferHook = null;
          this.content = snapshot(c);
          dropContent(c);
        }
      };
      c.buffer.onDestroy(hook);
      this.bufferHook = { buffer: c.buffer, hook };
    }
  }

  private updateSize(): void {
    if (!this.content) {
      this.width = this.height = 0;
    } else if (this.viewport.dst) {
      this.width = this.viewport.dst.width;
      this.height = this.viewport.dst.height;
    } else if (this.viewport.src) {
      this.width = Math.round(this.viewport.src.width);
      this.height = Math.round(this.viewport.src.height);
    } else {
      const b = this.transformedBufferSize();
      this.width = Math.floor(b.width / this.scale);
      this.height = Math.floor(b.height / this.scale);
    }
  }

  /** The buffer's size once its transform is undone (90° and 270° swap width and height). */
  transformedBufferSize(): { width: number; height: number } {
    const c = this.content;
    if (!c) return { width: 0, height: 0 };
    return this.transform & 1 ? { width: c.height, height: c.width } : { width: c.width, height: c.height };
  }

  /** Answers the frame callbacks (after a repaint that showed this surface); true when there were any. */
  sendFrameDone(timeMs: number): boolean {
    if (!this.hasFrames || this.destroyed) return false;
    this.hasFrames = false;
    if (frameCallbacks.done(this.frames, timeMs) === 0) return false;
    this.frameDoneAt = performance.now();
    return true;
  }

  _destroy(): void {
    this.destroyed = true;
    this.comp.scene.damageSurfaceTree(this);
    this.comp.seat.surfaceGone(this);
    this.role?.surfaceDestroyed?.(this);
    for (const h of this.destroyHooks.splice(0)) h();
    for (const fb of this.feedbacks) this.comp.presentation.discard(fb);
    this.feedbacks = [];
    // Children lose their parent: they stay alive but are no longer shown.
    for (const c of this.stack) if (c !== "self" && c.sub) c.sub.parent = detachedParent(c);
    if (this.sub) {
      const p = this.sub.parent;
      p.stack = p.stack.filter((x) => x !== this);
    }
    this.setContent(null);
    // Never answered now: destroyed, as weston does (the client gets delete_id).
    frameCallbacks.free(this.pendingFrames);
    frameCallbacks.free(this.frames);
    if (this.cachedFrames) frameCallbacks.free(this.cachedFrames);
    this.cachedFrames = null;
    this.hasFrames = false;
    this.comp.scene.surfaceGone(this);
  }
}

// A parentless subsurface keeps a dummy parent so its code paths stay simple.
function detachedParent(child: Surface): Surface {
  return { stack: [child], sub: null, destroyed: true } as unknown as Surface;
}

function mergeState(into: State | null, s: State): State {
  if (!into) return s;
  return {
    buffer: s.buffer !== undefined ? s.buffer : into.buffer,
    dx: into.dx + s.dx,
    dy: into.dy + s.dy,
    damage: into.damage.concat(s.damage),
    bufferDamage: into.bufferDamage.concat(s.bufferDamage),
    feedbacks: s.feedbacks.length ? s.feedbacks : into.feedbacks,
    input: s.input !== undefined ? s.input : into.input,
    scale: s.scale ?? into.scale,
    transform: s.transform ?? into.transform,
    viewport: s.viewport ?? into.viewport,
  };
}

/** Pending damage stays bounded however many requests a client sends before committing. */
function addDamage(list: Rect[], r: Rect): void {
  list.push(r);
  if (list.length > 64) list.splice(0, list.length, list.reduce(union));
}

const surfaceImpl = {
  // The client is done with the surface; its role object must go first (checked by the role).
  destroy() {},
  // Attach a buffer for the next commit (null = unmap). The offset moves the surface (v5: use offset()).
  attach(r: SurfaceRes, buffer: Resource | null, x: number, y: number) {
    if (r.version >= 5 && (x !== 0 || y !== 0)) throw new ProtocolError(r, wl_surface.enums.error.invalid_offset, "attach with a non-zero offset (use wl_surface.offset)");
    r.data.pending.buffer = buffer;
    r.data.pending.dx = x;
    r.data.pending.dy = y;
  },
  damage(r: SurfaceRes, x: number, y: number, width: number, height: number) {
    addDamage(r.data.pending.damage, { x, y, width, height });
  },
  // The client wants to know when a good time to draw the next frame is.
  frame(r: SurfaceRes, id: number) {
    // False: libwayland could not allocate; the client has been told and is going.
    frameCallbacks.add(r.data.pendingFrames, r.client.ptr as unknown as Pointer, callbackInterface, r.version, id);
  },
  // Opaque regions only optimise rendering; weft's renderer does not use them yet.
  set_opaque_region() {},
  set_input_region(r: SurfaceRes, region: Resource | null) {
    r.data.pending.input = region ? (region.data as Region).clone() : null;
  },
  commit(r: SurfaceRes) {
    r.data.commit();
  },
  // The client drew its buffer rotated/flipped (to match a rotated output); weft undoes it when drawing.
  set_buffer_transform(r: SurfaceRes, transform: number) {
    if (transform < 0 || transform > 7) throw new ProtocolError(r, wl_surface.enums.error.invalid_transform, `bad transform ${transform}`);
    r.data.pending.transform = transform;
  },
  set_buffer_scale(r: SurfaceRes, scale: number) {
    if (scale < 1) throw new ProtocolError(r, wl_surface.enums.error.invalid_scale, `bad scale ${scale}`);
    r.data.pending.scale = scale;
  },
  damage_buffer(r: SurfaceRes, x: number, y: number, width: number, height: number) {
    addDamage(r.data.pending.bufferDamage, { x, y, width, height });
  },
  offset(r: SurfaceRes, x: number, y: number) {
    r.data.pending.dx = x;
    r.data.pending.dy = y;
  },
};

type RegionRes = Resource<typeof wayland.wl_region, Region>;
const regionImpl = {
  destroy() {},
  add(r: RegionRes, x: number, y: number, width: number, height: number) {
    r.data.push(true, { x, y, width, height });
  },
  subtract(r: RegionRes, x: number, y: number, width: number, height: number) {
    r.data.push(false, { x, y, width, height });
  },
};

export function registerCompositor(comp: Compositor): void {
  // wl_compositor: every client binds it to make surfaces and regions.
  comp.server.global(wayland.wl_compositor, 6, (res) => {
    res.implement(
      {
        create_surface(_r, id) {
          const s = new Surface(id as SurfaceRes, comp);
          (id as SurfaceRes).implement(surfaceImpl, s);
          id.onDestroy(() => s._destroy());
          comp.scene.surfaceCreated(s);
        },
        create_region(_r, id) {
          (id as RegionRes).implement(regionImpl, new Region());
        },
      },
      null,
    );
  });

  // wl_subcompositor: lets a client compose one window from several surfaces.
  comp.server.global(wl_subcompositor, 1, (res) => {
    res.implement(
      {
        destroy() {},
        get_subsurface(r, id, surfaceRes, parentRes) {
          const surface = surfaceRes.data as Surface;
          const parent = parentRes.data as Surface;
          if (surface === parent) throw new ProtocolError(r, wl_subcompositor.enums.error.bad_parent, "a surface cannot be its own parent");
          for (let p: Surface | null = parent; p; p = p.sub?.parent ?? null) {
            if (p === surface) throw new ProtocolError(r, wl_subcompositor.enums.error.bad_parent, "parent is a descendant of the surface");
          }
          if (surface.role && surface.role !== subsurfaceRole) throw new ProtocolError(r, wl_subcompositor.enums.error.bad_surface, `surface already has role ${surface.role.name}`);
          if (surface.sub) throw new ProtocolError(r, wl_subcompositor.enums.error.bad_surface, "surface is already a subsurface");
          surface.setRole(subsurfaceRole, r, wl_subcompositor.enums.error.bad_surface);
          surface.sub = { resource: id, parent, x: 0, y: 0, pendingPos: null, sync: true, cached: null };
          parent.stack.push(surface); // a new subsurface starts on top of its siblings
          (id as Resource<typeof wl_subsurface, Surface>).implement(subsurfaceImpl, surface);
          id.onDestroy(() => {
            // Destroying the subsurface object unmaps it at once and removes the role's link.
            if (!surface.sub) return;
            // Its cached state is dropped; the frame callbacks in it are answered with the surface's next frame.
            surface.takeCachedFrames();
            comp.scene.damageSurfaceTree(surface);
            surface.sub.parent.stack = surface.sub.parent.stack.filter((x) => x !== surface);
            surface.sub = null;
          });
        },
      },
      null,
    );
  });
}

const subsurfaceRole: Role = { name: "wl_subsurface", commit() {} };

type SubRes = Resource<typeof wl_subsurface, Surface>;
function sibling(r: SubRes, other: Resource): Surface {
  const me = r.data;
  const o = other.data as Surface;
  if (!me.sub) throw new ProtocolError(r, wl_subsurface.enums.error.bad_surface, "subsurface has no parent");
  if (o !== me.sub.parent && o.sub?.parent !== me.sub.parent) throw new ProtocolError(r, wl_subsurface.enums.error.bad_surface, "not a sibling or the parent");
  return o;
}
function restack(r: SubRes, other: Resource, above: boolean) {
  const me = r.data;
  const o = sibling(r, other);
  const parent = me.sub!.parent;
  const list = parent.stack.filter((x) => x !== me);
  const i = list.indexOf(o === parent ? "self" : o);
  list.splice(above ? i + 1 : i, 0, me);
  parent.stack = list;
  me.comp.scene.damageSurfaceTree(me);
}
const subsurfaceImpl = {
  destroy() {},
  // Position relative to the parent; applies on the parent's next commit.
  set_position(r: SubRes, x: number, y: number) {
    if (r.data.sub) r.data.sub.pendingPos = { x, y };
  },
  place_above(r: SubRes, sib: Resource) {
    restack(r, sib, true);
  },
  place_below(r: SubRes, sib: Resource) {
    restack(r, sib, false);
  },
  set_sync(r: SubRes) {
    if (r.data.sub) r.data.sub.sync = true;
  },
  // Desynchronized: commits apply at once — flush what was cached.
  set_desync(r: SubRes) {
    const s = r.data;
    if (!s.sub) return;
    s.sub.sync = false;
    if (!s.effectivelySync()) s.flushCached();
  },
};
