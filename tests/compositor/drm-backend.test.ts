// The DRM backend over the fake KMS device: the backend contract, and the
// compositor with real clients — frames presented on flip events, flips
// never overlapping, outputs side by side, hotplug seen by wayland-info,
// DRM master lost and regained, the previous CRTC restored on exit.
import { afterEach, describe, expect, test } from "bun:test";
import { DrmBackend } from "../../src/compositor/backend/drm.ts";
import { FakeKmsDevice, type FakeConnectorSpec } from "../../src/compositor/backend/kms-fake.ts";
import { EBUSY, EINVAL } from "../../src/compositor/backend/kms.ts";
import { backendContract } from "./backend.contract.ts";
import { Format, Op, pixman } from "../../ffi/pixman.ts";
import { drawDefaultCursor } from "../../src/compositor/backend/cursor.ts";
import { withImage } from "../../src/compositor/objects/buffer.ts";
import { deadline, Harness, pixel } from "./helpers.ts";

backendContract("drm over the fake KMS device", (o) => new DrmBackend(new FakeKmsDevice({ connectors: [{ name: "Virtual-1", modes: [{ width: o.width, height: o.height, refresh: o.refresh, preferred: true }] }] })));

const SMALL: FakeConnectorSpec = { name: "Virtual-1", modes: [{ width: 640, height: 480, refresh: 60, preferred: true }, { width: 320, height: 240, refresh: 60 }] };
const SECOND: FakeConnectorSpec = { name: "HDMI-A-1", modes: [{ width: 400, height: 300, refresh: 75, preferred: true }] };

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.dispose();
  harness = null;
});

function start(dev: FakeKmsDevice, log: string[] = []): { h: Harness; backend: DrmBackend } {
  const backend = new DrmBackend(dev, { log: (m) => log.push(m) });
  harness = new Harness({ backend });
  return { h: harness, backend };
}

/** BGRX pixel of a scanout buffer as 0xRRGGBB. */
function scanPixel(dev: FakeKmsDevice, crtc: number, x: number, y: number): number {
  const b = dev.scanout(crtc).buffer!;
  const i = y * b.stride + x * 4;
  return (b.pixels[i + 2] << 16) | (b.pixels[i + 1] << 8) | b.pixels[i];
}

async function wlOutputs(h: Harness): Promise<string[]> {
  const { code, out } = await h.run(["wayland-info"]);
  expect(code).toBe(0);
  return [...out.matchAll(/interface: 'wl_output'.*\n\tname: (\S+)/g)].map((m) => m[1]);
}

