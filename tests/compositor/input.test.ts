// Real input through the input device port: fake evdev devices (struct
// input_event bytes through sockets) feed the Input layer, and real Wayland
// clients (weston-eventdemo, weston-simple-touch) show what reached them.
import { afterEach, describe, expect, test } from "bun:test";
import { ABS, BTN, EV, KEY, REL, SYN } from "../../ffi/evdev.ts";
import { Input } from "../../src/compositor/input/input.ts";
import { FakeInputDevice } from "../../src/compositor/input/fake.ts";
import { PointerAccel } from "../../src/compositor/input/accel.ts";
import { Harness, pixel } from "./helpers.ts";

let h: Harness | null = null;
let input: Input | null = null;
afterEach(async () => {
  input?.destroy();
  input = null;
  await h?.dispose();
  h = null;
});

const KEY_LEFTSHIFT = 42;

function setup(opts: { onQuit?: () => void } = {}) {
  h = new Harness();
  const log: string[] = [];
  input = new Input(h.comp, { ...opts, log: (m) => log.push(m) });
  return { h, input, log };
}

async function eventdemo(h: Harness) {
  const c = h.scripted(["stdbuf", "-oL", "weston-eventdemo", "--log-key", "--log-motion", "--log-button", "--log-axis"]);
  const v = await h.waitFor("eventdemo window", () => h.windowOf(c.pid));
  await h.comp.nextFrame();
  return { c, v };
}

/** Resolves once `check()` holds, checked after each turn of the loop (deadline 5 s). */
async function until(what: string, check: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

describe("input: keyboard", () => {
  test("keys reach the focused client through XKB (shift gives capitals); kernel autorepeat is left to the client", async () => {
    const { h, input } = setup();
    const kbd = new FakeInputDevice("kbd", { keyboard: true, pointer: false, touch: false });
    input.add(kbd);
    const { c } = await eventdemo(h);
    kbd.emit([EV.KEY, KEY.A, 1]);
    kbd.emit([EV.KEY, KEY.A, 2]); // autorepeat
    kbd.emit([EV.KEY, KEY.A, 2]);
    kbd.emit([EV.KEY, KEY.A, 0]);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 30, unicode: 97, state: pressed/);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 30, unicode: 97, state: released/);
    kbd.emit([EV.KEY, KEY_LEFTSHIFT, 1]);
    kbd.emit([EV.KEY, KEY.A, 1]);
    kbd.emit([EV.KEY, KEY.A, 0], [EV.KEY, KEY_LEFTSHIFT, 0]);
    expect(await c.line(/^key key: 42/)).toMatch(/pressed/);
    expect(await c.line(/^key key: 30/)).toMatch(/^key key: 30, unicode: 65, state: pressed, modifiers: 0x1/);
  }, 30_000);

  test("Ctrl+Alt+Backspace quits, and the client never sees the Backspace", async () => {
    let quits = 0;
    const { h, input, log } = setup({ onQuit: () => quits++ });
    const kbd = new FakeInputDevice("kbd", { keyboard: true, pointer: false, touch: false });
    input.add(kbd);
    const { c } = await eventdemo(h);
    kbd.emit([EV.KEY, KEY.LEFTCTRL, 1]);
    kbd.emit([EV.KEY, KEY.LEFTALT, 1]);
    kbd.emit([EV.KEY, KEY.BACKSPACE, 1]);
    kbd.emit([EV.KEY, KEY.BACKSPACE, 0]);
    kbd.emit([EV.KEY, KEY.LEFTALT, 0]);
    kbd.emit([EV.KEY, KEY.LEFTCTRL, 0]);
    const lines = [];
    for (let i = 0; i < 4; i++) lines.push((await c.line(/^key key: /)).replace(/, unicode.*state: (\w+).*/, " $1"));
    expect(lines).toEqual(["key key: 29 pressed", "key key: 56 pressed", "key key: 56 released", "key key: 29 released"]);
    expect(quits).toBe(1);
    expect(log).toContain("Ctrl+Alt+Backspace: quitting");
  }, 30_000);

  test("Ctrl+Alt+Backspace pressed again while weft stops asks to quit only once", async () => {
    // onQuit sends SIGTERM; a second one while the first stop runs would end weft
    // at once, its VT still in graphics mode with the keyboard off.
    let quits = 0;
    const { input, log } = setup({ onQuit: () => quits++ });
    const kbd = new FakeInputDevice("kbd", { keyboard: true, pointer: false, touch: false });
    input.add(kbd);
    kbd.emit([EV.KEY, KEY.LEFTCTRL, 1], [EV.KEY, KEY.LEFTALT, 1]);
    kbd.emit([EV.KEY, KEY.BACKSPACE, 1], [EV.KEY, KEY.BACKSPACE, 0]);
    kbd.emit([EV.KEY, KEY.BACKSPACE, 1], [EV.KEY, KEY.BACKSPACE, 0]);
    const end = Date.now() + 5000;
    while (log.filter((l) => l.startsWith("Ctrl+Alt+Backspace")).length < 2) {
      if (Date.now() > end) throw new Error(`timed out; log: ${log.join(" | ")}`);
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(quits).toBe(1);
    expect(log).toContain("Ctrl+Alt+Backspace: already quitting");
  }, 30_000);
});

