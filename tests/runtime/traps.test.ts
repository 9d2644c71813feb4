// Traps, resource exhaustion and bad modules end one guest with a clear
// status — never the process.
import { describe, expect, test } from "bun:test";
import { loadModule } from "../../src/runtime/cache.ts";
import { describeExit } from "../../src/runtime/exit.ts";
import { Guest } from "../../src/runtime/guest.ts";
import { guestBytes, guestPath, runGuest } from "../helpers.ts";

describe("traps", () => {
  const cases: [string, string][] = [
    ["trap_unreachable", "unreachable"],
    ["trap_divzero", "integer divide by zero"],
    ["trap_oob", "out-of-bounds memory access"],
    ["trap_stackoverflow", "stack overflow"],
  ];
  for (const [guest, kind] of cases) {
    test(`${guest} → ${kind}, with a frame to point at`, async () => {
      const r = await runGuest(guest);
      expect(r.status.kind).toBe("trap");
      if (r.status.kind !== "trap") return;
      expect(r.status.trap).toBe(kind);
      expect(r.status.frames.length).toBeGreaterThan(0);
      // A named function, and the offset when Wasmtime knows it (not at function entry).
      expect(describeExit(r.status)).toMatch(new RegExp(`^trap: ${kind} in [A-Za-z_][\\w.]*( at (function )?offset 0x[0-9a-f]+)?$`));
    });
  }

  test("deep recursion traps cleanly; shallow recursion works", async () => {
    const deep = await runGuest("deep_recursion", { argv: ["deep_recursion", "100000000"] });
    expect(deep.status).toMatchObject({ kind: "trap", trap: "stack overflow" });
    const shallow = await runGuest("deep_recursion", { argv: ["deep_recursion", "1000"] });
    expect(shallow.status).toMatchObject({ kind: "exit", code: 0 });
    expect(shallow.stdout).toContain("depth ok");
  });

  test("a guest keeps working after its neighbour trapped", async () => {
    const [bad, good] = await Promise.all([runGuest("trap_oob"), runGuest("hello")]);
    expect(bad.status.kind).toBe("trap");
    expect(good.stdout).toBe("hello from wasm\n");
  });
});

describe("limits", () => {
  test("memory limit: growth is refused and reported as out-of-memory", async () => {
    const r = await runGuest("oom", { memoryBytes: 16 << 20 });
    expect(r.status.kind).toBe("out-of-memory");
    const mib = Number(/allocated (\d+) MiB/.exec(r.stdout)?.[1]);
    expect(mib).toBeGreaterThan(8);
    expect(mib).toBeLessThanOrEqual(16);
  });

  test("the same guest under a larger limit gets further", async () => {
    const r = await runGuest("oom", { memoryBytes: 64 << 20 });
    expect(r.status.kind).toBe("out-of-memory");
    expect(Number(/allocated (\d+) MiB/.exec(r.stdout)?.[1])).toBeGreaterThan(40);
  });

  test("fuel runs out deterministically", async () => {
    const r = await runGuest("fuel_count", { argv: ["fuel_count", "100000000"], fuel: 100_000n });
    expect(r.status.kind).toBe("out-of-fuel");
    const ok = await runGuest("fuel_count", { argv: ["fuel_count", "10"], fuel: 10_000_000n });
    expect(ok.status).toMatchObject({ kind: "exit", code: 0 });
    expect(ok.stdout).toContain("counted");
  });

  test("an infinite loop is ended by the wall-clock timeout", async () => {
    const r = await runGuest("spin", { timeoutMs: 200 });
    expect(r.status).toMatchObject({ kind: "timeout", limitMs: 200 });
    expect(r.status.wallMs!).toBeGreaterThanOrEqual(199);
    expect(r.status.wallMs!).toBeLessThan(5000);
  });

  test("an infinite loop is ended by the CPU budget", async () => {
    const r = await runGuest("spin", { cpuMs: 100 });
    expect(r.status).toMatchObject({ kind: "cpu-limit", limitMs: 100 });
    expect(r.status.cpuMs!).toBeGreaterThanOrEqual(100);
  });

  test("stdout and stderr filling their small rings at once both keep flowing (no lost wake-up)", async () => {
    const sizes = { stdout: 0, stderr: 0 };
    const r = await runGuest("both", { argv: ["both", "2048"], outputBuffer: 4096, onOutput: (s, b) => (sizes[s] += b.length) });
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(sizes).toEqual({ stdout: 2048 * 1024 + 5, stderr: 2048 * 1024 });
  }, 30_000);

  test("a CPU quota throttles a spinning guest to its share of a core", async () => {
    const full = await runGuest("spin", { timeoutMs: 1000 });
    const quarter = await runGuest("spin", { timeoutMs: 1000, cpuPercent: 25 });
    expect(full.status.kind).toBe("timeout");
    expect(quarter.status.kind).toBe("timeout");
    // ~250 ms of CPU in 1 s of wall time at most. Guests run at SCHED_IDLE, so
    // on a machine busy with other work either may get less than its share:
    // the quota is a ceiling, and the comparison only means something when
    // the unthrottled guest got well over a quarter of a core.
    expect(quarter.status.cpuMs!).toBeLessThan(350);
    if (full.status.cpuMs! > 500) expect(quarter.status.cpuMs!).toBeLessThan(full.status.cpuMs! * 0.6);
  });

  test("a stdout flood is back-pressured: host memory stays bounded and nothing is lost", async () => {
    // Count the bytes as they arrive and keep none of them, so RSS measures weft, not the test.
    const mib = 256;
    let bytes = 0;
    let stderr = "";
    Bun.gc(true);
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    const guest = new Guest(loadModule(await guestBytes("flood")), {
      argv: ["flood", String(mib)],
      stdout: "capture",
      stderr: "capture",
      outputBuffer: 64 * 1024,
      onOutput: (s, b) => {
        if (s === "stdout") bytes += b.length;
        else stderr += new TextDecoder().decode(b);
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      },
    });
    expect(await guest.exited).toMatchObject({ kind: "exit", code: 0 });
    expect(stderr).toBe("done\n");
    expect(bytes).toBe(mib * 1024 * 1024);
    // 256 MiB went through; the host held at most a few 64 KiB rings of it.
    expect(rssPeak - rssBefore).toBeLessThan(48 * 1024 * 1024);
  }, 60_000);
});

