// wl_seat (v8) with wl_pointer, wl_keyboard (a real XKB keymap) and wl_touch.
//
// Input arrives through the methods at the bottom (pointerMotion, key, …),
// called by a backend's input devices or by the test-only injection path
// (src/compositor/control.ts). The seat sends each event to the resources
// of the client that has focus: pointer focus follows the pointer, keyboard
// focus is the scene's focused window (click-to-focus).
import { closeSync, existsSync, openSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keymap } from "../../../ffi/xkbcommon.ts";
import { monotonicNow } from "../../../ffi/wayland.ts";
import { ProtocolError, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Role, Surface } from "./surface.ts";
import type { View } from "../scene.ts";
import type { Drag } from "./dnd.ts";

const { wl_seat, wl_pointer, wl_keyboard, wl_touch } = wayland;
type PointerRes = Resource<typeof wl_pointer, Seat>;
type KeyboardRes = Resource<typeof wl_keyboard, Seat>;
type TouchRes = Resource<typeof wl_touch, Seat>;

/** linux/input-event-codes.h */
export const BTN_LEFT = 0x110;
export const BTN_RIGHT = 0x111;

// A cursor surface's new content goes to the backend's cursor plane (if it is the one shown).
const cursorRole: Role = {
  name: "cursor",
  commit(s) {
    if (s.comp.seat.isCursor(s)) s.comp.seat.cursorChanged();
  },
};

/**
 * An interactive resize in progress (xdg_toplevel.resize): the pointer's
 * travel since the press, applied to the edges being dragged, becomes the
 * size the window is asked for. The role decides how to ask (configure).
 */
export interface ResizeGrab {
  view: View;
  /** xdg_toplevel.resize_edge bits: top 1, bottom 2, left 4, right 8. */
  edges: number;
  /** The window geometry size when the grab started. */
  width0: number;
  height0: number;
  /** The pointer went somewhere: ask for this window size. */
  update(width: number, height: number): void;
  /** The buttons are up: the resize is over. */
  end(): void;
}

/** Lets xdg_popup grabs see clicks: return true to swallow the press. */
export interface PopupGrab {
  client: number;
  /** A press landed on `surface` (null: on nothing); dismiss if it is outside the grab. */
  press(surface: Surface | null): void;
}

export class Seat {
  readonly keymap: Keymap;
  private keymapFd: number;
  private keymapSize: number;
  private pointers = new Map<number, Set<PointerRes>>();
  private keyboards = new Map<number, Set<KeyboardRes>>();
  private touches = new Map<number, Set<TouchRes>>();
  // pointer
  x = 0;
  y = 0;
  pointerFocus: Surface | null = null;
  private buttons = new Set<number>();
  cursor: { surface: Surface | null; hotspotX: number; hotspotY: number } = { surface: null, hotspotX: 0, hotspotY: 0 };
  /** The client with pointer focus chose the cursor (set_cursor since its enter); else weft's default is shown. */
  private cursorSet = false;
  /** Last cursor shape set through wp_cursor_shape_v1 (1 = default). */
  cursorShape = 1;
  private lastEnterSerial = 0;
  /** The serial and client of the last button press (interactive move must quote it). */
  private lastPress = { serial: -1, client: 0 };
  /** An interactive move in progress: the view follows the pointer until the buttons are up. */
  moving: { view: View; dx: number; dy: number } | null = null;
  /** A drag-and-drop in progress: it owns the pointer until the buttons are up. */
  drag: Drag | null = null;
  /** An interactive resize in progress, with the pointer position where it started. */
  resizing: (ResizeGrab & { x0: number; y0: number }) | null = null;
  // keyboard
  keyboardFocus: Surface | null = null;
  private keys = new Set<number>();
  // touch
  private touchPoints = new Map<number, { surface: Surface | null; x0: number; y0: number; x: number; y: number; serial: number }>();
  private gestureStart: { fingers: number; x: number; y: number } | null = null;
  /** A finger of this touch sequence carried a drag: it is no navigation gesture. */
  private gestureVoid = false;
  popupGrab: PopupGrab | null = null;