describe("input: pointer", () => {
  test("relative motion moves the pointer (1:1 when slow), buttons and the wheel reach the client", async () => {
    const { h, input } = setup();
    const mouse = new FakeInputDevice("mouse", { keyboard: false, pointer: true, touch: false });
    input.add(mouse);
    const { c, v } = await eventdemo(h);
    const seat = h.comp.seat;
    // Well inside eventdemo's widget (its own frame around it logs nothing).
    seat.pointerMotion(v.x + 100, v.y + 120);
    // Slow: 20 ms apart, 2 units each way (0.14 units/ms).
    let t = 1_000_000;
    for (let i = 0; i < 5; i++) mouse.emitAt((t += 20_000), [EV.REL, REL.X, 2], [EV.REL, REL.Y, 2]);
    await until("pointer moved", () => seat.y === v.y + 130);
    expect(seat.x).toBe(v.x + 110);
    await c.line(/^motion time: \d+, x: 110\.0+, y: 130\.0+/);
    mouse.emit([EV.KEY, BTN.LEFT, 1]);
    mouse.emit([EV.KEY, BTN.LEFT, 0]);
    expect(await c.line(/^button /)).toMatch(/button: 272, state: pressed/);
    expect(await c.line(/^button /)).toMatch(/button: 272, state: released/);
    mouse.emit([EV.REL, REL.WHEEL, 1]);
    expect(await c.line(/^axis time/)).toMatch(/axis: vertical, value: -15\.0+/);
  }, 30_000);

  test("fast motion is accelerated; the gain is capped", () => {
    const slow = new PointerAccel();
    expect(slow.apply(4, 0, 0)).toEqual([4, 0]);
    expect(slow.apply(4, 0, 20_000)).toEqual([4, 0]); // 0.2 units/ms
    const fast = new PointerAccel();
    fast.apply(1, 0, 0);
    const [fx] = fast.apply(40, 0, 8_000); // 5 units/ms
    expect(fx).toBeGreaterThan(40);
    expect(fx).toBeLessThanOrEqual(40 * 3.5);
    // Sub-pixel remainders are kept: many tiny slow moves add up.
    const tiny = new PointerAccel({ threshold: 0.4, slope: 0.6, max: 3.5 });
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += tiny.apply(1, 0, i * 50_000)[0];
    expect(sum).toBe(10);
  });

  test("a frame the kernel dropped (SYN_DROPPED) is discarded", async () => {
    const { h, input } = setup();
    const mouse = new FakeInputDevice("mouse", { keyboard: false, pointer: true, touch: false });
    input.add(mouse);
    const seat = h.comp.seat;
    mouse.writeRaw(
      new Uint8Array([
        ...encode(EV.REL, REL.X, 300),
        ...encode(EV.SYN, SYN.DROPPED, 0),
        ...encode(EV.REL, REL.X, 7),
        ...encode(EV.SYN, SYN.REPORT, 0),
      ]),
    );
    mouse.emit([EV.REL, REL.X, 5]);
    await until("pointer moved", () => seat.x !== 0);
    expect(seat.x).toBe(5);
  });
});

