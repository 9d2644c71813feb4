// Drag-and-drop between two real, unmodified clients: two weston-dnd
// windows side by side; a press on a flower in one starts a drag (with a
// drag icon), weft's test input carries it to the other, and the drop
// moves the flower: the target draws it, the source (told dnd_finished with
// the action "move") deletes it. Dropped on nothing, the drag is cancelled
// and the flower stays.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { diff, Harness } from "../compositor/helpers.ts";
import { BTN_LEFT } from "../../src/compositor/objects/seat.ts";
import type { View } from "../../src/compositor/scene.ts";
import type { Rect } from "../../src/compositor/geometry.ts";

let h: Harness;
beforeEach(() => (h = new Harness({ width: 1280, height: 720 })));
afterEach(async () => {
  expect(h.comp.server.internalErrors).toBe(0);
  await h.dispose();
});

const MOVE = 2;
// weston-dnd lays its flowers out in a 4-column checkerboard of 64 px cells
// 16 px apart; the second cell of the first row holds one, the first is empty.
// Frame-relative points inside them (below its title bar):
const FLOWER = { x: 128, y: 80 };
const EMPTY = { x: FLOWER.x - 80, y: FLOWER.y };
const cell = (f: Rect, p: { x: number; y: number }): Rect => ({ x: f.x + p.x - 30, y: f.y + p.y - 30, width: 60, height: 60 });

async function twoWindows(): Promise<{ a: { pid: number }; b: { pid: number }; va: View; vb: View }> {
  const a = h.spawn(["weston-dnd"]);
  const va = await h.mapped(a);
  const b = h.spawn(["weston-dnd"]);
  const vb = await h.mapped(b);
  h.comp.scene.move(va, 20 - (va.geometry?.x ?? 0), 20 - (va.geometry?.y ?? 0));
  h.comp.scene.move(vb, 640 - (vb.geometry?.x ?? 0), 20 - (vb.geometry?.y ?? 0));
  await h.idle(a.pid);
  await h.idle(b.pid);
  return { a, b, va, vb };
}

describe("drag-and-drop (wl_data_device)", () => {
  test("weston-dnd → weston-dnd: the flower moves to where it was dropped", async () => {
    const { a, b, va, vb } = await twoWindows();
    const fa = va.frame();
    const fb = vb.frame();
    const before = h.pixels();
    h.comp.seat.pointerMotion(fa.x + FLOWER.x, fa.y + FLOWER.y);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    const drag = await h.waitFor("drag started", () => h.comp.seat.drag);
    expect(drag.source?.data.mimes).toContain("application/x-wayland-dnd-flower");
    // The drag icon is drawn at the pointer; the pointer left the source window.
    await h.waitFor("drag icon", () => h.comp.scene.views.find((v) => v.kind === "icon" && v.mapped));
    expect(h.comp.seat.pointerFocus).toBeNull();
    h.comp.seat.pointerMotion(fb.x + EMPTY.x, fb.y + EMPTY.y);
    expect(drag.focus?.client.pid).toBe(b.pid);
    // The target accepts the flower type and both sides agree on "move".
    await h.waitFor("action agreed", () => drag.action === MOVE);
    const dropped = new Promise<{ target: { client: { pid: number } }; action: number }>((resolve) => h.comp.events.once("drop", resolve));
    h.comp.seat.pointerButton(BTN_LEFT, false);
    const d = await dropped;
    expect({ pid: d.target.client.pid, action: d.action }).toEqual({ pid: b.pid, action: MOVE });
    expect(h.comp.seat.drag).toBeNull();
    await h.waitFor("icon gone", () => !h.comp.scene.views.some((v) => v.kind === "icon" && v.mapped));
    // The target draws a flower in its empty cell; the source deletes its own.
    await h.waitFor("flower arrives", () => diff(before, h.pixels(), cell(fb, EMPTY)) > 300);
    await h.waitFor("flower leaves the source", () => diff(before, h.pixels(), cell(fa, FLOWER)) > 300);
    await h.idle(a.pid);
    await h.idle(b.pid);
    // Nothing else changed in either window.
    expect(diff(before, h.pixels(), cell(fa, EMPTY))).toBe(0);
    expect(diff(before, h.pixels(), cell(fb, FLOWER))).toBe(0);
  }, 30_000);

  test("dropped on the background: the source is cancelled and keeps its flower", async () => {
    const { a, b, va } = await twoWindows();
    const fa = va.frame();
    const before = h.pixels();
    h.comp.seat.pointerMotion(fa.x + FLOWER.x, fa.y + FLOWER.y);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    const drag = await h.waitFor("drag started", () => h.comp.seat.drag);
    h.comp.seat.pointerMotion(600, 600);
    expect(drag.focus).toBeNull();
    let drops = 0;
    h.comp.events.on("drop", () => drops++);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    expect(h.comp.seat.drag).toBeNull();
    // weston-dnd redraws the flower opaque once its source is cancelled.
    await h.idle(a.pid);
    await h.idle(b.pid);
    expect(drops).toBe(0);
    expect(diff(before, h.pixels(), cell(fa, FLOWER))).toBe(0);
    // The pointer is the client's again: it gets the next click (and can drag again).
    h.comp.seat.pointerMotion(fa.x + FLOWER.x, fa.y + FLOWER.y);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    await h.waitFor("second drag", () => h.comp.seat.drag);
    h.comp.seat.pointerButton(BTN_LEFT, false);
  }, 30_000);

  test("by touch: a finger carries the flower from one weston-dnd to the other and drops it where it lifts", async () => {
    const { a, b, va, vb } = await twoWindows();
    const fa = va.frame();
    const fb = vb.frame();
    const before = h.pixels();
    h.comp.seat.touchDown(0, fa.x + FLOWER.x, fa.y + FLOWER.y);
    const drag = await h.waitFor("touch drag started", () => h.comp.seat.drag);
    expect(drag.touchId).toBe(0);
    // The pointer is not part of it: moving it and clicking elsewhere neither moves nor drops the drag.
    h.comp.seat.pointerMotion(5, 700);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    expect(h.comp.seat.drag).toBe(drag);
    h.comp.seat.touchMotion(0, fb.x + EMPTY.x - 20, fb.y + EMPTY.y);
    h.comp.seat.touchMotion(0, fb.x + EMPTY.x, fb.y + EMPTY.y);
    expect(drag.focus?.client.pid).toBe(b.pid);
    await h.waitFor("action agreed", () => drag.action === MOVE);
    const dropped = new Promise<{ target: { client: { pid: number } }; action: number }>((resolve) => h.comp.events.once("drop", resolve));
    h.comp.seat.touchUp(0);
    const d = await dropped;
    expect({ pid: d.target.client.pid, action: d.action }).toEqual({ pid: b.pid, action: MOVE });
    expect(h.comp.seat.drag).toBeNull();
    await h.waitFor("flower arrives", () => diff(before, h.pixels(), cell(fb, EMPTY)) > 300);
    await h.waitFor("flower leaves the source", () => diff(before, h.pixels(), cell(fa, FLOWER)) > 300);
    await h.idle(a.pid);
    await h.idle(b.pid);
    expect(diff(before, h.pixels(), cell(fb, FLOWER))).toBe(0);
  }, 30_000);
});
