// The input device port over a kernel evdev node: opened non-blocking,
// grabbed (so a console under weft does not also see the keys), with its
// capabilities from EVIOCGBIT.
import { closeSync, openSync, constants as fsc } from "node:fs";
import { ABS, absRange, BTN, deviceName, EV, eventBits, grab, hasBit, KEY, parseInputEvents, REL, type InputEvent } from "../../../ffi/evdev.ts";
import { readSome, SysError } from "../../../ffi/libc.ts";
import type { InputCaps, InputDevice } from "./device.ts";

const O_CLOEXEC = 0o2000000;
const ENODEV = 19;

export class EvdevDevice implements InputDevice {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly fd: number,
    readonly name: string,
    readonly caps: InputCaps,
  ) {}

  /** Opens and grabs `path`; throws a clear error for nodes that are not evdev devices. */
  static open(path: string): EvdevDevice {
    let fd: number;
    try {
      fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | O_CLOEXEC);
    } catch (e) {
      throw new Error(`cannot open input device ${path}: ${(e as Error).message}`);
    }
    try {
      const types = eventBits(fd, path, 0);
      const keys = hasBit(types, EV.KEY) ? eventBits(fd, path, EV.KEY) : new Uint8Array(96);
      const rel = hasBit(types, EV.REL) ? eventBits(fd, path, EV.REL) : new Uint8Array(96);
      const abs = hasBit(types, EV.ABS) ? eventBits(fd, path, EV.ABS) : new Uint8Array(96);
      const mt = hasBit(abs, ABS.MT_POSITION_X) && hasBit(abs, ABS.MT_POSITION_Y);
      const single = hasBit(abs, ABS.X) && hasBit(abs, ABS.Y) && hasBit(keys, BTN.TOUCH);
      const caps: InputCaps = {
        keyboard: hasBit(keys, KEY.A) && hasBit(keys, KEY.ESC),
        pointer: hasBit(rel, REL.X) && hasBit(rel, REL.Y) && hasBit(keys, BTN.LEFT),
        touch: mt || single,
      };
      if (caps.touch) {
        caps.absX = absRange(fd, path, mt ? ABS.MT_POSITION_X : ABS.X);
        caps.absY = absRange(fd, path, mt ? ABS.MT_POSITION_Y : ABS.Y);
      }
      const name = deviceName(fd, path);
      if (caps.keyboard || caps.pointer || caps.touch) grab(fd, path, true);
      return new EvdevDevice(path, fd, name, caps);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  read(): InputEvent[] | null {
    const out: InputEvent[] = [];
    for (;;) {
      let buf: Uint8Array | null;
      try {
        buf = readSome(this.fd, 24 * 64);
      } catch (e) {
        if (e instanceof SysError && e.errno === ENODEV) return null; // unplugged
        throw e;
      }
      if (!buf) return out;
      if (buf.length === 0) return null;
      out.push(...parseInputEvents(buf));
    }
  }

  grab(on: boolean): void {
    // The fd number may belong to something else once closed.
    if (this.closed) throw new Error(`${this.path} is closed`);
    if (this.caps.keyboard || this.caps.pointer || this.caps.touch) grab(this.fd, this.path, on);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
