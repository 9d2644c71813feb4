// zweft_shell_manager_v1 v2 (spec §6): every event is really emitted; plus
// single-pixel buffers through a viewport and wp_presentation feedback.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Harness, pixel, SHELLCLIENT } from "./helpers.ts";
import { BTN_LEFT } from "../../src/compositor/objects/seat.ts";

let h: Harness;
beforeEach(() => (h = new Harness({ width: 800, height: 600 })));
afterEach(async () => {
  expect(h.comp.server.internalErrors).toBe(0);
  await h.dispose();
});

const MAXIMIZED = 1;
const ACTIVATED = 4;

describe("weft shell", () => {
  test("a panel is configured to the whole output, maximized, and drawn below apps", async () => {
    const panel = h.scripted([SHELLCLIENT, "shell", "panel", "10", "10", "100", "100", "336699"]);
    expect(await panel.line(/^configure/)).toBe(`configure 0 0 800 600 ${MAXIMIZED}`);
    await h.waitFor("panel mapped", () => h.windowOf(panel.pid));
    await h.comp.nextFrame();
    expect(pixel(h.pixels(), 400, 300)).toBe(0x336699);
    // An app window maps above the panel.
    const app = h.scripted([SHELLCLIENT, "shell", "application", "100", "50", "200", "150", "cc3300"]);
    expect(await app.line(/^configure/)).toBe("configure 100 50 200 150 0");
    await h.waitFor("app mapped", () => h.windowOf(app.pid));
    await h.comp.nextFrame();
    const snap = h.pixels();
    expect(pixel(snap, 150, 100)).toBe(0xcc3300);
    expect(pixel(snap, 50, 300)).toBe(0x336699);
    expect(h.comp.scene.views.map((v) => v.layer)).toEqual(["background", "normal"]);
  });

  test("focus_changed and the activated state follow clicks", async () => {
    const a = h.scripted([SHELLCLIENT, "shell", "application", "0", "0", "200", "200", "ff0000"]);
    await a.line(/^configure/);
    expect(await a.line(/^focus_changed/)).toBe("focus_changed 1");
    expect(await a.line(/^configure/)).toBe(`configure 0 0 200 200 ${ACTIVATED}`);
    const b = h.scripted([SHELLCLIENT, "shell", "application", "300", "0", "200", "200", "00ff00"]);
    await b.line(/^configure/);
    expect(await b.line(/^focus_changed/)).toBe("focus_changed 1");
    expect(await a.line(/^focus_changed/)).toBe("focus_changed 0");
    h.comp.seat.pointerMotion(50, 50);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    expect(await a.line(/^focus_changed/)).toBe("focus_changed 1");
    expect(await b.line(/^focus_changed/)).toBe("focus_changed 0");
  });

  test("presentation_feedback arrives after the frame that showed new content", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "0", "0", "64", "64", "123456"]);
    const refresh = Math.round(1e9 / 60);
    expect(await w.line(/^presentation_feedback/)).toBe(`presentation_feedback refresh ${refresh}`);
    w.send("commit");
    expect(await w.line(/^presentation_feedback/)).toBe(`presentation_feedback refresh ${refresh}`);
  });

  test("set_geometry and update_metadata are answered with configure", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "0", "0", "64", "64", "123456"]);
    await w.line(/^configure/);
    w.send("geometry 40 30 120 90");
    expect(await w.line(/^configure 40/)).toMatch(/^configure 40 30 120 90 \d+$/);
    w.send("metadata Hello panel");
    expect(await w.line(/^configure 0 0/)).toMatch(/^configure 0 0 800 600 \d+$/);
    expect(h.comp.shell.windows.values().next().value).toMatchObject({ title: "Hello", role: "panel" });
  });

  test("destroying the manager sends window_closed to every window first", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "0", "0", "64", "64", "123456"]);
    await w.line(/^configure/);
    w.send("destroy-manager");
    expect(await w.line(/^window_closed/)).toBe("window_closed");
    await h.waitFor("window unmapped", () => !h.windowOf(w.pid));
  });

  test("a request after window_closed is a defunct_window error", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "0", "0", "64", "64", "123456"]);
    await w.line(/^configure/);
    h.comp.shell.closeAll();
    expect(await w.line(/^window_closed/)).toBe("window_closed");
    w.send("geometry 1 2 3 4");
    expect(await w.line(/^disconnected/)).toBe("disconnected 71"); // EPROTO
  });

  test("a three-finger swipe of 100 px or more is a navigation_gesture for panels", async () => {
    const panel = h.scripted([SHELLCLIENT, "shell", "panel", "0", "0", "0", "0", "336699"]);
    await panel.line(/^configure/);
    await h.waitFor("panel mapped", () => h.windowOf(panel.pid));
    const seat = h.comp.seat;
    for (const id of [0, 1, 2]) seat.touchDown(id, 100 + id * 40, 300);
    for (const id of [0, 1, 2]) seat.touchMotion(id, 100 + id * 40 + 150, 290);
    for (const id of [0, 1, 2]) seat.touchUp(id);
    expect(await panel.line(/^navigation_gesture/)).toBe("navigation_gesture 0 3 150 -10");
    // Two fingers are not a navigation gesture.
    for (const id of [0, 1]) seat.touchDown(id, 100, 300);
    for (const id of [0, 1]) seat.touchMotion(id, 400, 300);
    for (const id of [0, 1]) seat.touchUp(id);
    panel.send("commit");
    expect(await panel.line(/^navigation_gesture|^done commit/)).toBe("done commit");
  });
});