function encode(type: number, code: number, value: number): Uint8Array {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint16(16, type, true);
  dv.setUint16(18, code, true);
  dv.setInt32(20, value, true);
  return b;
}

describe("input: touch", () => {
  test("multi-touch slots become wl_touch points where the device says (weston-simple-touch draws them)", async () => {
    const { h, input } = setup();
    const ts = new FakeInputDevice("touchscreen", { keyboard: false, pointer: false, touch: true, absX: { min: 0, max: 1279 }, absY: { min: 0, max: 719 } });
    input.add(ts);
    const c = h.spawn(["weston-simple-touch"]);
    const v = await h.mapped(c);
    const seen: string[] = [];
    const seat = h.comp.seat;
    const orig = { down: seat.touchDown.bind(seat), up: seat.touchUp.bind(seat), motion: seat.touchMotion.bind(seat) };
    seat.touchDown = (id, x, y) => (seen.push(`down ${id} ${x},${y}`), orig.down(id, x, y));
    seat.touchMotion = (id, x, y) => (seen.push(`motion ${id} ${x},${y}`), orig.motion(id, x, y));
    seat.touchUp = (id) => (seen.push(`up ${id}`), orig.up(id));
    const x = v.x + 100;
    const y = v.y + 100;
    const before = pixel(h.pixels(), x, y);
    // Two fingers, type B, as a touchscreen sends them (plus the legacy ABS_X/BTN_TOUCH it adds).
    ts.emit([EV.ABS, ABS.MT_SLOT, 0], [EV.ABS, ABS.MT_TRACKING_ID, 7], [EV.ABS, ABS.MT_POSITION_X, x], [EV.ABS, ABS.MT_POSITION_Y, y], [EV.ABS, ABS.MT_SLOT, 1], [EV.ABS, ABS.MT_TRACKING_ID, 8], [EV.ABS, ABS.MT_POSITION_X, x + 50], [EV.ABS, ABS.MT_POSITION_Y, y], [EV.KEY, BTN.TOUCH, 1], [EV.ABS, ABS.X, x], [EV.ABS, ABS.Y, y]);
    ts.emit([EV.ABS, ABS.MT_SLOT, 0], [EV.ABS, ABS.MT_POSITION_X, x + 10], [EV.ABS, ABS.X, x + 10]);
    ts.emit([EV.ABS, ABS.MT_SLOT, 0], [EV.ABS, ABS.MT_TRACKING_ID, -1], [EV.ABS, ABS.MT_SLOT, 1], [EV.ABS, ABS.MT_TRACKING_ID, -1], [EV.KEY, BTN.TOUCH, 0]);
    await until("touch up", () => seen.length >= 5);
    expect(seen).toEqual([`down 0 ${x},${y}`, `down 1 ${x + 50},${y}`, `motion 0 ${x + 10},${y}`, "up 0", "up 1"]);
    // simple-touch painted where the first finger went down.
    await h.waitFor("touch drawn", () => pixel(h.pixels(), x, y) !== before);
  }, 30_000);
});

describe("input: hotplug", () => {
  test("a device that goes away is dropped; a new one works; a torn stream drops the device with a reason", async () => {
    const { h, input, log } = setup();
    const a = new FakeInputDevice("mouse-a", { keyboard: false, pointer: true, touch: false });
    input.add(a);
    expect(input.count).toBe(1);
    a.unplug();
    await until("device dropped", () => input.count === 0);
    expect(log).toContain("input device fake:mouse-a removed");
    const b = new FakeInputDevice("mouse-b", { keyboard: false, pointer: true, touch: false });
    input.add(b);
    b.emit([EV.REL, REL.X, 3]);
    await until("pointer moved", () => h.comp.seat.x === 3);
    b.writeRaw(new Uint8Array(10));
    await until("torn device dropped", () => input.count === 0);
    expect(log.some((l) => /fake:mouse-b: evdev read of 10 bytes is not a whole number/.test(l))).toBe(true);
  });
});
