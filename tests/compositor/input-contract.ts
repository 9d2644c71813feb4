// The contract every input device behind the port keeps
// (src/compositor/input/device.ts): the fake (always) and real evdev nodes
// (when /dev/input has any). `inject` writes events where the device can be
// driven from the test (the fake; a real node would need uinput).
import { describe, expect, test } from "bun:test";
import { EV, KEY, type InputEvent } from "../../ffi/evdev.ts";
import { watchFd } from "../../src/loop/fd.ts";
import type { InputDevice } from "../../src/compositor/input/device.ts";

export function inputContract(name: string, open: () => InputDevice, inject: ((d: InputDevice, ev: [number, number, number][]) => void) | null, skip: string | null = null) {
  const t = skip ? test.skip : test;
  const ti = skip || !inject ? test.skip : test;
  describe(`input device contract: ${name}${skip ? ` (skipped: ${skip})` : ""}`, () => {
    t("has a name and at least one capability; reads nothing when nothing happened", () => {
      const d = open();
      try {
        expect(d.name.length).toBeGreaterThan(0);
        expect(d.caps.keyboard || d.caps.pointer || d.caps.touch).toBe(true);
        if (d.caps.touch) {
          expect(d.caps.absX!.max).toBeGreaterThan(d.caps.absX!.min);
          expect(d.caps.absY!.max).toBeGreaterThan(d.caps.absY!.min);
        }
        expect(d.read()).toEqual([]);
      } finally {
        d.close();
        d.close(); // twice is harmless
      }
    });

    t("the grab can be let go and taken again (a VT switch away and back); on a closed device it is an error", () => {
      const d = open();
      try {
        d.grab(false);
        d.grab(true);
        expect(d.read()).toEqual([]);
      } finally {
        d.close();
      }
      expect(() => d.grab(true)).toThrow(/is closed/);
    });

    ti("events arrive through the fd in order, each frame ended by SYN_REPORT", async () => {
      const d = open();
      try {
        const got: InputEvent[] = [];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no events within 2 s")), 2000);
          const w = watchFd(d.fd, () => {
            got.push(...(d.read() ?? []));
            if (got.length >= 4) {
              clearTimeout(timer);
              w.close();
              resolve();
            }
          });
          inject!(d, [[EV.KEY, KEY.A, 1]]);
          inject!(d, [[EV.KEY, KEY.A, 0]]);
        });
        expect(got.map((e) => [e.type, e.code, e.value])).toEqual([
          [EV.KEY, KEY.A, 1],
          [EV.SYN, 0, 0],
          [EV.KEY, KEY.A, 0],
          [EV.SYN, 0, 0],
        ]);
        expect(got[0].timeUs).toBeGreaterThan(0);
      } finally {
        d.close();
      }
    });
  });
}