describe("damage", () => {
  test("a commit that damages one pixel repaints that pixel, not the window", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "10", "20", "64", "64", "4488cc"]);
    await w.line(/^presentation_feedback/);
    await h.comp.nextFrame();
    const damaged = new Promise<unknown>((resolve) => h.comp.events.once("commit", () => resolve(h.comp.scene.damage.rects.map((r) => ({ ...r })))));
    w.send("commit");
    expect(await damaged).toEqual([{ x: 10, y: 20, width: 1, height: 1 }]);
  });
});

describe("buffers", () => {
  test("a buffer destroyed while on screen stays visible (weft keeps a copy) until the next commit", async () => {
    const w = h.scripted([SHELLCLIENT, "shell", "normal", "10", "10", "64", "64", "4488cc"]);
    await w.line(/^presentation_feedback/);
    expect(pixel(h.pixels(), 40, 40)).toBe(0x4488cc);
    w.send("destroy-buffer");
    await w.line(/^done destroy-buffer/);
    w.send("commit");
    await w.line(/^presentation_feedback/);
    expect(pixel(h.pixels(), 40, 40)).toBe(0x4488cc);
  });
});

describe("single-pixel buffers, viewports and presentation time", () => {
  test("a 1×1 buffer scaled by a viewport fills its window, and presentation is reported", async () => {
    const c = h.scripted([SHELLCLIENT, "pixel", "ff8800", "200", "100"]);
    const presented = await c.line(/^presented|^discarded/);
    const m = presented.match(/^presented refresh (\d+) seq (\d+) flags (\d+) age_us (-?\d+)$/);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Math.round(1e9 / 60));
    // Real timestamps on the client's CLOCK_MONOTONIC: in the past, and recent.
    expect(Number(m![4])).toBeGreaterThanOrEqual(0);
    expect(Number(m![4])).toBeLessThan(1_000_000);
    const v = await h.waitFor("mapped", () => h.windowOf(c.pid));
    expect(v.frame()).toMatchObject({ width: 200, height: 100 });
    const f = v.frame();
    const snap = h.pixels();
    expect(pixel(snap, f.x + 1, f.y + 1)).toBe(0xff8800);
    expect(pixel(snap, f.x + 199, f.y + 99)).toBe(0xff8800);
    expect(pixel(snap, f.x + 201, f.y + 50)).not.toBe(0xff8800);
  });
});
