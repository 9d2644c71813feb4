// Pure parts of the compositor: generated bindings, popup placement, PNG,
// damage bookkeeping, and the frame clock sleeping when idle.
import { describe, expect, test } from "bun:test";
import { generateAll } from "../../src/compositor/protocol/generate.ts";
import { placePopup, type Positioner } from "../../src/compositor/objects/xdg-shell.ts";
import { decodePng, encodePng } from "../../src/compositor/render/png.ts";
import { Damage } from "../../src/compositor/geometry.ts";
import { signature } from "../../ffi/wayland.ts";
import { wayland, xdg_shell } from "../../src/compositor/protocol/index.ts";
import { HeadlessBackend } from "../../src/compositor/backend/headless.ts";
import { Harness } from "./helpers.ts";
import { join } from "node:path";

describe("protocol bindings", () => {
  test("the generated modules are up to date with the XML", async () => {
    const files = await generateAll();
    for (const [name, text] of Object.entries(files)) {
      expect(await Bun.file(join(import.meta.dir, "../../src/compositor/protocol", name)).text()).toBe(text);
    }
  });

  test("signatures follow libwayland's format (since-version prefix, ? for nullable)", () => {
    const attach = wayland.wl_surface.requests.find((r) => r.name === "attach")!;
    expect(signature(attach)).toBe("?oii");
    const offset = wayland.wl_surface.requests.find((r) => r.name === "offset")!;
    expect(signature(offset)).toBe("5ii");
    expect(wayland.wl_compositor.version).toBe(6);
    expect(xdg_shell.xdg_wm_base.version).toBe(6);
    expect(xdg_shell.xdg_toplevel.enums.state.suspended).toBe(9);
  });
});

describe("popup placement", () => {
  const base: Positioner = { width: 100, height: 50, anchorRect: { x: 10, y: 20, width: 30, height: 10 }, anchor: 8, gravity: 8, constraints: 0, offsetX: 0, offsetY: 0, reactive: false };
  const screen = { x: 0, y: 0, width: 800, height: 600 };
  test("anchor bottom_right + gravity bottom_right: below and right of the anchor rect", () => {
    expect(placePopup(base, screen)).toEqual({ x: 40, y: 30, width: 100, height: 50 });
  });
  test("centred anchor and gravity", () => {
    expect(placePopup({ ...base, anchor: 0, gravity: 0 }, screen)).toEqual({ x: 25 - 50, y: 25 - 25, width: 100, height: 50 });
  });
  test("offset applies", () => {
    expect(placePopup({ ...base, offsetX: 5, offsetY: -5 }, screen)).toEqual({ x: 45, y: 25, width: 100, height: 50 });
  });
  test("flip_x moves it to the other side when it would leave the output", () => {
    const p = { ...base, anchorRect: { x: 750, y: 20, width: 30, height: 10 }, constraints: 4 };
    expect(placePopup(p, screen)).toEqual({ x: 650, y: 30, width: 100, height: 50 });
  });
  test("slide_y keeps it on the output", () => {
    const p = { ...base, anchorRect: { x: 10, y: 590, width: 30, height: 10 }, constraints: 2 };
    expect(placePopup(p, screen)).toEqual({ x: 40, y: 550, width: 100, height: 50 });
  });
  test("without adjustments it may leave the output", () => {
    const p = { ...base, anchorRect: { x: 10, y: 590, width: 30, height: 10 } };
    expect(placePopup(p, screen)).toEqual({ x: 40, y: 600, width: 100, height: 50 });
  });
});

describe("PNG", () => {
  test("round trip of BGRX pixels", () => {
    const w = 7;
    const h = 5;
    const px = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) px.set([i, 255 - i, (i * 7) & 255, 255], i * 4);
    const png = encodePng(px, w, h);
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const back = decodePng(png);
    expect(back.width).toBe(w);
    expect(back.height).toBe(h);
    for (let i = 0; i < w * h; i++) expect(Array.from(back.rgb.subarray(i * 3, i * 3 + 3))).toEqual([(i * 7) & 255, 255 - i, i]);
  });
});

describe("damage", () => {
  test("overlapping rects merge; disjoint ones stay apart", () => {
    const d = new Damage();
    d.add({ x: 0, y: 0, width: 10, height: 10 });
    d.add({ x: 5, y: 5, width: 10, height: 10 });
    d.add({ x: 100, y: 100, width: 1, height: 1 });
    expect(d.rects).toEqual([
      { x: 0, y: 0, width: 15, height: 15 },
      { x: 100, y: 100, width: 1, height: 1 },
    ]);
  });
});

describe("frame clock", () => {
  test("sleeps when nothing is damaged, wakes on damage", async () => {
    const h = new Harness({ width: 320, height: 240 });
    try {
      const backend = h.comp.backend as HeadlessBackend;
      await h.comp.nextFrame();
      expect(backend.scheduled).toBe(false);
      h.comp.scene.damageRect({ x: 0, y: 0, width: 10, height: 10 });
      expect(backend.scheduled).toBe(true);
      await new Promise((r) => h.comp.events.once("frame", r));
      expect(backend.scheduled).toBe(false);
    } finally {
      await h.dispose();
    }
  });

  test("back-to-back frames keep to the refresh rate (never faster)", async () => {
    // A client that redraws on every frame callback asks for the next frame
    // right after the last; those frames must come at 60 Hz, not at the
    // whole-millisecond timer Bun rounds to (that gave 62 Hz).
    const backend = new HeadlessBackend({ width: 64, height: 64, refresh: 60 });
    const o = backend.outputs[0];
    const times: number[] = [];
    let t0 = 0;
    try {
      await new Promise<void>((resolve) => {
        backend.start({
          render: () => {},
          presented: () => {
            times.push(performance.now());
            if (times.length === 31) resolve();
            else backend.scheduleFrame(o);
          },
          outputsChanged: () => {},
        });
        t0 = performance.now(); // an idle clock starts its grid now
        backend.scheduleFrame(o);
      });
    } finally {
      backend.destroy();
    }
    // Frame 30 is 30 periods of 16.67 ms after the grid's start; a timer may
    // fire up to 1 ms before its grid point (Bun rounds delays down), never more.
    expect(times[30] - t0).toBeGreaterThanOrEqual(30 * (1000 / 60) - 1);
  });
});

describe("environment", () => {
  test("a stale XDG_RUNTIME_DIR (another test removed it) does not stop a compositor starting", async () => {
    const old = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = join("/nonexistent", `weft-${process.pid}`);
    try {
      const h = new Harness();
      await h.dispose();
    } finally {
      if (old === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = old;
    }
  });
});
