// Many guests on one loop: spinning, sleeping and hundreds at once, while the
// loop keeps its timers on time. Guests run on SCHED_IDLE worker threads, so
// the bounds here hold on a 2-core machine.
import { describe, expect, test } from "bun:test";
import { measureLateness } from "../../src/loop/lateness.ts";
import { runGuest, startGuest } from "../helpers.ts";

describe("many guests, one loop", () => {
  test("10 spinning guests: a 5 ms timer still fires on time", async () => {
    // The same measurement without guests first: on a machine busy with other
    // work, that is the floor no runtime can go below.
    const baseline = await measureLateness(1000, 5);
    const spinners = await Promise.all(Array.from({ length: 10 }, () => startGuest("spin")));
    await Promise.all(spinners.map((s) => s.waitFor("stdout", "spinning")));
    // Three windows, the median one counts: a noise spike from elsewhere
    // spoils one window; guests holding up the loop spoil them all.
    const windows = [await measureLateness(1000, 5), await measureLateness(1000, 5), await measureLateness(1000, 5)];
    const late = windows.sort((a, b) => a.p99 - b.p99)[1];
    if (process.env.WEFT_DEBUG_LATENESS) console.log(baseline, windows);
    for (const s of spinners) s.guest.stop();
    const statuses = await Promise.all(spinners.map((s) => s.guest.exited));
    expect(statuses.every((s) => s.kind === "stopped")).toBe(true);
    expect(late.samples).toBeGreaterThan(150);
    // ARCHITECTURE.md promises p99 < 2 ms. Measured here (docs/decisions/0002):
    // ~0.1 ms with the loop at SCHED_RR 1 and guests at SCHED_IDLE, ~3.8 ms
    // when the loop competes as a normal thread — so this fails if guests
    // ever hold up the loop, yet tolerates a machine busy with other work.
    expect(late.p99).toBeLessThan(Math.max(2, baseline.p99 * 1.5 + 1));
  }, 20_000);

  test("10 guests sleeping in a 10 ms loop at the same time all finish", async () => {
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 10 }, () => runGuest("sleep_loop", { argv: ["sleep_loop", "20", "10", "verbose"] })));
    const elapsed = performance.now() - t0;
    for (const r of results) {
      expect(r.status).toMatchObject({ kind: "exit", code: 0 });
      expect(r.stdout).toContain("tick 20");
    }
    // They slept concurrently: 20 × 10 ms each, not 10 × 200 ms in a row.
    expect(elapsed).toBeLessThan(1500);
  });

  test("stopping a spinning guest ends it promptly", async () => {
    const s = await startGuest("spin");
    await s.waitFor("stdout", "spinning");
    const t0 = performance.now();
    s.guest.stop();
    const st = await s.guest.exited;
    expect(st.kind).toBe("stopped");
    expect(performance.now() - t0).toBeLessThan(200);
  });

  test("stopping a sleeping guest ends it when its sleep returns", async () => {
    const s = await startGuest("sleep_loop", { argv: ["sleep_loop", "0", "10"] });
    await s.waitFor("stdout", "READY");
    s.guest.stop();
    const st = await s.guest.exited;
    expect(st.kind).toBe("stopped");
  });

  test("200 guests run concurrently and each gets its own output", async () => {
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => runGuest("args", { argv: ["args", `guest-${i}`] })));
    results.forEach((r, i) => {
      expect(r.status).toMatchObject({ kind: "exit", code: 0 });
      expect(r.stdout).toBe(`argv[0]=args\nargv[1]=guest-${i}\n`);
    });
  });
});