describe("DRM backend with the fake device", () => {
  test("picks the preferred mode, lights the CRTC with a first frame, and shows the background", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const log: string[] = [];
    const { h, backend } = start(dev, log);
    await h.comp.nextFrame();
    expect(backend.outputs.map((o) => [o.name, o.mode.width, o.mode.height, o.mode.refreshMHz])).toEqual([["Virtual-1", 640, 480, 60000]]);
    const s = dev.scanout(100);
    expect(s.connector).toBe("Virtual-1");
    expect(s.mode?.name).toBe("640x480");
    // The scanout buffer holds what the compositor drew (its background here).
    const drawn = pixel(h.pixels(), 10, 10);
    expect(drawn).not.toBe(0);
    expect(scanPixel(dev, 100, 10, 10)).toBe(drawn);
    expect(log).toContain("output Virtual-1: 640x480@60.00 on CRTC 100");
  });

  test("a frame is presented only when its flip completes; requests meanwhile wait (flips never overlap)", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL], flips: "manual" });
    const { h } = start(dev);
    await h.comp.nextFrame(); // the modeset frame
    let presented = 0;
    h.comp.events.on("frame", () => presented++);
    const flipped = h.comp.nextFrame();
    // Let the loop run the render; the flip is queued, nothing is presented.
    await new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    expect(dev.pendingFlips).toBe(1);
    expect(presented).toBe(0);
    // More requests while the flip is pending: no second flip (the fake would throw EBUSY).
    h.comp.scheduleRepaint();
    h.comp.scene.damageRect({ x: 0, y: 0, width: 10, height: 10 });
    await new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    expect(dev.pendingFlips).toBe(1);
    expect(dev.completeFlips()).toBe(1);
    const info = await flipped;
    expect(info.seq).toBe(1);
    expect(info.refreshNs).toBe(Math.round(1e9 / 60));
    // The waiting request became the next flip, after the first completed.
    await deadline(
      new Promise<void>((resolve) => {
        const check = () => (dev.pendingFlips === 1 ? resolve() : setImmediate(check));
        check();
      }),
      2000,
      "second flip",
    );
    expect(dev.calls.filter((c) => c.startsWith("flip")).length).toBe(2);
  });

  test("weston-simple-shm animates on flip events at the mode's refresh, into alternating buffers", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h } = start(dev);
    const c = h.spawn(["weston-simple-shm"]);
    await h.mapped(c);
    const t0 = performance.now();
    for (let i = 0; i < 12; i++) await h.comp.nextFrame();
    const ms = performance.now() - t0;
    // 12 frames at 60 Hz take about 200 ms; well under would mean frames outside vblank.
    expect(ms).toBeGreaterThan(12 * 16.6 * 0.7);
    const flips = dev.calls.filter((x) => x.startsWith("flip 100"));
    expect(flips.length).toBeGreaterThanOrEqual(12);
    const fbs = new Set(flips.map((x) => x.split(" ")[2]));
    expect(fbs.size).toBe(2);
    const v = h.windowOf(c.pid)!;
    // The window's pixels are on the scanout buffer (simple-shm draws no black at its centre… any non-background will do).
    expect(scanPixel(dev, 100, v.x + 125, v.y + 125)).not.toBe(scanPixel(dev, 100, 2, 2));
  });

  test("each frame copies only the damaged area into the scanout buffer, and the scanout stays pixel-identical to a full copy", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    const c = h.spawn(["weston-simple-shm"]);
    await h.mapped(c);
    const o = backend.outputs[0];
    const { width, height } = o.mode;
    let frames = 0;
    let mismatched = 0;
    const check = () => {
      // At presentation the front buffer must equal the shadow image, which is what a full copy would have put there.
      const b = dev.scanout(100).buffer!;
      for (let y = 0; y < height; y++) if (Buffer.compare(b.pixels.subarray(y * b.stride, y * b.stride + width * 4), o.pixels.subarray(y * o.stride, (y + 1) * o.stride)) !== 0) mismatched++;
    };
    const onFrame = () => {
      frames++;
      check();
    };
    h.comp.events.on("frame", onFrame);
    const copiedBefore = o.copied;
    for (let i = 0; i < 30; i++) {
      // A screenshot renders pending damage outside a frame: that area must still reach the scanout.
      if (i % 7 === 3) {
        h.comp.scene.damageRect({ x: 300, y: 300, width: 40, height: 40 });
        h.comp.screenshot();
      }
      await h.comp.nextFrame();
    }
    h.comp.events.off("frame", onFrame);
    expect(frames).toBeGreaterThanOrEqual(30);
    expect(mismatched).toBe(0);
    // simple-shm's 250×250 window on a 640×480 screen: far less than whole frames.
    const perFrame = (o.copied - copiedBefore) / frames;
    expect(perFrame).toBeGreaterThan(0);
    expect(perFrame).toBeLessThan((width * height) / 2);
  });

  test("two connected outputs sit side by side, each with its own wl_output; hotplug adds and removes one", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL, { ...SECOND, connected: false, modes: [] }], crtcs: 2 });
    const log: string[] = [];
    const { h, backend } = start(dev, log);
    await h.comp.nextFrame();
    expect(await wlOutputs(h)).toEqual(["Virtual-1"]);

    dev.plug(SECOND);
    await h.waitFor("second output", () => backend.outputs.length === 2 && dev.scanout(101).buffer !== null);
    expect(backend.outputs.map((o) => [o.name, o.x, o.y])).toEqual([
      ["Virtual-1", 0, 0],
      ["HDMI-A-1", 640, 0],
    ]);
    expect(await wlOutputs(h)).toEqual(["Virtual-1", "HDMI-A-1"]);
    expect(dev.scanout(101).mode?.name).toBe("400x300");
    expect(scanPixel(dev, 101, 5, 5)).toBe(scanPixel(dev, 100, 5, 5));
    // The pointer can move onto the second output.
    h.comp.seat.pointerMotion(900, 100);
    expect(h.comp.seat.state().x).toBe(900);

    dev.plug({ ...SECOND, connected: false, modes: [] });
    await h.waitFor("output removed", () => backend.outputs.length === 1);
    expect(await wlOutputs(h)).toEqual(["Virtual-1"]);
    expect(dev.scanout(101).mode).toBeNull();
    expect(log).toContain("output HDMI-A-1 disconnected");
  });

  test("losing DRM master pauses rendering; regaining it resumes with a full repaint", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL], flips: "manual" });
    const log: string[] = [];
    const { h, backend } = start(dev, log);
    await h.comp.nextFrame();
    dev.takeMaster();
    let presented = 0;
    h.comp.events.on("frame", () => presented++);
    h.comp.scene.damageRect({ x: 0, y: 0, width: 50, height: 50 });
    await deadline(
      new Promise<void>((resolve) => {
        const check = () => (!backend.active ? resolve() : setImmediate(check));
        check();
      }),
      2000,
      "backend paused",
    );
    expect(log.some((l) => /display paused: lost DRM master .*EACCES/.test(l))).toBe(true);
    // Paused: requests render nothing and flip nothing.
    const callsBefore = dev.calls.length;
    h.comp.scene.damageRect({ x: 0, y: 0, width: 50, height: 50 });
    await new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    expect(dev.calls.length).toBe(callsBefore);
    expect(presented).toBe(0);
    // Another session still holds it: activate() fails and stays paused (said once, however often it is retried).
    expect(backend.activate()).toBe(false);
    expect(backend.activate()).toBe(false);
    expect(log.filter((l) => l.startsWith("display still held elsewhere")).length).toBe(1);
    dev.releaseMaster();
    const resumed = h.comp.nextFrame();
    expect(backend.activate()).toBe(true);
    await resumed;
    const after = dev.calls.slice(callsBefore);
    expect(after[0]).toBe("setMaster");
    expect(after[1]).toMatch(/^setCrtc 100 Virtual-1 640x480 fb\d+$/);
    expect(log).toContain("display resumed");
  });

  test("a modeset or flip the driver refuses (not for master) costs frames, not weft: said once, retried, shown when it goes through", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    dev.refuse("drmModeSetCrtc", EINVAL, 2);
    const log: string[] = [];
    const { h, backend } = start(dev, log);
    // The first frame lights the CRTC on the third try.
    await h.comp.nextFrame();
    expect(dev.scanout(100).mode?.name).toBe("640x480");
    dev.refuse("drmModePageFlip", EBUSY, 5);
    const c = h.spawn(["weston-simple-shm"]);
    await h.mapped(c);
    const f0 = h.comp.frames;
    await h.waitFor("10 more frames", () => h.comp.frames >= f0 + 10);
    expect(backend.active).toBe(true);
    expect(log.filter((l) => /frame refused .*drmModeSetCrtc.*EINVAL/.test(l))).toHaveLength(1);
    expect(log.filter((l) => /frame refused .*drmModePageFlip.*EBUSY/.test(l))).toHaveLength(1);
    expect(log).toContain("output Virtual-1: frames shown again after 2 refused");
    expect(log).toContain("output Virtual-1: frames shown again after 5 refused");
    // A cursor plane the driver refuses: said once; frames go on.
    dev.refuse("drmModeMoveCursor", EINVAL, 3);
    for (const [x, y] of [[10, 10], [20, 20], [30, 30]]) backend.moveCursor(x, y);
    const f1 = h.comp.frames;
    await h.waitFor("more frames", () => h.comp.frames >= f1 + 5);
    expect(log.filter((l) => /cursor plane refused .*drmModeMoveCursor.*EINVAL/.test(l))).toHaveLength(1);
  });

  test("deactivate (VT switch away) drops master and stops; activate repaints", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    await h.comp.nextFrame();
    backend.deactivate();
    expect(dev.isMaster).toBe(false);
    expect(backend.active).toBe(false);
    const n = dev.calls.length;
    h.comp.scheduleRepaint();
    await new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    expect(dev.calls.length).toBe(n);
    const f = h.comp.nextFrame();
    expect(backend.activate()).toBe(true);
    await f;
    expect(dev.isMaster).toBe(true);
  });

  test("after a switch to the text console and back, the cursor plane shows the pointer again (the console turned it off)", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    await h.comp.nextFrame();
    backend.moveCursor(100, 50);
    const cur = dev.scanout(100).cursor;
    expect(cur).not.toBeNull();
    backend.deactivate();
    dev.consoleTakesDisplay();
    expect(dev.scanout(100).cursor).toBeNull();
    const f = h.comp.nextFrame();
    expect(backend.activate()).toBe(true);
    await f;
    // The pointer has not moved: only the backend can bring the cursor back.
    expect(dev.scanout(100).cursor).toBe(cur);
    expect(dev.scanout(100).cursorAt).toEqual({ x: 99, y: 49 });
  });

  test("the hardware cursor follows the pointer onto the output under it", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL, SECOND] });
    const { h, backend } = start(dev);
    await h.waitFor("both outputs lit", () => dev.scanout(100).buffer && dev.scanout(101).buffer);
    backend.moveCursor(100, 50);
    expect(dev.scanout(100).cursor).not.toBeNull();
    expect(dev.scanout(100).cursorAt).toEqual({ x: 99, y: 49 });
    backend.moveCursor(700, 20);
    expect(dev.scanout(100).cursor).toBeNull();
    expect(dev.scanout(101).cursorAt).toEqual({ x: 59, y: 19 });
    const cur = dev.scanout(101).cursor!;
    // The arrow is opaque white at its tip's inside, transparent far away.
    expect(new DataView(cur.pixels.buffer).getUint32(3 * cur.stride + 2 * 4, true)).toBe(0xffffffff);
    expect(new DataView(cur.pixels.buffer).getUint32(60 * cur.stride + 60 * 4, true)).toBe(0);
  });

  test("a client's cursor surface (wl_pointer.set_cursor) is on the cursor plane at its hotspot; off its window weft's arrow is back", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    const c = h.spawn(["weston-flower"]);
    const v = await h.mapped(c);
    const arrow = new Uint8Array(64 * 64 * 4);
    drawDefaultCursor({ fb: 0, width: 64, height: 64, stride: 256, pixels: arrow });
    const onPlane = () => {
      const b = dev.scanout(100).cursor;
      return b ? b.pixels.slice(0, 64 * 256) : null;
    };
    const move = (x: number, y: number) => {
      h.comp.seat.pointerMotion(x, y);
      backend.moveCursor(x, y);
    };
    move(v.x + 60, v.y + 60);
    // toytoolkit sets its left_ptr (libwayland-cursor) on enter.
    await h.waitFor("client cursor", () => typeof h.comp.seat.cursorImage() === "object" && h.comp.seat.cursor.surface?.content);
    await h.comp.nextFrame();
    const look = h.comp.seat.cursorImage() as { surface: { content: Parameters<typeof withImage>[0] }; hotspotX: number; hotspotY: number };
    const content = look.surface.content;
    // What the plane must hold: the surface's pixels at its top-left, transparent elsewhere.
    const want = new Uint8Array(64 * 64 * 4);
    const dst = pixman.createBits(Format.a8r8g8b8, 64, 64, want, 256);
    withImage(content, (img) => pixman.composite(Op.src, img, null, dst, 0, 0, 0, 0, 0, 0, content.width, content.height));
    pixman.unref(dst);
    expect(want.some((b) => b !== 0)).toBe(true);
    expect(Buffer.compare(onPlane()!, want)).toBe(0);
    expect(Buffer.compare(onPlane()!, arrow)).not.toBe(0);
    expect(dev.scanout(100).cursorAt).toEqual({ x: v.x + 60 - look.hotspotX, y: v.y + 60 - look.hotspotY });
    // Off the window (the background has no client): weft's arrow, weft's hotspot.
    move(5, 5);
    await h.comp.nextFrame();
    expect(Buffer.compare(onPlane()!, arrow)).toBe(0);
    expect(dev.scanout(100).cursorAt).toEqual({ x: 4, y: 4 });
  });

  test("a client cursor larger than the cursor plane is composited into the frame at the pointer (the plane hidden) and follows it", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL], cursor: { width: 8, height: 8 } });
    const { h, backend } = start(dev);
    const c = h.spawn(["weston-flower"]);
    const v = await h.mapped(c);
    const move = (x: number, y: number) => {
      h.comp.seat.pointerMotion(x, y);
      backend.moveCursor(x, y);
    };
    move(v.x + 60, v.y + 60);
    await h.waitFor("client cursor", () => typeof h.comp.seat.cursorImage() === "object" && h.comp.seat.cursor.surface?.content);
    const look = h.comp.seat.cursorImage() as { surface: { content: Parameters<typeof withImage>[0] }; hotspotX: number; hotspotY: number };
    const content = look.surface.content;
    expect(content.width).toBeGreaterThan(8);
    // An opaque pixel of the cursor image, and its colour.
    const px = new Uint8Array(content.width * content.height * 4);
    const dst = pixman.createBits(Format.a8r8g8b8, content.width, content.height, px, content.width * 4);
    withImage(content, (img) => pixman.composite(Op.src, img, null, dst, 0, 0, 0, 0, 0, 0, content.width, content.height));
    pixman.unref(dst);
    let at = -1;
    for (let i = 0; i < content.width * content.height; i++) if (px[i * 4 + 3] === 255) at = i;
    expect(at).toBeGreaterThanOrEqual(0);
    const [cx, cy] = [at % content.width, Math.floor(at / content.width)];
    const rgb = (px[at * 4 + 2] << 16) | (px[at * 4 + 1] << 8) | px[at * 4];
    for (const [x, y] of [
      [v.x + 60, v.y + 60],
      [v.x + 90, v.y + 80],
    ]) {
      move(x, y);
      // The frame after the one in flight shows the move.
      await h.comp.nextFrame();
      await h.comp.nextFrame();
      expect(dev.scanout(100).cursor).toBeNull();
      expect(scanPixel(dev, 100, x - look.hotspotX + cx, y - look.hotspotY + cy)).toBe(rgb);
    }
    // Off the window: weft's arrow on the plane again, nothing composited.
    move(5, 5);
    await h.comp.nextFrame();
    expect(dev.scanout(100).cursor).not.toBeNull();
    expect(h.comp.scene.views.some((x) => x.kind === "icon")).toBe(false);
  });

  test("a cursor surface larger than the plane is refused by the backend (weft's arrow stays); hidden hides the plane", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    await h.comp.nextFrame();
    backend.moveCursor(10, 10);
    expect(dev.scanout(100).cursor).not.toBeNull();
    const big = new Uint8Array(100 * 100 * 4).fill(0xff);
    const img = pixman.createBits(Format.a8r8g8b8, 100, 100, big, 400);
    expect(backend.showCursor({ image: img, width: 100, height: 100, hotspotX: 0, hotspotY: 0 })).toBe(false);
    pixman.unref(img);
    expect(dev.scanout(100).cursor).not.toBeNull();
    expect(backend.showCursor("hidden")).toBe(true);
    expect(dev.scanout(100).cursor).toBeNull();
    expect(backend.showCursor("default")).toBe(true);
    expect(dev.scanout(100).cursor).not.toBeNull();
  });

  test("a new cursor image goes into the cursor buffer the plane is not reading, then that one is set", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    const { h, backend } = start(dev);
    await h.comp.nextFrame();
    backend.moveCursor(10, 10);
    const shown = dev.scanout(100).cursor!;
    const arrow = shown.pixels.slice();
    const red = new Uint8Array(8 * 8 * 4);
    for (let i = 0; i < 64; i++) red.set([0, 0, 0xff, 0xff], i * 4); // B, G, R, A
    const img = pixman.createBits(Format.a8r8g8b8, 8, 8, red, 32);
    expect(backend.showCursor({ image: img, width: 8, height: 8, hotspotX: 0, hotspotY: 0 })).toBe(true);
    pixman.unref(img);
    // Painting the buffer being scanned out shows a half-drawn cursor for a frame.
    expect(shown.pixels).toEqual(arrow);
    const now = dev.scanout(100).cursor!;
    expect(now).not.toBe(shown);
    expect(new DataView(now.pixels.buffer).getUint32(0, true)).toBe(0xffff0000);
    expect(backend.showCursor("default")).toBe(true);
    expect(dev.scanout(100).cursor).toBe(shown);
    expect(shown.pixels).toEqual(arrow);
    expect(new DataView(now.pixels.buffer).getUint32(0, true)).toBe(0xffff0000);
  });

  test("on exit the CRTC shows again what it showed before weft", async () => {
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    // A console was on the CRTC.
    const conn = dev.connectors()[0];
    const console_ = dev.createBuffer(640, 480);
    dev.setCrtc(100, conn.id, conn.modes[1], console_);
    const { h } = start(dev);
    await h.comp.nextFrame();
    expect(dev.scanout(100).buffer).not.toBe(console_);
    await h.dispose();
    harness = null;
    const s = dev.scanout(100);
    expect(s.buffer).toBe(console_);
    expect(s.mode?.name).toBe("320x240");
  });

  test("no connected connector, or a device that refuses master, is a clear error", () => {
    const none = new FakeKmsDevice({ connectors: [{ ...SMALL, connected: false }] });
    expect(() => new DrmBackend(none)).toThrow("fake:card0: no connected connector with a usable mode");
    none.close();
    const dev = new FakeKmsDevice({ connectors: [SMALL] });
    dev.takeMaster();
    expect(() => new DrmBackend(dev)).toThrow(/cannot drive fake:card0: drmSetMaster on fake:card0 failed: EBUSY/);
    dev.close();
  });
});
