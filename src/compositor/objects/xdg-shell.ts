// xdg_wm_base (v6): desktop windows (toplevels) and menus (popups).
//
// The dance every window does: get_xdg_surface + get_toplevel, an initial
// commit with no buffer, our configure (size + states + serial), the
// client's ack_configure, then a commit with a buffer — and only then is the
// window mapped. Every later change we want (maximize, activation) goes
// through the same configure → ack → commit loop.
import { ProtocolError, type Resource } from "../wl.ts";
import { xdg_shell } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Role, Surface } from "./surface.ts";
import { TITLE_HEIGHT, View } from "../scene.ts";
import type { Rect } from "../geometry.ts";

const { xdg_wm_base, xdg_positioner, xdg_surface, xdg_toplevel, xdg_popup } = xdg_shell;
const WM_ERR = xdg_wm_base.enums.error;
const SURF_ERR = xdg_surface.enums.error;
const STATE = xdg_toplevel.enums.state;

type WmBaseRes = Resource<typeof xdg_wm_base, { surfaces: Set<XdgSurface> }>;
type XdgSurfaceRes = Resource<typeof xdg_surface, XdgSurface>;
type ToplevelRes = Resource<typeof xdg_toplevel, Toplevel>;
type PopupRes = Resource<typeof xdg_popup, Popup>;
type PositionerRes = Resource<typeof xdg_positioner, Positioner>;

// ---- positioner --------------------------------------------------------------------------
export interface Positioner {
  width: number;
  height: number;
  anchorRect: Rect | null;
  anchor: number;
  gravity: number;
  constraints: number;
  offsetX: number;
  offsetY: number;
  reactive: boolean;
}

const A = xdg_positioner.enums.anchor;
const C = xdg_positioner.enums.constraint_adjustment;
const hasLeft = (e: number) => e === A.left || e === A.top_left || e === A.bottom_left;
const hasRight = (e: number) => e === A.right || e === A.top_right || e === A.bottom_right;
const hasTop = (e: number) => e === A.top || e === A.top_left || e === A.top_right;
const hasBottom = (e: number) => e === A.bottom || e === A.bottom_left || e === A.bottom_right;

function flipH(e: number): number {
  const m: Record<number, number> = { [A.left]: A.right, [A.right]: A.left, [A.top_left]: A.top_right, [A.top_right]: A.top_left, [A.bottom_left]: A.bottom_right, [A.bottom_right]: A.bottom_left };
  return m[e] ?? e;
}
function flipV(e: number): number {
  const m: Record<number, number> = { [A.top]: A.bottom, [A.bottom]: A.top, [A.top_left]: A.bottom_left, [A.bottom_left]: A.top_left, [A.top_right]: A.bottom_right, [A.bottom_right]: A.top_right };
  return m[e] ?? e;
}

/**
 * Places a popup of the positioner's size relative to its parent's window
 * geometry, then keeps it on the output (`bounds`, same coordinates) with the
 * allowed adjustments: flip first, then slide.
 */
export function placePopup(p: Positioner, bounds: Rect): Rect {
  const at = (anchor: number, gravity: number): Rect => {
    const ar = p.anchorRect!;
    const ax = hasLeft(anchor) ? ar.x : hasRight(anchor) ? ar.x + ar.width : ar.x + Math.floor(ar.width / 2);
    const ay = hasTop(anchor) ? ar.y : hasBottom(anchor) ? ar.y + ar.height : ar.y + Math.floor(ar.height / 2);
    let x = ax + p.offsetX;
    let y = ay + p.offsetY;
    if (hasLeft(gravity)) x -= p.width;
    else if (!hasRight(gravity)) x -= Math.floor(p.width / 2);
    if (hasTop(gravity)) y -= p.height;
    else if (!hasBottom(gravity)) y -= Math.floor(p.height / 2);
    return { x, y, width: p.width, height: p.height };
  };
  const outX = (r: Rect) => r.x < bounds.x || r.x + r.width > bounds.x + bounds.width;
  const outY = (r: Rect) => r.y < bounds.y || r.y + r.height > bounds.y + bounds.height;
  let r = at(p.anchor, p.gravity);
  if (outX(r) && p.constraints & C.flip_x) {
    const f = at(flipH(p.anchor), flipH(p.gravity));
    if (!outX(f)) r = { ...r, x: f.x };
  }
  if (outY(r) && p.constraints & C.flip_y) {
    const f = at(flipV(p.anchor), flipV(p.gravity));
    if (!outY(f)) r = { ...r, y: f.y };
  }
  if (outX(r) && p.constraints & C.slide_x) r.x = Math.max(bounds.x, Math.min(r.x, bounds.x + bounds.width - r.width));
  if (outY(r) && p.constraints & C.slide_y) r.y = Math.max(bounds.y, Math.min(r.y, bounds.y + bounds.height - r.height));
  return r;
}

