// ffi/evdev.ts — Linux evdev (linux/input.h) directly: struct input_event,
// the capability and grab ioctls, and the event codes weft uses. No library:
// libevdev adds nothing we need here, and reading the kernel's struct lets
// the fake input device in tests feed the very same bytes through a socket.
//
// Layouts and ioctl numbers are written once here;
// tests/compositor/input-ffi.test.ts checks them against linux/input.h with
// a C program (offsetof/sizeof and the ioctl macros).
import { ioctl } from "./libc.ts";

export const LAYOUT = {
  /** struct input_event on 64-bit: struct timeval (2 × long), u16 type, u16 code, s32 value. */
  input_event: { size: 24, time: 0, type: 16, code: 18, value: 20 },
  /** struct input_absinfo: value, minimum, maximum, fuzz, flat, resolution (all s32). */
  input_absinfo: { size: 24, value: 0, minimum: 4, maximum: 8, resolution: 20 },
} as const;

export const EV = { SYN: 0x00, KEY: 0x01, REL: 0x02, ABS: 0x03, MAX: 0x1f } as const;
export const SYN = { REPORT: 0, DROPPED: 3 } as const;
export const REL = { X: 0x00, Y: 0x01, HWHEEL: 0x06, WHEEL: 0x08 } as const;
export const ABS = { X: 0x00, Y: 0x01, MT_SLOT: 0x2f, MT_POSITION_X: 0x35, MT_POSITION_Y: 0x36, MT_TRACKING_ID: 0x39, MAX: 0x3f } as const;
export const KEY = { ESC: 1, BACKSPACE: 14, A: 30, B: 48, LEFTCTRL: 29, LEFTALT: 56, F1: 59, F2: 60, F12: 88, RIGHTCTRL: 97, RIGHTALT: 100, MAX: 0x2ff } as const;
export const BTN = { MISC: 0x100, LEFT: 0x110, RIGHT: 0x111, MIDDLE: 0x112, TASK: 0x117, TOUCH: 0x14a } as const;

// _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr
const IOC_WRITE = 1;
const IOC_READ = 2;
const ioc = (dir: number, nr: number, size: number) => ((dir << 30) | (size << 16) | (0x45 /* 'E' */ << 8) | nr) >>> 0;

export const IOCTL = {
  EVIOCGNAME: (len: number) => ioc(IOC_READ, 0x06, len),
  EVIOCGBIT: (ev: number, len: number) => ioc(IOC_READ, 0x20 + ev, len),
  EVIOCGABS: (abs: number) => ioc(IOC_READ, 0x40 + abs, LAYOUT.input_absinfo.size),
  EVIOCGRAB: ioc(IOC_WRITE, 0x90, 4),
} as const;

export interface InputEvent {
  type: number;
  code: number;
  value: number;
  /** The kernel's timestamp in µs (CLOCK_REALTIME unless changed; only differences matter). */
  timeUs: number;
}

/** Parses whole struct input_events; a trailing partial one is an error (evdev never splits them). */
export function parseInputEvents(buf: Uint8Array): InputEvent[] {
  const L = LAYOUT.input_event;
  if (buf.length % L.size !== 0) throw new Error(`evdev read of ${buf.length} bytes is not a whole number of ${L.size}-byte input_events`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: InputEvent[] = [];
  for (let off = 0; off < buf.length; off += L.size)
    out.push({
      type: dv.getUint16(off + L.type, true),
      code: dv.getUint16(off + L.code, true),
      value: dv.getInt32(off + L.value, true),
      timeUs: Number(dv.getBigInt64(off + L.time, true)) * 1e6 + Number(dv.getBigInt64(off + L.time + 8, true)),
    });
  return out;
}

export function encodeInputEvents(events: InputEvent[]): Uint8Array {
  const L = LAYOUT.input_event;
  const b = new Uint8Array(events.length * L.size);
  const dv = new DataView(b.buffer);
  events.forEach((e, i) => {
    dv.setBigInt64(i * L.size + L.time, BigInt(Math.floor(e.timeUs / 1e6)), true);
    dv.setBigInt64(i * L.size + L.time + 8, BigInt(Math.floor(e.timeUs % 1e6)), true);
    dv.setUint16(i * L.size + L.type, e.type, true);
    dv.setUint16(i * L.size + L.code, e.code, true);
    dv.setInt32(i * L.size + L.value, e.value, true);
  });
  return b;
}

export class EvdevError extends Error {
  constructor(
    readonly call: string,
    readonly device: string,
    readonly errno: number,
  ) {
    super(`${call} on ${device} failed (errno ${errno}${errno === 25 ? ": not an evdev device" : ""})`);
  }
}

function call(fd: number, name: string, path: string, req: number, arg: Uint8Array | null): number {
  const r = ioctl(fd, req, arg);
  if (r < 0) throw new EvdevError(name, path, -r);
  return r;
}

/** The bits an evdev device reports for event type `ev` (EV.* ; 0 = which types). */
export function eventBits(fd: number, path: string, ev: number): Uint8Array {
  const bits = new Uint8Array(96); // KEY_MAX 0x2ff → 768 bits
  call(fd, "EVIOCGBIT", path, IOCTL.EVIOCGBIT(ev, bits.length), bits);
  return bits;
}

export const hasBit = (bits: Uint8Array, n: number) => (bits[n >> 3] & (1 << (n & 7))) !== 0;

export function deviceName(fd: number, path: string): string {
  const buf = new Uint8Array(256);
  call(fd, "EVIOCGNAME", path, IOCTL.EVIOCGNAME(buf.length), buf);
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

export function absRange(fd: number, path: string, abs: number): { min: number; max: number } {
  const buf = new Uint8Array(LAYOUT.input_absinfo.size);
  call(fd, "EVIOCGABS", path, IOCTL.EVIOCGABS(abs), buf);
  const dv = new DataView(buf.buffer);
  return { min: dv.getInt32(LAYOUT.input_absinfo.minimum, true), max: dv.getInt32(LAYOUT.input_absinfo.maximum, true) };
}

/** EVIOCGRAB: while grabbed, no other reader (a console, another compositor) sees the device's events. */
export function grab(fd: number, path: string, on: boolean): void {
  // The kernel reads EVIOCGRAB's argument as a value, not a pointer: any
  // non-NULL pointer grabs, NULL releases.
  call(fd, "EVIOCGRAB", path, IOCTL.EVIOCGRAB, on ? new Uint8Array(1) : null);
}
