// The contract every VT behind the port keeps (src/compositor/backend/vt.ts):
// the fake kernel model (always) and real VTs (opt-in, they switch the
// machine's screen). `open` gives our VT and the number of another one.
import { describe, expect, test } from "bun:test";
import type { VirtualTerminal, VtHandlers } from "../../src/compositor/backend/vt.ts";

const K_OFF = 4;

/** Handlers that record requests; `next(kind)` resolves at the next one (deadline: `ms`). */
function recorder() {
  const seen: string[] = [];
  let waiter: { kind: string; resolve: () => void } | null = null;
  const note = (kind: string) => {
    seen.push(kind);
    if (waiter?.kind === kind) {
      const w = waiter;
      waiter = null;
      w.resolve();
    }
  };
  const h: VtHandlers = { release: () => note("release"), acquire: () => note("acquire") };
  const next = (kind: string, ms = 3000) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${kind} request within ${ms} ms (saw: ${seen.join(", ") || "nothing"})`)), ms);
      waiter = {
        kind,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
    });
  return { h, seen, next };
}

export function vtContract(name: string, open: () => { vt: VirtualTerminal; other: number }, skip: string | null = null) {
  const t = skip ? test.skip : test;
  describe(`VT contract: ${name}${skip ? ` (skipped: ${skip})` : ""}`, () => {
    t("takeOver: our VT active, graphics mode, keyboard off, process switching; close gives all of it back", () => {
      const { vt } = open();
      try {
        const before = vt.state();
        expect(before.graphics).toBe(false);
        expect(before.process).toBe(false);
        vt.takeOver(recorder().h);
        expect(vt.active()).toBe(vt.number);
        expect(vt.state()).toEqual({ graphics: true, keyboardMode: K_OFF, process: true });
        expect(() => vt.takeOver(recorder().h)).toThrow(/already taken over/);
        vt.restore();
        expect(vt.state()).toEqual(before);
        vt.restore(); // idempotent
      } finally {
        vt.close();
      }
    });

    t("a switch away waits for our answer; allowed, the other VT becomes active; switching back announces an acquire", async () => {
      const { vt, other } = open();
      const r = recorder();
      try {
        vt.takeOver(r.h);
        const released = r.next("release");
        vt.switchTo(other);
        await released;
        // Until we answer, the screen is still ours.
        expect(vt.active()).toBe(vt.number);
        vt.release(true);
        expect(vt.active()).toBe(other);
        const acquired = r.next("acquire");
        vt.switchTo(vt.number);
        await acquired;
        vt.acknowledgeAcquire();
        expect(vt.active()).toBe(vt.number);
        expect(r.seen).toEqual(["release", "acquire"]);
        expect(vt.state().graphics).toBe(true);
      } finally {
        vt.close();
      }
    });

    t("a refused release keeps our VT active; answering with no switch pending is EINVAL", async () => {
      const { vt, other } = open();
      const r = recorder();
      try {
        vt.takeOver(r.h);
        const released = r.next("release");
        vt.switchTo(other);
        await released;
        vt.release(false);
        expect(vt.active()).toBe(vt.number);
        expect(() => vt.release(true)).toThrow(/VT_RELDISP\(1\) on \/dev\/tty\d+ failed: EINVAL/);
        expect(vt.active()).toBe(vt.number);
      } finally {
        vt.close();
      }
    });

    t("bad requests are clear errors and change nothing", () => {
      const { vt } = open();
      try {
        expect(() => vt.switchTo(0)).toThrow("VT 0 does not exist (VTs are 1 to 63)");
        expect(() => vt.switchTo(64)).toThrow("VT 64 does not exist");
        // Not in process mode: there is nothing to answer.
        expect(() => vt.acknowledgeAcquire()).toThrow(/VT_RELDISP\(2\) on \/dev\/tty\d+ failed: EINVAL/);
        expect(vt.state().process).toBe(false);
      } finally {
        vt.close();
      }
    });
  });
}