const positionerImpl = {
  destroy() {},
  set_size(r: PositionerRes, w: number, h: number) {
    if (w <= 0 || h <= 0) throw new ProtocolError(r, xdg_positioner.enums.error.invalid_input, "size must be positive");
    r.data.width = w;
    r.data.height = h;
  },
  set_anchor_rect(r: PositionerRes, x: number, y: number, w: number, h: number) {
    if (w < 0 || h < 0) throw new ProtocolError(r, xdg_positioner.enums.error.invalid_input, "negative anchor rect");
    r.data.anchorRect = { x, y, width: w, height: h };
  },
  set_anchor(r: PositionerRes, a: number) {
    if (a > A.bottom_right) throw new ProtocolError(r, xdg_positioner.enums.error.invalid_input, "bad anchor");
    r.data.anchor = a;
  },
  set_gravity(r: PositionerRes, g: number) {
    if (g > A.bottom_right) throw new ProtocolError(r, xdg_positioner.enums.error.invalid_input, "bad gravity");
    r.data.gravity = g;
  },
  set_constraint_adjustment(r: PositionerRes, c: number) {
    r.data.constraints = c;
  },
  set_offset(r: PositionerRes, x: number, y: number) {
    r.data.offsetX = x;
    r.data.offsetY = y;
  },
  set_reactive(r: PositionerRes) {
    r.data.reactive = true;
  },
  set_parent_size() {},
  set_parent_configure() {},
};

// ---- xdg_surface -----------------------------------------------------------------------------
export class XdgSurface {
  role: Toplevel | Popup | null = null;
  /** The client acked a configure since the last (re)start of the dance. */
  configured = false;
  initialCommitDone = false;
  sentSerials: number[] = [];
  geometry: Rect | null = null;
  pendingGeometry: Rect | null = null;
  /** The serial of the last configure the client acked. */
  acked = 0;
  private configureQueued = false;

  constructor(
    readonly res: XdgSurfaceRes,
    readonly surface: Surface,
    readonly comp: Compositor,
  ) {}

  /** Sends one configure at the end of this dispatch (coalesces several changes). */
  scheduleConfigure(): void {
    if (this.configureQueued || !this.initialCommitDone) return;
    this.configureQueued = true;
    queueMicrotask(() => {
      this.configureQueued = false;
      if (!this.res.destroyed && this.role) this.sendConfigure();
    });
  }

  sendConfigure(): number {
    this.role!.sendConfigure();
    const serial = this.comp.server.nextSerial();
    this.sentSerials.push(serial);
    if (this.sentSerials.length > 64) this.sentSerials.shift();
    this.res.post("configure", serial);
    this.comp.server.scheduleFlush();
    return serial;
  }

