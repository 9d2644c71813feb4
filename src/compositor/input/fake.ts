// A scriptable input device for tests: its events travel through a real
// socket as struct input_event bytes, exactly what an evdev node gives, and
// the same parser reads them. unplug() closes the far end (the device reads
// as gone, like ENODEV on a real node).
import { writeSync } from "node:fs";
import { encodeInputEvents, EV, parseInputEvents, SYN, type InputEvent } from "../../../ffi/evdev.ts";
import { closeFd, readSome, socketPair } from "../../../ffi/libc.ts";
import type { InputCaps, InputDevice } from "./device.ts";

export class FakeInputDevice implements InputDevice {
  readonly fd: number;
  private peer: number | null;
  private closed = false;
  /** Whether weft holds the device (EVIOCGRAB) — a real node starts grabbed by EvdevDevice.open. */
  grabbed = true;

  constructor(
    readonly name: string,
    readonly caps: InputCaps,
    readonly path = `fake:${name}`,
  ) {
    [this.fd, this.peer] = socketPair("stream");
  }

  read(): InputEvent[] | null {
    const out: InputEvent[] = [];
    for (;;) {
      const buf = readSome(this.fd, 24 * 64);
      if (!buf) return out;
      if (buf.length === 0) return out.length ? out : null;
      out.push(...parseInputEvents(buf));
    }
  }

  grab(on: boolean): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
    this.grabbed = on;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
    this.unplug();
  }

  // ---- the script side -----------------------------------------------------------------
  /** Writes events, then a SYN_REPORT (one hardware frame), stamped now. */
  emit(...events: [type: number, code: number, value: number][]): void {
    this.emitAt(Math.round(performance.now() * 1000), ...events);
  }

  /** emit() with the kernel timestamp given (µs), for tests of speed-dependent behaviour. */
  emitAt(timeUs: number, ...events: [type: number, code: number, value: number][]): void {
    if (this.peer === null) throw new Error(`${this.path} is unplugged`);
    writeSync(this.peer, encodeInputEvents([...events.map(([type, code, value]) => ({ type, code, value, timeUs })), { type: EV.SYN, code: SYN.REPORT, value: 0, timeUs }]));
  }

  /** Raw bytes (for torn or malformed streams). */
  writeRaw(b: Uint8Array): void {
    if (this.peer !== null) writeSync(this.peer, b);
  }

  unplug(): void {
    if (this.peer !== null) closeFd(this.peer);
    this.peer = null;
  }
}