describe("malformed modules", () => {
  for (const name of ["empty", "notwasm", "truncated", "badmagic"]) {
    test(`${name}.wasm is refused with a clear error`, async () => {
      const bytes = new Uint8Array(await Bun.file(guestPath(`malformed/${name}`)).arrayBuffer());
      expect(() => loadModule(bytes)).toThrow(/compile: /);
    });
  }

  test("a module without _start ends with a clear error", async () => {
    // (module (memory 1)) — valid, but not a WASI command.
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
    const g = new Guest(loadModule(bytes), { argv: ["x"] });
    expect(await g.exited).toMatchObject({ kind: "error", message: expect.stringContaining("_start") });
  });

  test("a module importing something weft does not provide ends with a clear error", async () => {
    // (module (import "env" "missing" (func)) (func (export "_start")))
    const bytes = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 15, 1, 3, 101, 110, 118, 7, 109, 105, 115, 115, 105, 110, 103, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95,
      115, 116, 97, 114, 116, 0, 1, 10, 4, 1, 2, 0, 11,
    ]);
    const g = new Guest(loadModule(bytes), { argv: ["x"] });
    expect(await g.exited).toMatchObject({ kind: "error", message: expect.stringContaining("env::missing") });
  });
});

// A module's start function runs while it is instantiated, before _start.
// That happens on the guest's own thread, under the guest's limits: a start
// function that never returns must not hold up the loop (frames, input, other
// apps), and it can use WASI like _start can.
describe("start functions", () => {
  const spin = () => guestBytes("spin_start");

  test("one that never returns leaves the loop free, and a stop ends it", async () => {
    const module = loadModule(await spin());
    const t0 = performance.now();
    const g = new Guest(module, { argv: ["spin"] });
    const launched = performance.now() - t0;
    // The loop turns while the start function spins: a 20 ms timer, five times over.
    let worst = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await new Promise((r) => setTimeout(r, 20));
      worst = Math.max(worst, performance.now() - t - 20);
    }
    expect(g.running).toBe(true);
    g.stop();
    expect(await g.exited).toMatchObject({ kind: "stopped" });
    // On the loop thread the launch itself would have lasted as long as the start function was let run.
    expect(launched).toBeLessThan(200);
    expect(worst).toBeLessThan(200);
  });

  test("its time and CPU count against the guest's timeout and CPU budget", async () => {
    const timedOut = await new Guest(loadModule(await spin()), { argv: ["spin"], timeoutMs: 100 }).exited;
    expect(timedOut).toMatchObject({ kind: "timeout", limitMs: 100 });
    const capped = await new Guest(loadModule(await spin()), { argv: ["spin"], cpuMs: 50 }).exited;
    expect(capped).toMatchObject({ kind: "cpu-limit", limitMs: 50 });
    expect(capped.cpuMs).toBeGreaterThanOrEqual(50);
  });

  test("an instantiation that fails says why", async () => {
    // 200 pages (12.5 MiB) of memory against a 4 MiB limit: refused while instantiating, before any code runs.
    const st = await new Guest(loadModule(await guestBytes("big_memory")), { argv: ["big"], memoryBytes: 4 << 20 }).exited;
    expect(st).toMatchObject({ kind: "error", message: expect.stringMatching(/^instantiate: memory minimum size of 200 pages exceeds memory limits/) });
  });

  test("it can sleep and write through WASI", async () => {
    // tests/guests/start_sleeps.wat: sleeps 30 ms in its start function, then writes "slept\n".
    const bytes = await guestBytes("start_sleeps");
    const out: string[] = [];
    const t0 = performance.now();
    const st = await new Guest(loadModule(bytes), { argv: ["sleeper"], stdout: "capture", onOutput: (_s, b) => out.push(new TextDecoder().decode(b)) }).exited;
    expect(st).toMatchObject({ kind: "exit", code: 0 });
    expect(out.join("")).toBe("slept\n");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30);
  });
});