  /** Shared commit logic; returns true when the surface has acked content to show. */
  commit(): boolean {
    if (this.pendingGeometry) {
      this.geometry = this.pendingGeometry;
      this.pendingGeometry = null;
    }
    if (!this.initialCommitDone) {
      if (this.surface.content) throw new ProtocolError(this.res, SURF_ERR.unconfigured_buffer, "buffer committed before the first configure");
      this.initialCommitDone = true;
      this.sendConfigure();
      return false;
    }
    if (!this.surface.content) {
      // Unmapped: the client must do the initial-commit dance again.
      this.initialCommitDone = false;
      this.configured = false;
      return false;
    }
    if (!this.configured) throw new ProtocolError(this.res, SURF_ERR.unconfigured_buffer, "buffer committed before ack_configure");
    return true;
  }
}

// ---- toplevel ----------------------------------------------------------------------------------
export class Toplevel {
  title = "";
  appId = "";
  view: View;
  maximized = false;
  fullscreen = false;
  activated = false;
  minimized = false;
  /** Who draws the frame (xdg-decoration): "server" = weft's title bar. */
  decoration: "client" | "server" = "client";
  minSize = { width: 0, height: 0 };
  maxSize = { width: 0, height: 0 };
  private floating: { x: number; y: number; width: number; height: number } | null = null;
  /** A size to ask for in the next floating configure (after unmaximize), then 0×0: the client decides. */
  private askSize: { width: number; height: number } | null = null;
  /**
   * An interactive resize: the size the user dragged to, and the window
   * edge that must stay put (the one opposite the dragged edge) until the
   * client has drawn the size of the configure that ended the resize.
   */
  resize: { width: number; height: number; active: boolean; edges: number; right: number; bottom: number; endSerial: number } | null = null;
  constructor(
    readonly res: ToplevelRes,
    readonly xdg: XdgSurface,
  ) {
    this.view = new View(xdg.surface, "normal", "toplevel", {
      activated: (on) => {
        this.activated = on;
        this.xdg.scheduleConfigure();
      },
      close: () => this.close(),
      resizeFromBorder: (edges) => this.startResize(null, 0, edges),
    });
  }

  sendConfigure(): void {
    const comp = this.xdg.comp;
    const out = comp.scene.output;
    const states: number[] = [];
    let w = 0;
    let h = 0;
    if (this.maximized || this.fullscreen) {
      w = out.width;
      // A maximized window keeps weft's title bar on screen; fullscreen has none.
      h = out.height - (this.maximized && !this.fullscreen && this.view.decorated ? TITLE_HEIGHT : 0);
      states.push(this.fullscreen ? STATE.fullscreen : STATE.maximized);
    } else if (this.resize) {
      w = this.resize.width;
      h = this.resize.height;
      if (this.resize.active) states.push(STATE.resizing);
    } else if (this.askSize) {
      w = this.askSize.width;
      h = this.askSize.height;
      this.askSize = null;
    }
    if (this.activated) states.push(STATE.activated);
    if (this.res.version >= 4) this.res.post("configure_bounds", out.width, out.height);
    this.res.post("configure", w, h, new Uint8Array(new Uint32Array(states).buffer));
  }

