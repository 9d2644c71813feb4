// The contract every KMS device behind the port keeps (src/compositor/backend/kms.ts):
// the fake (always) and a real card (when one is present). Each test file
// calls kmsContract() with a way to open a device, or a reason it cannot.
import { describe, expect, test } from "bun:test";
import { watchFd } from "../../src/loop/fd.ts";
import { isNotMaster, pickMode, type KmsConnector, type KmsDevice, type KmsEvent } from "../../src/compositor/backend/kms.ts";

/** Resolves with the device's events once one of its fds is readable (deadline: `ms`). */
export function nextEvents(dev: KmsDevice, ms = 2000): Promise<KmsEvent[]> {
  return new Promise((resolve, reject) => {
    const watches = dev.fds.map((fd) =>
      watchFd(fd, () => {
        const ev = dev.readEvents();
        if (ev.length === 0) return;
        done();
        resolve(ev);
      }),
    );
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no KMS event within ${ms} ms`));
    }, ms);
    function done() {
      clearTimeout(timer);
      for (const w of watches) w.close();
    }
  });
}

function lit(dev: KmsDevice): { conn: KmsConnector; crtc: number } {
  const conn = dev.connectors().find((c) => c.connected && c.modes.length > 0 && c.crtcs.length > 0);
  if (!conn) throw new Error(`${dev.path}: no connected connector with a mode and a CRTC`);
  return { conn, crtc: conn.crtc || conn.crtcs[0] };
}

export function kmsContract(name: string, open: () => KmsDevice, skip: string | null = null) {
  const t = skip ? test.skip : test;
  describe(`KMS device contract: ${name}${skip ? ` (skipped: ${skip})` : ""}`, () => {
    t("lists connectors with kernel-style names; connected ones have modes and CRTCs", () => {
      const dev = open();
      try {
        const cs = dev.connectors();
        expect(cs.length).toBeGreaterThan(0);
        for (const c of cs) {
          expect(c.name).toMatch(/^[A-Za-z-]+-\d+$/);
          if (!c.connected) continue;
          expect(c.modes.length).toBeGreaterThan(0);
          expect(c.crtcs.length).toBeGreaterThan(0);
          for (const m of c.modes) {
            expect(m.width).toBeGreaterThan(0);
            expect(m.height).toBeGreaterThan(0);
            expect(m.refreshMHz).toBeGreaterThan(1000);
          }
          expect(c.modes.filter((m) => m.preferred).length).toBeLessThanOrEqual(1);
        }
      } finally {
        dev.close();
      }
    });

    t("dumb buffers are CPU-writable with stride ≥ width × 4; impossible sizes are errors", () => {
      const dev = open();
      try {
        // Drivers have a minimum framebuffer size (virtio-gpu: 32×32); stay above it.
        const b = dev.createBuffer(100, 40);
        expect(b.fb).toBeGreaterThan(0);
        expect(b.stride).toBeGreaterThanOrEqual(400);
        expect(b.pixels.length).toBeGreaterThanOrEqual(b.stride * 40);
        b.pixels.fill(0x7f);
        expect(b.pixels[b.stride * 39 + 399]).toBe(0x7f);
        dev.destroyBuffer(b);
        expect(() => dev.createBuffer(0, 10)).toThrow(/drmModeCreateDumbBuffer\(0x10\).*EINVAL/);
      } finally {
        dev.close();
      }
    });

    t("modeset, then each flip completes with one event for its CRTC; a second flip while one is pending is EBUSY", async () => {
      const dev = open();
      const { conn, crtc } = lit(dev);
      const saved = dev.saveCrtc(crtc);
      const mode = pickMode(conn.modes)!;
      const bufs = [dev.createBuffer(mode.width, mode.height), dev.createBuffer(mode.width, mode.height)];
      try {
        dev.setMaster();
        dev.setCrtc(crtc, conn.id, mode, bufs[0]);
        let seq = -1;
        for (let i = 1; i <= 3; i++) {
          dev.pageFlip(crtc, bufs[i % 2]);
          // A second flip at once: refused with EBUSY while the first is pending — but
          // drivers without a real vblank (virtio-gpu) may have completed it already,
          // and then it is accepted and brings its own event.
          let flips = 1;
          try {
            dev.pageFlip(crtc, bufs[(i + 1) % 2]);
            flips = 2;
          } catch (e) {
            expect((e as { errno?: number }).errno).toBe(16);
          }
          const got: KmsEvent[] = [];
          while (got.length < flips) got.push(...(await nextEvents(dev)));
          expect(got.length).toBe(flips);
          for (const f of got) {
            if (f.type !== "flip") throw new Error("expected a flip event");
            expect(f.crtc).toBe(crtc);
            // The vblank counter never goes back; drivers without one (virtio-gpu) report 0 throughout.
            if (seq >= 0) expect(f.sequence).toBeGreaterThanOrEqual(seq);
            seq = f.sequence;
            expect(f.sec).toBeGreaterThan(0);
          }
        }
        expect(dev.connectors().find((c) => c.id === conn.id)!.crtc).toBe(crtc);
      } finally {
        dev.restoreCrtc(saved);
        for (const b of bufs) dev.destroyBuffer(b);
        dev.close();
      }
    });

    t("without DRM master, modesets and flips are refused as EACCES; with it again they work", async () => {
      const dev = open();
      const { conn, crtc } = lit(dev);
      const saved = dev.saveCrtc(crtc);
      const mode = pickMode(conn.modes)!;
      const b = dev.createBuffer(mode.width, mode.height);
      try {
        dev.setMaster();
        dev.dropMaster();
        let e: unknown = null;
        try {
          dev.setCrtc(crtc, conn.id, mode, b);
        } catch (x) {
          e = x;
        }
        expect(isNotMaster(e)).toBe(true);
        expect(String(e)).toMatch(/drmModeSetCrtc.*not DRM master/);
        dev.setMaster();
        dev.setCrtc(crtc, conn.id, mode, b);
        dev.pageFlip(crtc, b);
        expect((await nextEvents(dev))[0]).toMatchObject({ type: "flip", crtc });
      } finally {
        dev.restoreCrtc(saved);
        dev.destroyBuffer(b);
        dev.close();
      }
    });

    t("a mode the connector does not list is refused", () => {
      const dev = open();
      const { conn, crtc } = lit(dev);
      const b = dev.createBuffer(64, 64);
      try {
        const bogus = { width: 64, height: 64, refreshMHz: 60000, preferred: false, name: "64x64" };
        expect(() => dev.setCrtc(crtc, conn.id, bogus, b)).toThrow();
      } finally {
        dev.destroyBuffer(b);
        dev.close();
      }
    });

    t("the cursor plane (when present) takes a buffer and moves", () => {
      const dev = open();
      const { conn, crtc } = lit(dev);
      const saved = dev.saveCrtc(crtc);
      const mode = pickMode(conn.modes)!;
      const b = dev.createBuffer(mode.width, mode.height);
      try {
        dev.setMaster();
        dev.setCrtc(crtc, conn.id, mode, b);
        if (!dev.cursorSize) {
          expect(() => dev.createCursorBuffer()).toThrow();
          return;
        }
        const cur = dev.createCursorBuffer();
        expect(cur.width).toBe(dev.cursorSize.width);
        dev.setCursor(crtc, cur);
        dev.moveCursor(crtc, 10, 20);
        dev.setCursor(crtc, null);
        dev.destroyBuffer(cur);
      } finally {
        dev.restoreCrtc(saved);
        dev.destroyBuffer(b);
        dev.close();
      }
    });
  });
}