  constructor(readonly comp: Compositor) {
    this.keymap = new Keymap();
    const bytes = new TextEncoder().encode(this.keymap.text + "\0");
    this.keymapSize = bytes.length;
    // Clients mmap the keymap from an fd: write it to a private file, keep a
    // read-only fd (so no client can change it for the others), unlink it.
    // The runtime dir (a tmpfs) when it exists; it may not (a stale XDG_RUNTIME_DIR), then the temp dir.
    const name = `weft-keymap-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const rt = process.env.XDG_RUNTIME_DIR;
    const path = join(rt && existsSync(rt) ? rt : tmpdir(), name);
    const w = openSync(path, "wx", 0o600);
    writeSync(w, bytes);
    closeSync(w);
    this.keymapFd = openSync(path, "r");
    unlinkSync(path);
    this.register();
  }

  private register(): void {
    const seat = this;
    this.comp.server.global(wl_seat, 8, (r) => {
      r.implement(
        {
          get_pointer(_r, id) {
            seat.track(seat.pointers, id as PointerRes);
            (id as PointerRes).implement(pointerImpl, seat);
            // A new pointer object on the focused client gets an enter at once.
            if (seat.pointerFocus?.client === id.client) seat.sendPointerEnter(id as PointerRes, seat.pointerFocus);
          },
          get_keyboard(_r, id) {
            const k = id as KeyboardRes;
            seat.track(seat.keyboards, k);
            k.implement({ release() {} }, seat);
            k.post("keymap", wl_keyboard.enums.keymap_format.xkb_v1, seat.keymapFd, seat.keymapSize);
            k.post("repeat_info", 25, 600);
            if (seat.keyboardFocus?.client === k.client) seat.sendKeyboardEnter(k, seat.keyboardFocus, seat.comp.server.nextSerial());
          },
          get_touch(_r, id) {
            seat.track(seat.touches, id as TouchRes);
            (id as TouchRes).implement({ release() {} }, seat);
          },
          release() {},
        },
        null,
      );
      r.post("capabilities", wl_seat.enums.capability.pointer | wl_seat.enums.capability.keyboard | wl_seat.enums.capability.touch);
      r.post("name", "seat0");
    });
  }

  private track<R extends Resource>(map: Map<number, Set<R>>, r: R): void {
    let set = map.get(r.client.ptr);
    if (!set) {
      set = new Set();
      map.set(r.client.ptr, set);
    }
    const s = set;
    s.add(r);
    r.onDestroy(() => {
      s.delete(r);
      if (s.size === 0) map.delete(r.client.ptr);
    });
  }

  private of<R>(map: Map<number, Set<R>>, s: Surface | null): Iterable<R> {
    return (s && map.get(s.client.ptr)) || [];
  }

  /** A surface is being destroyed: forget every reference the seat holds to it. */
  surfaceGone(s: Surface): void {
    if (this.keyboardFocus === s) this.keyboardFocus = null;
    if (this.pointerFocus === s) this.pointerFocus = null;
    if (this.moving?.view.surface === s) this.moving = null;
    if (this.resizing?.view.surface === s) this.resizing = null;
    this.drag?.surfaceGone(s);
    if (this.cursor.surface === s) {
      this.cursor = { surface: null, hotspotX: 0, hotspotY: 0 };
      this.cursorSet = false;
      this.cursorChanged();
    }
    for (const p of this.touchPoints.values()) if (p.surface === s) p.surface = null; // the finger still counts for gestures
  }

  isCursor(s: Surface): boolean {
    return this.cursor.surface === s;
  }

  /** Cursor surfaces are not drawn in headless screenshots, but their clients still get frame callbacks. */
  cursorFrameDone(ms: number): void {
    const c = this.cursor.surface;
    if (c && !c.destroyed) c.sendFrameDone(ms);
  }

  timeMs(): number {
    const t = monotonicNow();
    return (t.sec * 1000 + Math.floor(t.nsec / 1e6)) >>> 0;
  }

  // ---- keyboard focus ------------------------------------------------------------------
  /** Moves keyboard focus (the scene calls this; clients never can). */
  setKeyboardFocus(s: Surface | null): void {
    if (this.keyboardFocus === s) return;
    const old = this.keyboardFocus;
    const serial = this.comp.server.nextSerial();
    if (old && !old.destroyed) for (const k of this.of(this.keyboards, old)) k.post("leave", serial, old.resource);
    this.keyboardFocus = s;
    if (s) for (const k of this.of(this.keyboards, s)) this.sendKeyboardEnter(k, s, serial);
    this.comp.dataDevice.focusChanged(s?.client ?? null);
    if (s) this.comp.pings.focused(s.client);
  }

  private sendKeyboardEnter(k: KeyboardRes, s: Surface, serial: number): void {
    const keys = new Uint8Array(new Uint32Array([...this.keys]).buffer);
    k.post("enter", serial, s.resource, keys);
    const m = this.keymap.modifiers();
    k.post("modifiers", serial, m.depressed, m.latched, m.locked, m.group);
  }

  // ---- pointer focus ----------------------------------------------------------------------
  private setPointerFocus(s: Surface | null, sx: number, sy: number): void {
    if (this.pointerFocus === s) return;
    const old = this.pointerFocus;
    if (old && !old.destroyed) {
      const serial = this.comp.server.nextSerial();
      for (const p of this.of(this.pointers, old)) {
        p.post("leave", serial, old.resource);
        p.post("frame");
      }
    }
    this.pointerFocus = s;
    if (s) for (const p of this.of(this.pointers, s)) this.sendPointerEnter(p, s, sx, sy);
    // A new focus starts with weft's cursor until its client sets one.
    if (this.cursorSet || this.cursor.surface) {
      this.cursor = { surface: null, hotspotX: 0, hotspotY: 0 };
      this.cursorSet = false;
      this.cursorChanged();
    }
  }

  /** What the pointer looks like now: weft's default, hidden (set_cursor with no surface), or a client's surface. */
  cursorImage(): "default" | "hidden" | { surface: Surface; hotspotX: number; hotspotY: number } {
    if (!this.pointerFocus || !this.cursorSet) return "default";
    const { surface, hotspotX, hotspotY } = this.cursor;
    return surface ? { surface, hotspotX, hotspotY } : "hidden";
  }

  /** wp_cursor_shape_v1: a named shape; weft draws every shape as its one arrow. */
  setCursorShape(shape: number): void {
    this.cursorShape = shape;
    this.cursor = { surface: null, hotspotX: 0, hotspotY: 0 };
    this.cursorSet = false;
    this.cursorChanged();
  }

  /** Tells the backend (its cursor plane) what the pointer looks like now. */
  cursorChanged(): void {
    this.comp.showCursor(this.cursorImage());
  }

  private sendPointerEnter(p: PointerRes, s: Surface, sx?: number, sy?: number): void {
    const pos = this.comp.scene.position(s);
    const lx = sx ?? (pos ? this.x - pos.x : 0);
    const ly = sy ?? (pos ? this.y - pos.y : 0);
    this.lastEnterSerial = this.comp.server.nextSerial();
    p.post("enter", this.lastEnterSerial, s.resource, lx, ly);
    p.post("frame");
  }

  /** Re-evaluates what is under the pointer (after windows map, move or unmap). */
  repick(): void {
    if (this.buttons.size) return; // an implicit grab keeps focus while a button is down
    const hit = this.comp.scene.surfaceAt(this.x, this.y);
    this.setPointerFocus(hit?.surface ?? null, hit?.sx ?? 0, hit?.sy ?? 0);
  }

  // ---- input entry points (backend devices or test injection) -------------------------------
  pointerMotion(x: number, y: number): void {
    const out = this.comp.scene.bounds;
    this.x = Math.max(out.x, Math.min(out.x + out.width - 1, x));
    this.y = Math.max(out.y, Math.min(out.y + out.height - 1, y));
    this.comp.pointerMoved();
    if (this.moving) {
      const m = this.moving;
      this.comp.scene.move(m.view, this.x - m.dx, this.y - m.dy);
      return;
    }
    if (this.drag && this.drag.touchId === null) {
      this.drag.motion();
      return;
    }
    if (this.resizing) {
      const r = this.resizing;
      const dx = this.x - r.x0;
      const dy = this.y - r.y0;
      // Dragging the left or top edge grows the window when the pointer moves left or up.
      const w = r.edges & 4 ? r.width0 - dx : r.edges & 8 ? r.width0 + dx : r.width0;
      const h = r.edges & 1 ? r.height0 - dy : r.edges & 2 ? r.height0 + dy : r.height0;
      r.update(Math.max(1, w), Math.max(1, h));
      return;
    }
    let target = this.pointerFocus;
    if (this.buttons.size === 0) {
      const hit = this.comp.scene.surfaceAt(this.x, this.y);
      this.setPointerFocus(hit?.surface ?? null, hit?.sx ?? 0, hit?.sy ?? 0);
      target = hit?.surface ?? null;
    }
    if (!target) return;
    const pos = this.comp.scene.position(target);
    if (!pos) return;
    const t = this.timeMs();
    for (const p of this.of(this.pointers, target)) {
      p.post("motion", t, this.x - pos.x, this.y - pos.y);
      p.post("frame");
    }
    this.comp.server.scheduleFlush();
  }

  /** A button press or release (evdev code, e.g. BTN_LEFT). A press focuses the window under it. */
  pointerButton(button: number, pressed: boolean): void {
    if (this.drag && this.drag.touchId === null) {
      // The drag holds the pointer: buttons go to nobody; the last one up drops.
      if (pressed) this.buttons.add(button);
      else if (this.buttons.delete(button) && this.buttons.size === 0) this.drag.drop();
      return;
    }
    if (pressed && this.buttons.size === 0 && !this.moving && !this.resizing) {
      // weft's own title bar: focus, then close or drag the window.
      const deco = this.comp.scene.decorationAt(this.x, this.y);
      if (deco) {
        this.setPointerFocus(null, 0, 0);
        this.comp.scene.focus(deco.view);
        this.buttons.add(button);
        if (deco.close) deco.view.hooks.close?.();
        else if (deco.edges) deco.view.hooks.resizeFromBorder?.(deco.edges);
        else this.moving = { view: deco.view, dx: this.x - deco.view.x, dy: this.y - deco.view.y };
        this.comp.server.scheduleFlush();
        return;
      }
    }
    if (pressed) {
      const hit = this.comp.scene.surfaceAt(this.x, this.y);
      if (this.popupGrab) this.popupGrab.press(hit?.surface ?? null);
      if (this.buttons.size === 0) {
        this.setPointerFocus(hit?.surface ?? null, hit?.sx ?? 0, hit?.sy ?? 0);
        if (hit && hit.view.kind !== "popup") this.comp.scene.focus(rootView(hit.view));
      }
      this.buttons.add(button);
    } else {
      if (!this.buttons.delete(button)) return;
    }
    const target = this.pointerFocus;
    if (target) {
      const serial = this.comp.server.nextSerial();
      const t = this.timeMs();
      const state = pressed ? wl_pointer.enums.button_state.pressed : wl_pointer.enums.button_state.released;
      if (pressed) {
        this.lastPress = { serial, client: target.client.ptr };
        this.comp.pings.input(target.client);
      }
      for (const p of this.of(this.pointers, target)) {
        p.post("button", serial, t, button, state);
        p.post("frame");
      }
    }
    if (!pressed && this.buttons.size === 0) {
      this.moving = null;
      const r = this.resizing;
      this.resizing = null;
      r?.end();
      this.repick();
    }
    this.comp.server.scheduleFlush();
  }

  /**
   * xdg_toplevel.move: the client asks to be dragged, quoting the serial of
   * the press that started it. Only honoured while that press is still held
   * by that client's surface — a client cannot grab the pointer on its own.
   */
  startMove(view: View, client: number, serial: number): boolean {
    if (!this.grabAllowed(client, serial)) return false;
    this.moving = { view, dx: this.x - view.x, dy: this.y - view.y };
    this.comp.events.emit("move", view);
    return true;
  }

  /** xdg_toplevel.resize: like startMove, the press quoted must still be held by the asking client. */
  startResize(grab: ResizeGrab, client: number, serial: number): boolean {
    return this.grabAllowed(client, serial) && this.beginResize(grab);
  }

  /** A resize weft starts itself (its own window border was pressed): no client serial to check. */
  startBorderResize(grab: ResizeGrab): boolean {
    return this.buttons.size > 0 && this.noGrab() && this.beginResize(grab);
  }

  private beginResize(grab: ResizeGrab): true {
    this.resizing = { ...grab, x0: this.x, y0: this.y };
    this.comp.events.emit("resize", grab.view);
    return true;
  }

  /**
   * wl_data_device.start_drag: the same rule, for a held button or a finger
   * still down (quoting that touch's down serial). A pointer drag takes the
   * pointer from the client; a touch drag takes that finger (the client gets
   * wl_touch.cancel: the compositor owns the sequence now).
   */
  startDrag(client: number, serial: number, make: () => Drag): boolean {
    const touchId = this.grabAllowed(client, serial) ? null : this.touchGrabAllowed(client, serial);
    if (touchId === undefined) return false;
    const drag = make();
    this.drag = drag;
    if (touchId === null) this.setPointerFocus(null, 0, 0);
    else {
      drag.touchId = touchId;
      this.gestureVoid = true;
      const p = this.touchPoints.get(touchId)!;
      const t = p.surface;
      for (const q of this.touchPoints.values()) if (q.surface === t) q.surface = null;
      if (t && !t.destroyed) for (const r of this.of(this.touches, t)) r.post("cancel");
    }
    this.comp.events.emit("drag", drag);
    drag.motion();
    return true;
  }

  /** The touch point whose down `serial` this client quotes, if that finger is still down on its surface. */
  private touchGrabAllowed(client: number, serial: number): number | undefined {
    if (!this.noGrab()) return undefined;
    for (const [id, p] of this.touchPoints) if (p.serial === serial && p.surface && p.surface.client.ptr === client) return id;
    return undefined;
  }

  /** Where a drag is: the finger that carries it, or the pointer. */
  dragPoint(d: Drag): { x: number; y: number } {
    const p = d.touchId === null ? undefined : this.touchPoints.get(d.touchId);
    return p ?? this;
  }

  /** The drag ended (drop or cancel): the pointer goes back to whatever is under it. */
  dragEnded(d: Drag): void {
    if (this.drag !== d) return;
    this.drag = null;
    this.repick();
  }

  private grabAllowed(client: number, serial: number): boolean {
    return this.buttons.size > 0 && this.noGrab() && serial === this.lastPress.serial && client === this.lastPress.client;
  }

  /** No move, resize or drag holds the pointer. */
  private noGrab(): boolean {
    return !this.moving && !this.resizing && !this.drag;
  }

  /** Scrolls: `dy` > 0 scrolls down, in surface pixels (one wheel notch ≈ 15). */
  pointerAxis(dx: number, dy: number): void {
    const target = this.pointerFocus;
    if (!target) return;
    const t = this.timeMs();
    for (const p of this.of(this.pointers, target)) {
      p.post("axis_source", wl_pointer.enums.axis_source.wheel);
      if (dy) p.post("axis", t, wl_pointer.enums.axis.vertical_scroll, dy);
      if (dx) p.post("axis", t, wl_pointer.enums.axis.horizontal_scroll, dx);
      p.post("frame");
    }
    this.comp.server.scheduleFlush();
  }

  /** A key press or release (evdev keycode, e.g. 30 = KEY_A). */
  key(code: number, pressed: boolean): void {
    if (pressed) {
      if (this.keys.has(code)) return;
      this.keys.add(code);
    } else if (!this.keys.delete(code)) return;
    const mods = this.keymap.updateKey(code, pressed);
    const s = this.keyboardFocus;
    if (s && !s.destroyed) {
      const serial = this.comp.server.nextSerial();
      const t = this.timeMs();
      for (const k of this.of(this.keyboards, s)) {
        k.post("key", serial, t, code, pressed ? wl_keyboard.enums.key_state.pressed : wl_keyboard.enums.key_state.released);
        if (mods) k.post("modifiers", serial, mods.depressed, mods.latched, mods.locked, mods.group);
      }
      if (pressed) this.comp.pings.input(s.client);
    }
    this.comp.server.scheduleFlush();
  }

  touchDown(id: number, x: number, y: number): void {
    const hit = this.comp.scene.surfaceAt(x, y);
    if (this.touchPoints.size === 0) {
      this.gestureStart = null;
      this.gestureVoid = false;
    }
    if (hit) {
      const serial = this.comp.server.nextSerial();
      this.touchPoints.set(id, { surface: hit.surface, x0: x, y0: y, x, y, serial });
      const t = this.timeMs();
      for (const r of this.of(this.touches, hit.surface)) {
        r.post("down", serial, t, hit.surface.resource, id, hit.sx, hit.sy);
        r.post("frame");
      }
      if (hit.view.kind !== "popup") this.comp.scene.focus(rootView(hit.view));
    } else {
      this.touchPoints.set(id, { surface: null, x0: x, y0: y, x, y, serial: 0 });
    }
    this.comp.server.scheduleFlush();
  }

  touchMotion(id: number, x: number, y: number): void {
    const p = this.touchPoints.get(id);
    if (!p) return;
    p.x = x;
    p.y = y;
    if (this.drag?.touchId === id) this.drag.motion();
    else if (p.surface && !p.surface.destroyed) {
      const pos = this.comp.scene.position(p.surface);
      const t = this.timeMs();
      for (const r of this.of(this.touches, p.surface)) {
        r.post("motion", t, id, x - (pos?.x ?? 0), y - (pos?.y ?? 0));
        r.post("frame");
      }
    }
    this.comp.server.scheduleFlush();
  }

  touchUp(id: number): void {
    const p = this.touchPoints.get(id);
    if (!p) return;
    // A navigation gesture is judged when the last finger lifts.
    if (!this.gestureStart) this.gestureStart = { fingers: this.touchPoints.size, x: 0, y: 0 };
    this.gestureStart.fingers = Math.max(this.gestureStart.fingers, this.touchPoints.size);
    this.gestureStart.x += p.x - p.x0;
    this.gestureStart.y += p.y - p.y0;
    this.touchPoints.delete(id);
    // The finger carrying a drag drops it where it lifts.
    if (this.drag?.touchId === id) this.drag.drop();
    else if (p.surface && !p.surface.destroyed) {
      const serial = this.comp.server.nextSerial();
      const t = this.timeMs();
      for (const r of this.of(this.touches, p.surface)) {
        r.post("up", serial, t, id);
        r.post("frame");
      }
    }
    if (this.touchPoints.size === 0 && this.gestureStart) {
      const g = this.gestureStart;
      this.gestureStart = null;
      const dx = g.x / g.fingers;
      const dy = g.y / g.fingers;
      if (!this.gestureVoid) this.comp.shell.gesture({ type: 0, fingers: g.fingers, dx, dy });
    }
    this.comp.server.scheduleFlush();
  }

  /** Pressed keys and buttons (tests check nothing is stuck). */
  state() {
    return { x: this.x, y: this.y, buttons: [...this.buttons], keys: [...this.keys] };
  }

  // wl_pointer.set_cursor: only the client with pointer focus may change the cursor.
  _setCursor(r: PointerRes, serial: number, surface: Resource | null, hx: number, hy: number): void {
    if (!this.pointerFocus || this.pointerFocus.client !== r.client) return;
    if (serial !== this.lastEnterSerial && serial > this.lastEnterSerial) return;
    const s = surface ? (surface.data as Surface) : null;
    if (s) s.setRole(cursorRole, r, wl_pointer.enums.error.role);
    this.cursor = { surface: s, hotspotX: hx, hotspotY: hy };
    this.cursorSet = true;
    this.cursorChanged();
  }
}

/** The toplevel a popup (or popup of a popup) belongs to. */
function rootView(v: View): View {
  let cur = v;
  while (cur.parent) cur = cur.parent;
  return cur;
}

const pointerImpl = {
  set_cursor(r: PointerRes, serial: number, surface: Resource | null, hx: number, hy: number) {
    if (surface && !surface.is(wayland.wl_surface)) throw new ProtocolError(r, wl_pointer.enums.error.role, "not a surface");
    r.data._setCursor(r, serial, surface, hx, hy);
  },
  release() {},
};