  commit(): void {
    const scene = this.xdg.comp.scene;
    const show = this.xdg.commit();
    if (!show) {
      if (this.view.mapped) scene.unmap(this.view);
      return;
    }
    // weft's title bar follows the window's width: a resize must repaint it where it was and where it is now.
    const barBefore = this.view.mapped && !this.view.minimized ? this.view.titleBar() : null;
    this.view.geometry = this.xdg.geometry;
    const g = this.view.geometry ?? { x: 0, y: 0, width: this.xdg.surface.width, height: this.xdg.surface.height };
    scene.setDecorated(this.view, this.decoration === "server" && !this.fullscreen);
    const bar = this.view.decorated ? TITLE_HEIGHT : 0;
    if (this.maximized || this.fullscreen) scene.move(this.view, -g.x, -g.y + bar);
    else if (this.view.mapped && this.resize) {
      // Dragging the left or top edge: keep the opposite edge where it was.
      const r = this.resize;
      const f = this.view.frame();
      const x = r.edges & 4 ? r.right - f.width - g.x : this.view.x;
      const y = r.edges & 1 ? r.bottom - f.height - g.y : this.view.y;
      scene.move(this.view, x, y);
      if (!r.active && this.xdg.acked >= r.endSerial) this.resize = null;
    } else if (this.view.mapped && (this.xdg.surface.offset.dx || this.xdg.surface.offset.dy)) {
      // The client moved its content (wl_surface.offset).
      scene.move(this.view, this.view.x + this.xdg.surface.offset.dx, this.view.y + this.xdg.surface.offset.dy);
    }
    if (barBefore) {
      const barAfter = this.view.titleBar();
      if (!barAfter || barAfter.x !== barBefore.x || barAfter.y !== barBefore.y || barAfter.width !== barBefore.width) {
        scene.damageRect(barBefore);
        scene.damageRect(barAfter);
      }
    }
    if (!this.view.mapped) {
      if (!this.maximized && !this.fullscreen) {
        const at = scene.place(g.width, g.height + bar);
        this.view.x = at.x - g.x;
        this.view.y = at.y - g.y + bar;
      }
      this.view.minimized = this.minimized = false;
      scene.map(this.view);
      // New windows get keyboard focus (like tinywl), unless a popup grab holds it.
      scene.focus(this.view);
      this.xdg.comp.seat.repick();
    }
  }

  setMaximized(on: boolean, fullscreen = false): void {
    const scene = this.xdg.comp.scene;
    if (on && !this.maximized && !this.fullscreen && this.view.mapped) {
      const f = this.view.frame();
      this.floating = { x: this.view.x, y: this.view.y, width: f.width, height: f.height };
    }
    if (fullscreen) this.fullscreen = on;
    else this.maximized = on;
    if (!this.maximized && !this.fullscreen && this.floating && this.view.mapped) {
      scene.move(this.view, this.floating.x, this.floating.y);
      this.askSize = { width: this.floating.width, height: this.floating.height };
      this.floating = null;
    }
    this.xdg.scheduleConfigure();
  }

  /**
   * xdg_toplevel.resize (the client quoting the press that asked for it), or
   * weft's own border pressed (`seatClient` null). Once granted, every
   * pointer motion asks for a new size (configure with the resizing state);
   * releasing the button sends a last configure without it.
   */
  startResize(seatClient: number | null, serial: number, edges: number): boolean {
    if (this.maximized || this.fullscreen) return false;
    const fixed = this.minSize.width > 0 && this.minSize.width === this.maxSize.width && this.minSize.height > 0 && this.minSize.height === this.maxSize.height;
    if (seatClient === null && fixed) return false;
    const f = this.view.frame();
    const comp = this.xdg.comp;
    const clamp = (v: number, min: number, max: number) => Math.max(min || 1, max ? Math.min(max, v) : v);
    const grab = {
      view: this.view,
      edges,
      width0: f.width,
      height0: f.height,
      update: (w: number, h: number) => {
        if (!this.resize) return;
        this.resize.width = clamp(w, this.minSize.width, this.maxSize.width);
        this.resize.height = clamp(h, this.minSize.height, this.maxSize.height);
        this.xdg.scheduleConfigure();
      },
      end: () => {
        if (!this.resize || this.res.destroyed) return;
        this.resize.active = false;
        this.resize.endSerial = this.xdg.sendConfigure();
      },
    };
    const granted = seatClient === null ? comp.seat.startBorderResize(grab) : comp.seat.startResize(grab, seatClient, serial);
    if (granted) this.resize = { width: f.width, height: f.height, active: true, edges, right: f.x + f.width, bottom: f.y + f.height, endSerial: Infinity };
    return granted;
  }

  /** Asks the client to close (it decides; it may show a dialog). */
  close(): void {
    this.res.post("close");
    this.xdg.comp.server.scheduleFlush();
  }
}

