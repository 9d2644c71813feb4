// The loop thread is SCHED_RR only while guests run (docs/decisions/0002):
// RR keeps the loop's wake-ups on time next to SCHED_IDLE guests, and without
// guests a normal thread must not be able to take a core from the clients.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { loopStats } from "../../src/loop/index.ts";
import { startGuest } from "../helpers.ts";

/** The main thread's scheduling policy as the kernel reports it (stat field 41). */
function mainThreadPolicy(): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[41 - 3]);
}
const SCHED_OTHER = 0;
const SCHED_RR = 2;
const canRealtime = process.getuid?.() === 0 && process.env.WEFT_LOOP_PRIORITY !== "normal";

describe("loop priority", () => {
  test.if(canRealtime)("SCHED_RR while a guest runs, SCHED_OTHER once none is left", async () => {
    const s = await startGuest("sleep_loop", { argv: ["sleep_loop", "0", "10"] });
    await s.waitFor("stdout", "READY");
    expect(loopStats().realtime).toBe(true);
    expect(mainThreadPolicy()).toBe(SCHED_RR);
    s.guest.stop();
    await s.guest.exited;
    // Another test file's guest still running would keep it RR: only judge when none is.
    expect(loopStats().guests).toBe(0);
    expect(loopStats().realtime).toBe(false);
    expect(mainThreadPolicy()).toBe(SCHED_OTHER);
  });
});
