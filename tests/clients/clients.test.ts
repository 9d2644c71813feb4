// Real, unmodified Debian clients against an in-process weft compositor:
// each connects, maps, and the output shows its pixels where its window is.
import { describe, expect, test } from "bun:test";
import { background, deadline, diff, Harness, keysFor, pixel, stats } from "../compositor/helpers.ts";
import { BTN_LEFT } from "../../src/compositor/objects/seat.ts";
import { BORDER } from "../../src/compositor/scene.ts";

async function withHarness(fn: (h: Harness) => Promise<void>, opts = {}) {
  const h = new Harness(opts);
  try {
    await fn(h);
    expect(h.comp.server.internalErrors).toBe(0);
  } finally {
    await h.dispose();
  }
}

/** The window is on screen: inside it the pixels are the client's, outside is background. */
async function expectShown(h: Harness, pid: number, minColours: number, minCovered = 0.5) {
  const v = h.windowOf(pid)!;
  const f = v.frame();
  const out = h.comp.scene.output;
  expect(f.x).toBeGreaterThanOrEqual(0);
  expect(f.y).toBeGreaterThanOrEqual(0);
  const snap = h.pixels();
  const bg = background(h.comp);
  const inside = stats(snap, { x: f.x, y: f.y, width: Math.min(f.width, out.width - f.x), height: Math.min(f.height, out.height - f.y) }, bg);
  expect(inside.differing).toBeGreaterThan(minCovered);
  expect(inside.colours).toBeGreaterThanOrEqual(minColours);
  // A strip right of the window, beyond any client-drawn shadow, is background (when there is room).
  if (f.x + f.width + 72 < out.width) {
    const right = stats(snap, { x: f.x + f.width + 64, y: f.y, width: 8, height: Math.min(f.height, out.height - f.y) }, bg);
    expect(right.differing).toBe(0);
  }
  return f;
}