const toplevelImpl = {
  destroy(r: ToplevelRes) {
    r.data.xdg.comp.scene.unmap(r.data.view);
  },
  set_parent(r: ToplevelRes, parent: Resource | null) {
    if (parent && parent.data === r.data) throw new ProtocolError(r, xdg_toplevel.enums.error.invalid_parent, "a toplevel cannot be its own parent");
    r.data.view.parent = parent ? (parent.data as Toplevel).view : null;
  },
  set_title(r: ToplevelRes, title: string) {
    r.data.title = title;
  },
  set_app_id(r: ToplevelRes, id: string) {
    r.data.appId = id;
  },
  show_window_menu() {},
  // The user pressed on the client's title bar (client-side decorations): drag the window.
  move(r: ToplevelRes, _seat: Resource, serial: number) {
    const t = r.data;
    if (!t.view.mapped || t.maximized || t.fullscreen) return;
    t.xdg.comp.seat.startMove(t.view, r.client.ptr, serial);
  },
  // The user pressed on the client's window border: resize while the button is held.
  resize(r: ToplevelRes, _seat: Resource, serial: number, edges: number) {
    if (!(Object.values(xdg_toplevel.enums.resize_edge) as number[]).includes(edges)) throw new ProtocolError(r, xdg_toplevel.enums.error.invalid_resize_edge, `bad edge ${edges}`);
    const t = r.data;
    if (!t.view.mapped || t.maximized || t.fullscreen || edges === 0) return;
    t.startResize(r.client.ptr, serial, edges);
  },
  set_max_size(r: ToplevelRes, w: number, h: number) {
    if (w < 0 || h < 0) throw new ProtocolError(r, xdg_toplevel.enums.error.invalid_size, "negative max size");
    r.data.maxSize = { width: w, height: h };
  },
  set_min_size(r: ToplevelRes, w: number, h: number) {
    if (w < 0 || h < 0) throw new ProtocolError(r, xdg_toplevel.enums.error.invalid_size, "negative min size");
    r.data.minSize = { width: w, height: h };
  },
  set_maximized(r: ToplevelRes) {
    r.data.setMaximized(true);
  },
  unset_maximized(r: ToplevelRes) {
    r.data.setMaximized(false);
  },
  set_fullscreen(r: ToplevelRes) {
    r.data.setMaximized(true, true);
  },
  unset_fullscreen(r: ToplevelRes) {
    r.data.setMaximized(false, true);
  },
  // Minimized windows are not shown (and get no frame callbacks) until focused again.
  set_minimized(r: ToplevelRes) {
    const t = r.data;
    if (!t.view.mapped) return;
    t.minimized = true;
    t.xdg.comp.scene.minimize(t.view, true);
  },
};

// ---- popup ------------------------------------------------------------------------------------------
export class Popup {
  view: View;
  rect: Rect = { x: 0, y: 0, width: 0, height: 0 };
  grabbed = false;
  constructor(
    readonly res: PopupRes,
    readonly xdg: XdgSurface,
    readonly parent: XdgSurface | null,
    public positioner: Positioner,
  ) {
    this.view = new View(xdg.surface, "popup", "popup", { unmapped: () => this.dismiss() });
    this.place();
    // However the popup object ends (request, disconnect), its grab and view go with it.
    res.onDestroy(() => {
      this.endGrab();
      this.xdg.comp.scene.unmap(this.view);
    });
  }

  /** The parent's window-geometry origin on the output. */
  private parentOrigin(): { x: number; y: number } {
    const pv = this.parent?.role?.view;
    if (!pv) return { x: 0, y: 0 };
    const g = pv.geometry ?? { x: 0, y: 0 };
    return { x: pv.x + g.x, y: pv.y + g.y };
  }

  place(): void {
    const o = this.parentOrigin();
    const out = this.xdg.comp.scene.output;
    this.rect = placePopup(this.positioner, { x: out.x - o.x, y: out.y - o.y, width: out.width, height: out.height });
  }

  sendConfigure(): void {
    this.res.post("configure", this.rect.x, this.rect.y, this.rect.width, this.rect.height);
  }

