// Real input: evdev devices → the seat. Each device's fd is watched on the
// loop; its events are gathered per hardware frame (SYN_REPORT) and applied
// in the order a person did them: motion first, then buttons and keys, then
// touch points.
//
// - keyboard: evdev keycodes go to the seat, which runs XKB (keymap,
//   modifiers) and tells clients the repeat rate (wl_keyboard.repeat_info):
//   Wayland clients repeat keys themselves, so the kernel's autorepeat
//   events (value 2) are dropped. Ctrl+Alt+Backspace calls onQuit.
// - pointer: relative motion through PointerAccel, wheel as axis events,
//   the cursor plane follows (backend.moveCursor).
// - touch: multi-touch type B slots (or single touch) scaled from the
//   device's range onto the primary output.
// - hotplug: kernel uevents (SUBSYSTEM=input add) open new devices; a device
//   that reads as gone (ENODEV/EOF) is dropped.
// - session: suspend() (our VT switched away) stops reading and releases the
//   grabs, so the other VT's session gets the devices; keys and buttons held
//   are lifted for clients. resume() drops what was typed meanwhile, grabs
//   again and opens devices plugged in while away. Ctrl+Alt+F1…F12 call
//   onVtSwitch (with the VT's keyboard off, weft does the switching).
// SYN_DROPPED (the kernel's buffer overflowed) discards the frame in
// progress; keys held across it may stay down until pressed again.
import { readdirSync } from "node:fs";
import { BTN, EV, KEY, REL, ABS, SYN, type InputEvent } from "../../../ffi/evdev.ts";
import { watchFd, type FdWatch } from "../../loop/fd.ts";
import type { Compositor } from "../compositor.ts";
import { watchUevents } from "../backend/uevent.ts";
import { vtForKey } from "../backend/vt.ts";
import { PointerAccel } from "./accel.ts";
import type { InputDevice } from "./device.ts";
import { EvdevDevice } from "./evdev.ts";

/** Scroll distance per wheel notch (wl_pointer.axis units), as other compositors use. */
const WHEEL_STEP = 15;

interface Slot {
  id: number; // tracking id, -1 = no contact
  x: number;
  y: number;
  down: boolean; // became a contact this frame
  up: boolean; // lifted this frame
  moved: boolean;
}

interface DeviceState {
  dev: InputDevice;
  watch: FdWatch;
  accel: PointerAccel;
  dx: number;
  dy: number;
  wheel: number;
  hwheel: number;
  /** Keys and buttons of this frame, in order. */
  presses: { code: number; pressed: boolean }[];
  slot: number;
  slots: Slot[];
  /** The device sends multi-touch (type B) events. */
  mt: boolean;
  dropping: boolean;
}

export interface InputOptions {
  /** Ctrl+Alt+Backspace. */
  onQuit?: () => void;
  /** Ctrl+Alt+F1…F12 (the VT number). */
  onVtSwitch?: (vt: number) => void;
  log?: (msg: string) => void;
}

export class Input {
  private readonly devices = new Map<InputDevice, DeviceState>();
  /** Keys held on any keyboard (for the quit shortcut). */
  private readonly held = new Set<number>();
  private readonly swallowed = new Set<number>();
  private quitting = false;
  /** Pointer buttons held (lifted for clients on suspend). */
  private readonly buttons = new Set<number>();
  private suspended = false;
  /** The directory openSystemDevices() scans (rescanned on resume). */
  private dir: string | null = null;
  private uevents: { close(): void } | null = null;
  private readonly log: (msg: string) => void;

  constructor(
    private readonly comp: Compositor,
    private readonly opts: InputOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
  }

  get count(): number {
    return this.devices.size;
  }

  add(dev: InputDevice): void {
    const st: DeviceState = {
      dev,
      accel: new PointerAccel(),
      dx: 0,
      dy: 0,
      wheel: 0,
      hwheel: 0,
      presses: [],
      slot: 0,
      slots: [],
      mt: false,
      dropping: false,
      watch: watchFd(dev.fd, () => this.readable(st)),
    };
    this.devices.set(dev, st);
    const what = [dev.caps.keyboard && "keyboard", dev.caps.pointer && "pointer", dev.caps.touch && "touch"].filter(Boolean).join(", ");
    this.log(`input device ${dev.path} (${dev.name}): ${what}`);
  }

  remove(dev: InputDevice): void {
    const st = this.devices.get(dev);
    if (!st) return;
    st.watch.close();
    this.devices.delete(dev);
    dev.close();
    this.log(`input device ${dev.path} removed`);
  }

