// The contract every compositor backend (headless today; DRM and a fake DRM
// next) must keep. Each implementation's test file calls backendContract().
import { describe, expect, test } from "bun:test";
import type { Backend, FrameInfo, Output } from "../../src/compositor/backend/backend.ts";

export function backendContract(name: string, make: (opts: { width: number; height: number; refresh: number }) => Backend) {
  describe(`backend contract: ${name}`, () => {
    test("describes at least one output with a usable frame buffer", () => {
      const b = make({ width: 320, height: 200, refresh: 60 });
      try {
        expect(b.outputs.length).toBeGreaterThan(0);
        const o = b.outputs[0];
        expect(o.mode).toEqual({ width: 320, height: 200, refreshMHz: 60000 });
        expect(o.stride).toBeGreaterThanOrEqual(320 * 4);
        expect(o.pixels.length).toBeGreaterThanOrEqual(o.stride * 200);
        expect(o.name.length).toBeGreaterThan(0);
      } finally {
        b.destroy();
      }
    });

    test("a requested frame renders once, then reports presentation with a monotonic time", async () => {
      const b = make({ width: 64, height: 64, refresh: 120 });
      try {
        const seen: string[] = [];
        const frames: FrameInfo[] = [];
        let next: (() => void) | null = null;
        b.start({
          render: () => void seen.push("render"),
          presented: (_o: Output, info: FrameInfo) => {
            seen.push("presented");
            frames.push(info);
            next?.();
          },
        });
        for (let i = 0; i < 4; i++) {
          const done = new Promise<void>((r) => (next = r));
          // Several requests before the refresh make one frame.
          b.scheduleFrame(b.outputs[0]);
          b.scheduleFrame(b.outputs[0]);
          await done;
        }
        expect(seen).toEqual(Array(4).fill(["render", "presented"]).flat());
        for (let i = 1; i < frames.length; i++) {
          expect(frames[i].seq).toBe(frames[i - 1].seq + 1);
          const dt = (frames[i].sec - frames[i - 1].sec) * 1e9 + (frames[i].nsec - frames[i - 1].nsec);
          // Paced by the refresh: never two frames within much less than one period.
          expect(dt).toBeGreaterThan(frames[i].refreshNs * 0.5);
        }
        expect(frames[0].refreshNs).toBe(Math.round(1e9 / 120));
      } finally {
        b.destroy();
      }
    });

    test("rejects impossible modes", () => {
      expect(() => make({ width: 0, height: 10, refresh: 60 })).toThrow();
      expect(() => make({ width: 10, height: 10, refresh: 0 })).toThrow();
    });

    test("after destroy no frame arrives", async () => {
      const b = make({ width: 16, height: 16, refresh: 240 });
      let frames = 0;
      b.start({ render() {}, presented: () => frames++ });
      b.scheduleFrame(b.outputs[0]);
      b.destroy();
      // A second backend's frame proves time has passed for the first one's timer.
      const other = make({ width: 16, height: 16, refresh: 240 });
      await new Promise<void>((resolve) => {
        other.start({ render() {}, presented: () => resolve() });
        other.scheduleFrame(other.outputs[0]);
        other.scheduleFrame(other.outputs[0]);
      });
      other.destroy();
      expect(frames).toBe(0);
    });
  });
}