  commit(): void {
    const scene = this.xdg.comp.scene;
    const show = this.xdg.commit();
    if (!show) {
      if (this.view.mapped) scene.unmap(this.view);
      return;
    }
    const o = this.parentOrigin();
    const g = this.xdg.geometry ?? { x: 0, y: 0 };
    this.view.geometry = this.xdg.geometry;
    this.view.parent = this.parent?.role?.view ?? null;
    scene.move(this.view, o.x + this.rect.x - g.x, o.y + this.rect.y - g.y);
    if (!this.view.mapped) {
      scene.map(this.view);
      this.xdg.comp.seat.repick();
    }
  }

  /** The compositor closes the popup (click outside a grab, parent gone). */
  dismiss(): void {
    if (this.res.destroyed) return;
    this.xdg.comp.scene.unmap(this.view);
    this.res.post("popup_done");
    this.endGrab();
    this.xdg.comp.server.scheduleFlush();
  }

  endGrab(): void {
    if (!this.grabbed) return;
    this.grabbed = false;
    const seat = this.xdg.comp.seat;
    const chain = grabChains.get(this.res.client.ptr);
    if (chain) {
      const i = chain.indexOf(this);
      if (i >= 0) chain.splice(i, 1);
      if (chain.length === 0) {
        grabChains.delete(this.res.client.ptr);
        seat.popupGrab = null;
        seat.setKeyboardFocus(this.xdg.comp.scene.focused?.surface ?? null);
      } else seat.setKeyboardFocus(chain[chain.length - 1].xdg.surface);
    }
  }
}

/** Open grabbing popups per client, oldest first. */
const grabChains = new Map<number, Popup[]>();

const popupImpl = {
  destroy(r: PopupRes) {
    const p = r.data;
    const chain = grabChains.get(r.client.ptr);
    if (chain && p.grabbed && chain[chain.length - 1] !== p) {
      throw new ProtocolError(r, WM_ERR.not_the_topmost_popup, "destroyed a popup that is not the topmost");
    }
  },
  // Explicit grab: keyboard focus goes to the popup; a click elsewhere dismisses it.
  grab(r: PopupRes) {
    const p = r.data;
    const seat = p.xdg.comp.seat;
    if (p.xdg.initialCommitDone && p.view.mapped) throw new ProtocolError(r, xdg_popup.enums.error.invalid_grab, "grab after the popup was mapped");
    p.grabbed = true;
    let chain = grabChains.get(r.client.ptr);
    if (!chain) grabChains.set(r.client.ptr, (chain = []));
    chain.push(p);
    const client = r.client.ptr;
    seat.popupGrab = {
      client,
      press(surface) {
        if (surface && surface.client.ptr === client) return;
        for (const q of [...(grabChains.get(client) ?? [])].reverse()) q.dismiss();
      },
    };
    seat.setKeyboardFocus(p.xdg.surface);
  },
  reposition(r: PopupRes, positioner: Resource, token: number) {
    const p = r.data;
    p.positioner = { ...(positioner.data as Positioner) };
    p.place();
    r.post("repositioned", token);
    p.xdg.sendConfigure();
  },
};

// ---- the global ---------------------------------------------------------------------------------
export function registerXdgShell(comp: Compositor): void {
  comp.server.global(xdg_wm_base, 6, (base) => {
    comp.pings.add(base);
    (base as WmBaseRes).implement(
      {
        destroy(r) {
          if (r.data.surfaces.size) throw new ProtocolError(r, WM_ERR.defunct_surfaces, "xdg_wm_base destroyed before its surfaces");
        },
        create_positioner(_r, id) {
          (id as PositionerRes).implement(positionerImpl, { width: 0, height: 0, anchorRect: null, anchor: 0, gravity: 0, constraints: 0, offsetX: 0, offsetY: 0, reactive: false });
        },
        // Wraps a wl_surface; it must have no role and no buffer yet.
        get_xdg_surface(r, id, surfaceRes) {
          const surface = surfaceRes.data as Surface;
          if (surface.role && !surface.role.name.startsWith("xdg_")) throw new ProtocolError(r, WM_ERR.role, `surface already has role ${surface.role.name}`);
          if (surface.content) throw new ProtocolError(r, WM_ERR.invalid_surface_state, "surface already has a buffer");
          const xdg = new XdgSurface(id as XdgSurfaceRes, surface, comp);
          (id as XdgSurfaceRes).implement(xdgSurfaceImpl, xdg);
          r.data.surfaces.add(xdg);
          id.onDestroy(() => r.data.surfaces.delete(xdg));
          surface.onDestroy(() => {
            if (!id.destroyed) {
              // The wl_surface went first: the role object is defunct now; stop showing it.
              if (xdg.role) comp.scene.unmap(xdg.role.view);
            }
          });
        },
        // The answer to our ping (objects/xdg-ping.ts): the client's loop is alive.
        pong(r, serial) {
          comp.pings.pong(r, serial);
        },
      },
      { surfaces: new Set() },
    );
  });
}

