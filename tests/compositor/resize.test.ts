// Interactive resize (xdg_toplevel.resize): the client asks on a button
// press, weft follows the pointer with configures carrying the resizing
// state, the client acks and draws, and the release ends it with a last
// configure. Driven by weft's test input, against a C client that reports
// every configure and against the real weston-terminal.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { background, Harness, pixel, SHELLCLIENT, stats } from "./helpers.ts";
import { BTN_LEFT } from "../../src/compositor/objects/seat.ts";

let h: Harness;
beforeEach(() => (h = new Harness({ width: 800, height: 600 })));
afterEach(async () => {
  expect(h.comp.server.internalErrors).toBe(0);
  await h.dispose();
});

const RESIZING = 3;
const ACTIVATED = 4;

describe("interactive resize", () => {
  test("from the bottom-right corner: configures with the resizing state follow the pointer, the window is drawn at each size", async () => {
    const c = h.scripted([SHELLCLIENT, "pixel", "00aa55", "100", "80", "resize-br"]);
    const v = await h.waitFor("mapped", () => h.windowOf(c.pid));
    await c.line(/^committed/);
    const f0 = v.frame();
    expect(f0).toMatchObject({ width: 100, height: 80 });
    h.comp.seat.pointerMotion(f0.x + 95, f0.y + 75);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    expect(await c.line(/^resize/)).toBe("resize bottom_right");
    await h.waitFor("resize grab", () => h.comp.seat.resizing);
    h.comp.seat.pointerMotion(f0.x + 95 + 60, f0.y + 75 + 40);
    expect(await c.line(/^toplevel_configure/)).toBe(`toplevel_configure 160 120 ${RESIZING} ${ACTIVATED}`);
    await h.waitFor("client drew 160×120", () => v.surface.width === 160 && v.surface.height === 120);
    // The top-left corner stays put.
    expect(v.frame()).toEqual({ x: f0.x, y: f0.y, width: 160, height: 120 });
    h.comp.seat.pointerMotion(f0.x + 95 + 20, f0.y + 75 - 30);
    expect(await c.line(/^toplevel_configure/)).toBe(`toplevel_configure 120 50 ${RESIZING} ${ACTIVATED}`);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    expect(h.comp.seat.resizing).toBeNull();
    expect(await c.line(/^toplevel_configure/)).toBe(`toplevel_configure 120 50 ${ACTIVATED}`);
    await h.waitFor("client drew 120×50", () => v.surface.width === 120 && v.surface.height === 50);
    await h.comp.nextFrame();
    const snap = h.pixels();
    expect(pixel(snap, f0.x + 119, f0.y + 49)).toBe(0x00aa55);
    expect(pixel(snap, f0.x + 121, f0.y + 49)).toBe(background(h.comp));
    expect(pixel(snap, f0.x + 50, f0.y + 51)).toBe(background(h.comp));
  });

  test("from the top-left corner: the bottom-right corner stays where it was", async () => {
    const c = h.scripted([SHELLCLIENT, "pixel", "5500aa", "100", "80", "resize-tl"]);
    const v = await h.waitFor("mapped", () => h.windowOf(c.pid));
    await c.line(/^committed/);
    const f0 = v.frame();
    h.comp.seat.pointerMotion(f0.x + 2, f0.y + 2);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    await h.waitFor("resize grab", () => h.comp.seat.resizing);
    h.comp.seat.pointerMotion(f0.x + 2 - 50, f0.y + 2 - 30);
    expect(await c.line(/^toplevel_configure \d+ \d+ 3/)).toBe(`toplevel_configure 150 110 ${RESIZING} ${ACTIVATED}`);
    await h.waitFor("client drew 150×110", () => v.surface.width === 150);
    expect(v.frame()).toEqual({ x: f0.x - 50, y: f0.y - 30, width: 150, height: 110 });
    h.comp.seat.pointerButton(BTN_LEFT, false);
    await c.line(/^toplevel_configure 150 110 4$/);
    await h.comp.nextFrame();
    const snap = h.pixels();
    expect(pixel(snap, f0.x - 50, f0.y - 30)).toBe(0x5500aa);
    expect(pixel(snap, f0.x + 99, f0.y + 79)).toBe(0x5500aa);
    expect(pixel(snap, f0.x + 100, f0.y + 79)).toBe(background(h.comp));
  });

  test("a resize request without the button held is ignored", async () => {
    const c = h.scripted([SHELLCLIENT, "pixel", "123456", "100", "80", "resize-br"]);
    const v = await h.waitFor("mapped", () => h.windowOf(c.pid));
    await c.line(/^committed/);
    const f0 = v.frame();
    h.comp.seat.pointerMotion(f0.x + 50, f0.y + 40);
    // Press and release before the client's request arrives: the grab is refused.
    h.comp.seat.pointerButton(BTN_LEFT, true);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    await c.line(/^resize/);
    c.send("commit");
    await c.line(/^done commit/);
    expect(h.comp.seat.resizing).toBeNull();
    h.comp.seat.pointerMotion(f0.x + 150, f0.y + 140);
    await h.comp.nextFrame();
    expect(v.frame()).toEqual(f0);
  });

  test("weston-terminal: dragging its bottom-right border makes the terminal bigger on screen", async () => {
    const c = h.spawn(["weston-terminal", "--shell=/bin/sh"]);
    const v = await h.mapped(c);
    await h.idle(c.pid);
    const f0 = v.frame();
    h.comp.seat.pointerMotion(f0.x + f0.width - 3, f0.y + f0.height - 3);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    await h.waitFor("resize grab", () => h.comp.seat.resizing);
    expect(h.comp.seat.resizing!.edges).toBe(10); // bottom_right
    h.comp.seat.pointerMotion(f0.x + f0.width - 3 - 200, f0.y + f0.height - 3 - 100);
    // weston-terminal snaps to whole character cells.
    await h.waitFor("terminal shrank", () => v.frame().width <= f0.width - 180 && v.frame().height <= f0.height - 80);
    h.comp.seat.pointerMotion(f0.x + f0.width - 3 + 40, f0.y + f0.height - 3 + 30);
    await h.waitFor("terminal grew", () => v.frame().width >= f0.width + 20 && v.frame().height >= f0.height + 10);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    await h.idle(c.pid);
    const f1 = v.frame();
    expect(f1.x).toBe(f0.x);
    expect(f1.y).toBe(f0.y);
    expect(f1.width).toBeGreaterThan(f0.width);
    // The strip the window grew into shows the terminal, not the background.
    const grown = stats(h.pixels(), { x: f0.x + f0.width + 2, y: f0.y + 10, width: f1.width - f0.width - 4, height: f0.height - 20 }, background(h.comp));
    expect(grown.differing).toBe(1);
  });
});
