// wl_surface.set_buffer_transform and set_buffer_scale: a C client draws
// one 64×48 picture into its buffer turned and flipped each of the eight
// ways (and at scale 1, 2, 3); weft must undo it, so the screen always shows
// the same upright picture at 64×48, and pointer coordinates are in that
// picture's (surface) space, not the buffer's.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Harness, pixel, SHELLCLIENT } from "./helpers.ts";

let h: Harness;
beforeEach(() => (h = new Harness({ width: 640, height: 480 })));
afterEach(async () => {
  expect(h.comp.server.internalErrors).toBe(0);
  await h.dispose();
});

const NAMES = ["normal", "90", "180", "270", "flipped", "flipped-90", "flipped-180", "flipped-270"];

async function show(transform: number, scale: number) {
  const c = h.scripted([SHELLCLIENT, "transform", `${transform}`, `${scale}`]);
  const buf = await c.line(/^buffer/);
  const v = await h.waitFor("mapped", () => h.windowOf(c.pid));
  await h.comp.nextFrame();
  return { c, v, buf };
}

describe("buffer transforms and scale", () => {
  for (const [transform, scale] of [0, 1, 2, 3, 4, 5, 6, 7].flatMap((t) => [[t, 1], [t, 2]]).concat([[1, 3], [6, 3]])) {
    test(`${NAMES[transform]} at scale ${scale}: the picture is upright and 64×48 on screen`, async () => {
      const { v, buf } = await show(transform, scale);
      // The buffer really is turned (90° and 270° swap its sides) and scaled.
      expect(buf).toBe(transform & 1 ? `buffer ${48 * scale} ${64 * scale}` : `buffer ${64 * scale} ${48 * scale}`);
      const f = v.frame();
      expect({ width: f.width, height: f.height }).toEqual({ width: 64, height: 48 });
      const snap = h.pixels();
      const at = (x: number, y: number) => pixel(snap, f.x + x, f.y + y);
      // Quadrants, sampled at their corners (an error of one pixel or a mirror shows here).
      expect([at(0, 0), at(31, 23), at(20, 2)]).toEqual([0xff0000, 0xff0000, 0xff0000]);
      expect([at(32, 0), at(63, 23), at(60, 20)]).toEqual([0x00ff00, 0x00ff00, 0x00ff00]);
      expect([at(0, 24), at(31, 47), at(3, 40)]).toEqual([0x0000ff, 0x0000ff, 0x0000ff]);
      expect([at(32, 24), at(63, 47), at(50, 30)]).toEqual([0xffffff, 0xffffff, 0xffffff]);
      // The black marker sits at (8..11, 8..11) only.
      expect([at(8, 8), at(11, 11)]).toEqual([0, 0]);
      expect([at(7, 8), at(12, 11), at(8, 12), at(52, 36), at(52, 11), at(11, 36)].includes(0)).toBe(false);
    });
  }

  test("pointer coordinates are surface coordinates (not buffer pixels) through a transform and scale", async () => {
    const { c, v } = await show(1, 2);
    const f = v.frame();
    h.comp.seat.pointerMotion(f.x + 50, f.y + 10);
    expect(await c.line(/^pointer_enter/)).toBe("pointer_enter 50.0 10.0");
    h.comp.seat.pointerMotion(f.x + 63, f.y + 47);
    expect(await c.line(/^pointer_motion (?!50\.0 10\.0)/)).toBe("pointer_motion 63.0 47.0");
    // Just outside the 64×48 surface the client no longer gets motion: it is not 96 px wide.
    expect(h.comp.scene.surfaceAt(f.x + 64, f.y + 10)?.surface).not.toBe(v.surface);
    expect(h.comp.scene.surfaceAt(f.x + 10, f.y + 48)?.surface).not.toBe(v.surface);
  });
});