describe("real clients", () => {
  test("weston-simple-shm maps, animates with frame callbacks, and is shown where its window is", () =>
    withHarness(async (h) => {
      const c = h.spawn(["weston-simple-shm"]);
      const v = await h.mapped(c);
      expect(v.frame()).toMatchObject({ width: 250, height: 250 });
      const f = await expectShown(h, c.pid, 20);
      // Frame callbacks drive its animation: the picture keeps changing.
      const a = h.pixels();
      const start = h.comp.frames;
      await h.waitFor("10 frames", () => h.comp.frames >= start + 10);
      expect(diff(a, h.pixels(), f)).toBeGreaterThan(100);
    }));

  test("weston-flower maps with its own pixels", () =>
    withHarness(async (h) => {
      const c = h.spawn(["weston-flower"]);
      await h.mapped(c);
      // The flower is a random star shape on a transparent square.
      await expectShown(h, c.pid, 10, 0.1);
    }));

  test("weston-subsurfaces: a window made of subsurfaces is composed and shown", () =>
    withHarness(async (h) => {
      const c = h.spawn(["weston-subsurfaces"]);
      const v = await h.mapped(c);
      let subs = 0;
      h.comp.scene.forEachSurface(v.surface, (s) => s.sub && subs++);
      expect(subs).toBeGreaterThanOrEqual(1);
      await expectShown(h, c.pid, 3);
    }));

  test("weston-flower: pressing on it starts an interactive move (xdg_toplevel.move) that follows the pointer", () =>
    withHarness(async (h) => {
      const c = h.spawn(["weston-flower"]);
      const v = await h.mapped(c);
      const start = { x: v.x, y: v.y };
      const f = v.frame();
      h.comp.seat.pointerMotion(f.x + f.width / 2, f.y + f.height / 2);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      await h.waitFor("move grab", () => h.comp.seat.moving);
      h.comp.seat.pointerMotion(f.x + f.width / 2 + 100, f.y + f.height / 2 + 50);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      expect(h.comp.seat.moving).toBeNull();
      expect({ x: v.x, y: v.y }).toEqual({ x: start.x + 100, y: start.y + 50 });
      await h.comp.nextFrame();
      await expectShown(h, c.pid, 10, 0.1);
    }));

  test("weston-terminal maps with its decorations and text", () =>
    withHarness(async (h) => {
      const c = h.spawn(["weston-terminal", "--shell=/bin/sh"]);
      await h.mapped(c);
      await expectShown(h, c.pid, 3);
    }));

  test("foot maps and typing into it changes what is shown", () =>
    withHarness(async (h) => {
      const c = h.spawn(["foot", "--override=font=monospace:size=14", "/bin/sh"], { PS1: "$ " });
      const v = await h.mapped(c);
      expect(h.comp.scene.focused).toBe(v);
      const f = await expectShown(h, c.pid, 2);
      // Wait for the prompt (foot stops drawing), then type.
      await h.idle(c.pid);
      const before = h.pixels();
      for (const k of keysFor("echo weft-typed")) {
        h.comp.seat.key(k, true);
        h.comp.seat.key(k, false);
      }
      await h.waitFor("typed text on screen", () => diff(before, h.pixels(), f) > 200);
    }));

  test("foot asks for server-side decorations: weft draws a title bar that moves and closes the window", () =>
    withHarness(async (h) => {
      const c = h.spawn(["foot", "/bin/sh"], { PS1: "$ " });
      const v = await h.mapped(c);
      expect(v.decorated).toBe(true);
      const bar = v.titleBar()!;
      expect(bar.y).toBeGreaterThanOrEqual(0);
      const snap = h.pixels();
      expect(pixel(snap, bar.x + 10, bar.y + 10)).toBe(0x335c99); // active title colour
      // Drag the title bar.
      const start = { x: v.x, y: v.y };
      h.comp.seat.pointerMotion(bar.x + 40, bar.y + 10);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      h.comp.seat.pointerMotion(bar.x + 10, bar.y + 30);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      expect({ x: v.x, y: v.y }).toEqual({ x: start.x - 30, y: start.y + 20 });
      // The close button asks foot to close; it exits.
      const close = v.closeButton()!;
      h.comp.seat.pointerMotion(close.x + 5, close.y + 5);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      // foot exits (with its shell's hang-up status) when asked to close.
      await deadline(c.proc.exited, 10_000, "foot exits after close");
      await h.waitFor("unmapped", () => !v.mapped);
    }));

  test("foot with weft's title bar: dragging the border weft keeps around it resizes the window", () =>
    withHarness(async (h) => {
      const c = h.spawn(["foot", "/bin/sh"], { PS1: "$ " });
      const v = await h.mapped(c);
      expect(v.decorated).toBe(true);
      await h.idle(c.pid);
      const f0 = v.frame();
      // Just outside the bottom-right corner: the pointer is on no surface, and a press starts a resize.
      h.comp.seat.pointerMotion(f0.x + f0.width + BORDER - 2, f0.y + f0.height + BORDER - 2);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      expect(h.comp.seat.resizing?.edges).toBe(10); // bottom_right
      h.comp.seat.pointerMotion(f0.x + f0.width + 120, f0.y + f0.height + 80);
      // foot snaps to whole character cells.
      await h.waitFor("foot grew", () => v.frame().width >= f0.width + 100 && v.frame().height >= f0.height + 60);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      expect(h.comp.seat.resizing).toBeNull();
      await h.idle(c.pid);
      const f1 = v.frame();
      expect({ x: f1.x, y: f1.y }).toEqual({ x: f0.x, y: f0.y });
      // The grown strip shows foot, and the title bar followed the new width.
      await h.comp.nextFrame();
      const snap = h.pixels();
      const grown = stats(snap, { x: f0.x + f0.width + 4, y: f0.y + 4, width: f1.width - f0.width - 8, height: f1.height - 8 }, background(h.comp));
      expect(grown.differing).toBeGreaterThan(0.99);
      const bar = v.titleBar()!;
      expect(bar.width).toBe(f1.width);
      expect(pixel(snap, bar.x + bar.width - 30, bar.y + 3)).toBe(pixel(snap, bar.x + 10, bar.y + 3));
      // From the left border: the right edge stays where it is.
      h.comp.seat.pointerMotion(f1.x - 3, f1.y + f1.height / 2);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      expect(h.comp.seat.resizing?.edges).toBe(4); // left
      h.comp.seat.pointerMotion(f1.x - 3 + 150, f1.y + f1.height / 2);
      await h.waitFor("foot shrank from the left", () => v.frame().width <= f1.width - 130);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      await h.idle(c.pid);
      const f2 = v.frame();
      expect(f2.x + f2.width).toBe(f1.x + f1.width);
      expect(f2.height).toBe(f1.height);
    }));

  test("gtk3-widget-factory maps and draws its widgets", () =>
    withHarness(
      async (h) => {
        const c = h.spawn(["gtk3-widget-factory"]);
        await h.mapped(c, 30_000);
        await expectShown(h, c.pid, 50);
      },
      { width: 1600, height: 900 },
    ));

  test("gtk3-widget-factory: a combo box opens its list as an xdg_popup placed below it", () =>
    withHarness(
      async (h) => {
        const c = h.spawn(["gtk3-widget-factory"]);
        const v = await h.mapped(c, 30_000);
        await h.idle(c.pid);
        // The first combo box's arrow button (window-relative position on Debian 12's Adwaita).
        const at = { x: v.x + 379, y: v.y + 96 };
        h.comp.seat.pointerMotion(at.x, at.y);
        h.comp.seat.pointerButton(BTN_LEFT, true);
        h.comp.seat.pointerButton(BTN_LEFT, false);
        const popup = await h.waitFor("popup", () => h.comp.scene.views.find((x) => x.kind === "popup" && x.mapped));
        await h.comp.nextFrame();
        const f = popup.frame();
        expect(f.y).toBeGreaterThan(at.y);
        expect(f.y).toBeLessThan(at.y + 60);
        expect(f.x).toBeLessThan(at.x);
        expect(f.x + f.width).toBeGreaterThan(at.x - 40);
        expect(stats(h.pixels(), f, background(h.comp)).colours).toBeGreaterThan(5);
      },
      { width: 1600, height: 900 },
    ));

  test("wayland-info sees every global weft promises", () =>
    withHarness(async (h) => {
      const { code, out } = await h.run(["wayland-info"]);
      expect(code).toBe(0);
      const globals = Object.fromEntries([...out.matchAll(/interface: '(\w+)',\s+version:\s+(\d+)/g)].map((m) => [m[1], Number(m[2])]));
      expect(globals).toEqual({
        wl_shm: 1,
        wl_compositor: 6,
        wl_subcompositor: 1,
        wl_output: 4,
        zxdg_output_manager_v1: 3,
        wl_seat: 8,
        wp_presentation: 1,
        wl_data_device_manager: 3,
        xdg_wm_base: 6,
        zxdg_decoration_manager_v1: 1,
        wp_viewporter: 1,
        wp_single_pixel_buffer_manager_v1: 1,
        wp_cursor_shape_manager_v1: 1,
        zweft_shell_manager_v1: 2,
      });
      expect(out).toContain("width: 1280 px, height: 720 px, refresh: 60.000 Hz");
    }));

  test("windows are placed apart, not all at 0,0", () =>
    withHarness(async (h) => {
      const a = h.spawn(["weston-simple-shm"]);
      const va = await h.mapped(a);
      const b = h.spawn(["weston-simple-shm"]);
      const vb = await h.mapped(b);
      expect(va.frame()).not.toEqual(vb.frame());
      expect(va.frame().x).toBeGreaterThan(0);
    }));

  test("clicking a window focuses it (keyboard and activation follow)", () =>
    withHarness(async (h) => {
      const a = h.spawn(["foot", "/bin/sh"], { PS1: "$ " });
      const va = await h.mapped(a);
      const b = h.spawn(["foot", "/bin/sh"], { PS1: "$ " });
      const vb = await h.mapped(b);
      expect(h.comp.scene.focused).toBe(vb);
      // Click a point of A that B does not cover (A's top-left corner).
      const fa = va.frame();
      h.comp.seat.pointerMotion(fa.x + 5, fa.y + 5);
      h.comp.seat.pointerButton(BTN_LEFT, true);
      h.comp.seat.pointerButton(BTN_LEFT, false);
      expect(h.comp.scene.focused).toBe(va);
      expect(h.comp.seat.keyboardFocus).toBe(va.surface);
      // A is raised above B.
      expect(h.comp.scene.views.indexOf(va)).toBeGreaterThan(h.comp.scene.views.indexOf(vb));
      // Typing now goes to A: its picture changes.
      await h.idle(a.pid);
      const before = h.pixels();
      for (const k of keysFor("echo a")) {
        h.comp.seat.key(k, true);
        h.comp.seat.key(k, false);
      }
      await h.waitFor("A shows the typing", () => diff(before, h.pixels(), va.frame()) > 50);
    }));

  test("copy in one client, paste in another (wl-copy → wl-paste)", () =>
    withHarness(async (h) => {
      const copy = h.spawn(["wl-copy", "--foreground", "weft clipboard ✓"]);
      await h.waitFor("a selection", () => h.comp.dataDevice.selection !== null);
      const { code, out } = await h.run(["wl-paste", "--no-newline"]);
      expect(code).toBe(0);
      expect(out).toBe("weft clipboard ✓");
      copy.proc.kill();
    }));

  test("a client that disconnects leaves no objects behind", () =>
    withHarness(async (h) => {
      const c = h.spawn(["gtk3-widget-factory"]);
      await h.mapped(c, 30_000);
      expect(h.comp.server.resources.size).toBeGreaterThan(20);
      c.proc.kill();
      await c.proc.exited;
      await h.waitFor("client gone", () => h.comp.server.clients.size === 0 && h.comp.scene.views.length === 0);
      expect(h.comp.server.resources.size).toBe(0);
      expect(h.comp.scene.focused).toBeNull();
    }));
});