const xdgSurfaceImpl = {
  destroy(r: XdgSurfaceRes) {
    if (r.data.role && !r.data.role.res.destroyed) throw new ProtocolError(r, SURF_ERR.defunct_role_object, "xdg_surface destroyed before its role object");
  },
  get_toplevel(r: XdgSurfaceRes, id: Resource<typeof xdg_toplevel>) {
    const xdg = r.data;
    if (xdg.role && !xdg.role.res.destroyed) throw new ProtocolError(r, SURF_ERR.already_constructed, "xdg_surface already has a role object");
    const role: Role = { name: "xdg_toplevel", commit: () => tl.commit() };
    xdg.surface.setRole(role, r, WM_ERR.role);
    xdg.surface.role = role;
    const tl = new Toplevel(id as ToplevelRes, xdg);
    (id as ToplevelRes).implement(toplevelImpl, tl);
    xdg.role = tl;
    xdg.configured = false;
    xdg.initialCommitDone = false;
    if (id.version >= 5) {
      const c = xdg_toplevel.enums.wm_capabilities;
      id.post("wm_capabilities", new Uint8Array(new Uint32Array([c.maximize, c.fullscreen, c.minimize]).buffer));
    }
  },
  get_popup(r: XdgSurfaceRes, id: Resource<typeof xdg_popup>, parent: Resource | null, positioner: Resource) {
    const xdg = r.data;
    if (xdg.role && !xdg.role.res.destroyed) throw new ProtocolError(r, SURF_ERR.already_constructed, "xdg_surface already has a role object");
    const pos = positioner.data as Positioner;
    if (pos.width <= 0 || !pos.anchorRect) throw new ProtocolError(r, WM_ERR.invalid_positioner, "positioner needs a size and an anchor rect");
    const parentXdg = parent ? (parent.data as XdgSurface) : null;
    const role: Role = { name: "xdg_popup", commit: () => popup.commit() };
    xdg.surface.setRole(role, r, WM_ERR.role);
    xdg.surface.role = role;
    const popup = new Popup(id as PopupRes, xdg, parentXdg, { ...pos });
    (id as PopupRes).implement(popupImpl, popup);
    xdg.role = popup;
    xdg.configured = false;
    xdg.initialCommitDone = false;
    // A popup closes with its parent.
    parentXdg?.res.onDestroy(() => popup.dismiss());
  },
  set_window_geometry(r: XdgSurfaceRes, x: number, y: number, w: number, h: number) {
    if (w <= 0 || h <= 0) throw new ProtocolError(r, SURF_ERR.invalid_size, "window geometry must be positive");
    r.data.pendingGeometry = { x, y, width: w, height: h };
  },
  ack_configure(r: XdgSurfaceRes, serial: number) {
    const xdg = r.data;
    const i = xdg.sentSerials.indexOf(serial);
    if (i < 0) throw new ProtocolError(r, SURF_ERR.invalid_serial, `no configure with serial ${serial}`);
    xdg.sentSerials.splice(0, i + 1);
    xdg.configured = true;
    xdg.acked = serial;
  },
};
