// The input device port: what weft needs from one input device — its name,
// what it can do, an fd that becomes readable, and the evdev events waiting
// on it. evdev.ts implements it over /dev/input/event*; fake.ts over a
// socket carrying the same struct input_event bytes (tests). One contract
// for both: tests/compositor/input-contract.ts.
import type { InputEvent } from "../../../ffi/evdev.ts";

export interface InputCaps {
  keyboard: boolean;
  /** Relative motion with buttons (mouse, touchpad in relative mode). */
  pointer: boolean;
  /** Absolute multi-touch (type B slots) or single touch. */
  touch: boolean;
  /** Absolute axis ranges for touch (device units). */
  absX?: { min: number; max: number };
  absY?: { min: number; max: number };
}

export interface InputDevice {
  readonly path: string;
  readonly name: string;
  readonly caps: InputCaps;
  readonly fd: number;
  /** The events pending now (non-blocking); null once the device is gone (unplugged, EOF). */
  read(): InputEvent[] | null;
  /** Takes the device for weft alone (EVIOCGRAB) or lets others read it too. */
  grab(on: boolean): void;
  close(): void;
}
