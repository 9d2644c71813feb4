// Host calls (src/runtime/host-calls.ts, weft_native.c "host calls"): a
// guest's thread posts a call to the loop and waits for its answer. Driven
// through a real componentize-js guest (tests/components/host.js) calling the
// test interface weft:test-guests/echo (tests/runtime/echo-host.ts).
import { beforeAll, describe, expect, test } from "bun:test";
import { HOST_CALL_LIMITS } from "../../ffi/native.ts";
import { measureLateness } from "../../src/loop/lateness.ts";
import { cv, decodeValues, encodeValues, type CVal } from "../../src/runtime/component-values.ts";
import { echoCalls, hung, resetHang } from "./echo-host.ts";
import { loadHostGuest, runHost as run, startHost as start } from "./host-guest.ts";

/** Guests are SCHED_IDLE: on a loaded machine even short runs take seconds. */
const T = 30_000;

// Cold, Cranelift takes tens of seconds (minutes under load) for this 12 MB component; then the disk cache answers.
beforeAll(() => loadHostGuest(), 600_000);

describe("host calls", () => {
  test("a round trip: arguments reach the loop, the answer reaches the guest", async () => {
    const before = echoCalls.count;
    const r = await run(["echo|hello wörld", "echo|", "call-big|1000"]);
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.lines).toEqual(["echo: hello wörld", "echo: ", "call: ok 1000"]);
    expect(echoCalls.count - before).toBe(2);
  }, T);

  test("an asynchronous answer wakes the guest when it comes", async () => {
    const r = await run(["echo|late:50"]);
    expect(r.lines).toEqual(["echo: late:50"]);
    expect(r.status.wallMs!).toBeGreaterThanOrEqual(50);
  }, T);

  test("many calls in a row", async () => {
    const before = echoCalls.count;
    const r = await run(["many|300"]);
    expect(r.lines).toEqual(["many: done 300"]);
    expect(echoCalls.count - before).toBe(300);
  }, 60_000);

  test("a stop ends a guest waiting for the loop at once; the late answer is dropped", async () => {
    resetHang();
    const g = await start(["echo|hang"]);
    await hung().entered;
    const t0 = performance.now();
    g.guest.stop();
    const st = await g.guest.exited;
    expect(st.kind).toBe("stopped");
    expect(performance.now() - t0).toBeLessThan(1000);
    await hung().aborted; // the handler was told
    hung().answer("too late"); // nobody waits: dropped, nothing breaks
    expect((await run(["echo|still fine"])).lines).toEqual(["echo: still fine"]);
  }, T);

  test("a wall-clock timeout ends a guest waiting for the loop", async () => {
    resetHang();
    const r = await run(["echo|hang"], { timeoutMs: 200 });
    expect(r.status).toMatchObject({ kind: "timeout", limitMs: 200 });
    hung().answer("too late");
  }, T);

  test("a handler that throws: the guest traps with its message (a function without a result type)", async () => {
    const r = await run(["echo|throw"]);
    expect(r.status.kind).not.toBe("exit");
    expect(JSON.stringify(r.status)).toContain("weft:test-guests/echo#echo: the handler threw on purpose");
  }, T);

  test("an answer of the wrong type fails the call cleanly", async () => {
    const r = await run(["echo|wrong"]);
    expect(r.status.kind).not.toBe("exit");
    expect(JSON.stringify(r.status)).toMatch(/type mismatch|expected/i);
  }, T);

  test("arguments over the cap are not sent; a result<_, string> function gets a clear err", async () => {
    const big = HOST_CALL_LIMITS.request + 10;
    const r = await run([`call-big|${big}`]);
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.lines[0]).toMatch(new RegExp(`^call: err call: its arguments take \\d+ bytes; the limit is ${HOST_CALL_LIMITS.request}$`));
  }, 60_000);

  test("guests spinning on both cores stall neither the loop nor others' host calls", async () => {
    const spinners = [await start(["spin"]), await start(["spin"])];
    try {
      const lateness = measureLateness(3000);
      const r = await run(["many|100"]);
      expect(r.lines).toEqual(["many: done 100"]);
      // The loop answered every call and still ran its timers on time (a host
      // call that blocked the loop would show here as lateness).
      expect((await lateness).p99).toBeLessThan(100);
      for (const s of spinners) expect(s.guest.running).toBe(true);
    } finally {
      for (const s of spinners) s.guest.stop();
      for (const s of spinners) expect((await s.guest.exited).kind).toBe("stopped");
    }
  }, 120_000);

  test("weft:app's host calls answer err outside an app session (nothing granted)", async () => {
    const r = await run(["notify|t|b", "clip-read", "clip-write|x"]);
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    for (const l of r.lines) expect(l).toMatch(/^[a-z.]+: err /);
  }, T);
});

describe("component values", () => {
  test("every kind survives encode → decode", () => {
    const vals: CVal[] = [
      { kind: "bool", value: true },
      { kind: "s8", value: -3 },
      { kind: "u8", value: 250 },
      { kind: "s16", value: -300 },
      { kind: "u16", value: 65000 },
      { kind: "s32", value: -70000 },
      { kind: "u32", value: 4_000_000_000 },
      { kind: "s64", value: -(2n ** 40n) },
      { kind: "u64", value: 2n ** 63n },
      { kind: "f32", value: 1.5 },
      { kind: "f64", value: Math.PI },
      { kind: "char", value: 0x1f600 },
      cv.string("héllo"),
      { kind: "enum", value: "green" },
      cv.bytes(new Uint8Array([1, 2, 3])),
      { kind: "list", value: [cv.string("a"), cv.string("b")] },
      { kind: "tuple", value: [cv.u32(1), cv.string("x")] },
      cv.record({ status: cv.u16(200), "content-type": cv.string("text/plain") }),
      { kind: "variant", case: "some-case", value: cv.u32(9) },
      { kind: "variant", case: "empty", value: null },
      cv.option(null),
      cv.option(cv.string("x")),
      cv.ok(),
      cv.err("no"),
      { kind: "flags", value: ["a", "c"] },
      { kind: "map", value: [[cv.string("k"), cv.u32(1)]] },
    ];
    expect(decodeValues(encodeValues(vals))).toEqual(vals);
  }, T);

  test("malformed encodings are refused", () => {
    expect(() => decodeValues(new Uint8Array([1, 0, 0, 0, 12, 9, 0, 0, 0, 65]))).toThrow(/truncated/);
    expect(() => decodeValues(new Uint8Array([1, 0, 0, 0, 99]))).toThrow(/unknown value kind/);
    expect(() => decodeValues(new Uint8Array([0, 0, 0, 0, 1]))).toThrow(/trailing/);
  }, T);
});