  /** Opens every keyboard, pointer and touch device in `dir` and follows hotplug through kernel uevents. */
  openSystemDevices(dir = "/dev/input"): void {
    this.dir = dir;
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => /^event\d+$/.test(n));
    } catch {
      this.log(`no ${dir}: no input devices yet`);
    }
    for (const n of names) this.tryOpen(`${dir}/${n}`);
    try {
      this.uevents = watchUevents((u) => {
        if (u.action === "add" && u.env.SUBSYSTEM === "input" && /^input\/event\d+$/.test(u.env.DEVNAME ?? "")) this.tryOpen(`/dev/${u.env.DEVNAME}`);
      });
    } catch (e) {
      this.log(`no input hotplug (kernel uevents unavailable: ${(e as Error).message})`);
    }
  }

  private tryOpen(path: string): void {
    if (this.suspended) return; // opened by the rescan on resume()
    if ([...this.devices.keys()].some((d) => d.path === path)) return;
    try {
      const dev = EvdevDevice.open(path);
      if (dev.caps.keyboard || dev.caps.pointer || dev.caps.touch) this.add(dev);
      else dev.close();
    } catch (e) {
      this.log(`input device ${path} skipped: ${(e as Error).message}`);
    }
  }

  private readable(st: DeviceState): void {
    let events: InputEvent[] | null;
    try {
      events = st.dev.read();
    } catch (e) {
      this.log(`input device ${st.dev.path}: ${(e as Error).message}; dropped`);
      events = null;
    }
    if (events === null) {
      // Closing the watch from inside its own callback is fine: watchFd checks `open`.
      this.remove(st.dev);
      return;
    }
    for (const e of events) this.event(st, e);
  }

  private event(st: DeviceState, e: InputEvent): void {
    if (e.type === EV.SYN) {
      if (e.code === SYN.DROPPED) {
        st.dropping = true;
        this.reset(st);
      } else if (e.code === SYN.REPORT) {
        if (st.dropping) st.dropping = false;
        else this.frame(st, e.timeUs);
        this.reset(st);
      }
      return;
    }
    if (st.dropping) return;
    switch (e.type) {
      case EV.KEY:
        if (e.value === 2) return; // kernel autorepeat: clients repeat (wl_keyboard.repeat_info)
        if (e.code === BTN.TOUCH) return this.singleTouch(st, e.value !== 0);
        st.presses.push({ code: e.code, pressed: e.value !== 0 });
        return;
      case EV.REL:
        if (e.code === REL.X) st.dx += e.value;
        else if (e.code === REL.Y) st.dy += e.value;
        else if (e.code === REL.WHEEL) st.wheel += e.value;
        else if (e.code === REL.HWHEEL) st.hwheel += e.value;
        return;
      case EV.ABS:
        return this.abs(st, e.code, e.value);
    }
  }

  private reset(st: DeviceState): void {
    st.dx = st.dy = st.wheel = st.hwheel = 0;
    st.presses = [];
    for (const s of st.slots) s.down = s.up = s.moved = false;
  }

  private slotOf(st: DeviceState, n: number): Slot {
    return (st.slots[n] ??= { id: -1, x: 0, y: 0, down: false, up: false, moved: false });
  }

  private abs(st: DeviceState, code: number, value: number): void {
    // Multi-touch devices also send ABS_X/ABS_Y/BTN_TOUCH for old readers, after
    // their ABS_MT_* events: once a device has spoken MT, only MT counts.
    if (code >= ABS.MT_SLOT) st.mt = true;
    if (code === ABS.MT_SLOT) st.slot = value;
    else if (code === ABS.MT_TRACKING_ID) {
      const s = this.slotOf(st, st.slot);
      if (value < 0) {
        if (s.id >= 0) s.up = true;
        s.id = -1;
      } else {
        s.id = value;
        s.down = true;
      }
    } else if (code === ABS.MT_POSITION_X || (code === ABS.X && !st.mt)) {
      const s = this.slotOf(st, st.mt ? st.slot : 0);
      s.x = value;
      s.moved = true;
    } else if (code === ABS.MT_POSITION_Y || (code === ABS.Y && !st.mt)) {
      const s = this.slotOf(st, st.mt ? st.slot : 0);
      s.y = value;
      s.moved = true;
    }
  }

  private singleTouch(st: DeviceState, down: boolean): void {
    if (st.mt) return;
    const s = this.slotOf(st, 0);
    if (down && s.id < 0) {
      s.id = 0;
      s.down = true;
    } else if (!down && s.id >= 0) {
      s.id = -1;
      s.up = true;
    }
  }

  private frame(st: DeviceState, us: number): void {
    const seat = this.comp.seat;
    if (st.dx || st.dy) {
      const [mx, my] = st.accel.apply(st.dx, st.dy, us);
      if (mx || my) {
        seat.pointerMotion(seat.x + mx, seat.y + my);
        this.comp.backend.moveCursor?.(seat.x, seat.y);
      }
    }
    if (st.wheel || st.hwheel) seat.pointerAxis(st.hwheel * WHEEL_STEP, -st.wheel * WHEEL_STEP);
    for (const p of st.presses) {
      if (p.code >= BTN.LEFT && p.code <= BTN.TASK) {
        if (p.pressed) this.buttons.add(p.code);
        else this.buttons.delete(p.code);
        seat.pointerButton(p.code, p.pressed);
      }
      else if (p.code < BTN.MISC || p.code >= 0x160) this.key(p.code, p.pressed);
    }
    if (st.dev.caps.touch) this.touch(st);
  }

  private key(code: number, pressed: boolean): void {
    if (pressed) this.held.add(code);
    else this.held.delete(code);
    const ctrl = this.held.has(KEY.LEFTCTRL) || this.held.has(KEY.RIGHTCTRL);
    const alt = this.held.has(KEY.LEFTALT) || this.held.has(KEY.RIGHTALT);
    if (pressed && code === KEY.BACKSPACE && ctrl && alt && this.opts.onQuit) {
      this.swallowed.add(code);
      // Asked once: a second SIGTERM while the first stop runs would end weft before it gave its VT back.
      if (this.quitting) return this.log("Ctrl+Alt+Backspace: already quitting");
      this.quitting = true;
      this.log("Ctrl+Alt+Backspace: quitting");
      this.opts.onQuit();
      return;
    }
    const vt = pressed && ctrl && alt && this.opts.onVtSwitch ? vtForKey(code) : 0;
    if (vt) {
      this.swallowed.add(code);
      this.opts.onVtSwitch!(vt);
      return;
    }
    if (!pressed && this.swallowed.delete(code)) return;
    this.comp.seat.key(code, pressed);
  }

  private touch(st: DeviceState): void {
    const { absX, absY } = st.dev.caps;
    if (!absX || !absY) return;
    const out = this.comp.scene.output;
    const map = (v: number, r: { min: number; max: number }, origin: number, size: number) => origin + ((v - r.min) * size) / Math.max(1, r.max - r.min + 1);
    st.slots.forEach((s, i) => {
      const x = map(s.x, absX, out.x, out.width);
      const y = map(s.y, absY, out.y, out.height);
      if (s.down && !s.up) this.comp.seat.touchDown(i, x, y);
      else if (s.up) this.comp.seat.touchUp(i);
      else if (s.moved && s.id >= 0) this.comp.seat.touchMotion(i, x, y);
    });
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Stops reading input and releases the grabs (our VT is switching away). */
  suspend(): void {
    if (this.suspended) return;
    this.suspended = true;
    for (const st of this.devices.values()) {
      st.watch.close();
      try {
        st.dev.grab(false);
      } catch (e) {
        this.log(`input device ${st.dev.path}: ${(e as Error).message}`);
      }
      this.reset(st);
      st.dropping = false;
    }
    // Their releases would come while we are away: lift them now, or clients see keys stuck down.
    for (const code of this.held) if (!this.swallowed.has(code)) this.comp.seat.key(code, false);
    for (const b of this.buttons) this.comp.seat.pointerButton(b, false);
    this.held.clear();
    this.swallowed.clear();
    this.buttons.clear();
  }

  /** Reads input again (our VT is back): what was typed meanwhile is dropped, devices grabbed, new ones opened. */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    for (const st of [...this.devices.values()]) {
      let gone: boolean;
      try {
        gone = st.dev.read() === null; // typed on the other VT: not for us
        if (!gone) st.dev.grab(true);
      } catch (e) {
        this.log(`input device ${st.dev.path}: ${(e as Error).message}; dropped`);
        gone = true;
      }
      if (gone) {
        this.remove(st.dev);
        continue;
      }
      st.watch = watchFd(st.dev.fd, () => this.readable(st));
    }
    if (this.dir) {
      let names: string[] = [];
      try {
        names = readdirSync(this.dir).filter((n) => /^event\d+$/.test(n));
      } catch {
        // no input devices (any more)
      }
      for (const n of names) this.tryOpen(`${this.dir}/${n}`);
    }
  }

  destroy(): void {
    for (const dev of [...this.devices.keys()]) this.remove(dev);
    this.uevents?.close();
    this.uevents = null;
  }
}
