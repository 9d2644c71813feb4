// Children of any size (spawn-file), and budgets shared down the process
// tree: CPU (every guest's thread CPU charged to its pool and every pool
// above it), wall-clock timeouts, and services' memory out of pid0's pool.
// The CPU figures are the runtime's own accounting (each guest thread's CPU
// clock, as charged to the pools), never wall-clock sleeps.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionManager, type Session } from "../../src/appd/sessions.ts";
import { CellProcess } from "../../src/cell/procs.ts";
import { ROOT } from "../helpers.ts";
import { CELLCTL, cellctlHarness, until } from "./helpers.ts";

const BIG = join(ROOT, "tests", "cell", "build", "big.component.wasm");
const { dir, cellImage, start, run, cleanups } = cellctlHarness("weft-cell-limits-");

describe("spawn-file", () => {
  test("a child of several MiB spawns from a file in a directory capability; as bytes it fails its caller (Wasmtime will not lift that much)", async () => {
    const { img } = cellImage("big");
    writeFileSync(join(img, "bin", "big.wasm"), readFileSync(BIG));
    expect(readFileSync(BIG).length).toBeGreaterThan(3 << 20); // over the 1 MiB host-call cap, by far
    let r = await run([img], "spawn-file", "/self", "big.wasm", "-", "16", "0", "-", "one", "two");
    expect(r.out).toBe("child: big child: 3145728 bytes of data (7 8 9) one two\nchild exit 0\n");
    // The same child as bytes cannot pass through a host call: Wasmtime refuses to lift that
    // much into host values before weft's own 1 MiB check is reached, and the caller fails.
    r = await run([img], "spawn-bytes", "/bin/big.wasm", "-", "16", "0", "-");
    expect(r.out).toBe("");
    expect(r.status).toMatchObject({ kind: "error" });
    expect((r.status as { message: string }).message).toContain("too much data is being copied between the host and the guest");
    // Handle 0 is pid0's own image: no grant needed (a child has none).
    r = await run([img], "spawn-file", "@image", "bin/big.wasm", "-", "16", "0", "-", "from", "image");
    expect(r.out).toBe("child: big child: 3145728 bytes of data (7 8 9) from image\nchild exit 0\n");
    r = await run([img], "spawn-file", "@image", "../../etc/passwd", "-", "16", "0", "-");
    expect(r.out).toBe(`spawn error: "../../etc/passwd" is outside the directory\n`);
    r = await run([img], "spawn", "/self=self:ro", "32", "0", "-", "spawn-file", "@image", "bin/big.wasm", "-", "8", "0", "-");
    expect(r.out).toBe("child: spawn error: pid0/1 has no image (a child sees no file system): pass a directory capability\nchild exit 1\n");
    // A file child gets grants and limits like any child.
    r = await run([img], "spawn-file", "/self", "main.wasm", "/data=d:ro", "16", "0", "-", "read", "d", "f.txt");
    expect(r.out).toBe("child: top secret\nchild exit 0\n");
  }, 60_000);

  test("the file is confined to the capability like fs.read-file; not-wasm and missing files are clear errors", async () => {
    const { img, data } = cellImage("bigbad");
    const outside = join(dir.path, "outside.wasm");
    writeFileSync(outside, readFileSync(CELLCTL));
    symlinkSync(outside, join(data, "evil.wasm"));
    let r = await run([img], "spawn-file", "/self", "../etc/cell.toml", "-", "16", "0", "-");
    expect(r.out).toBe(`spawn error: "../etc/cell.toml" is outside the directory\n`);
    r = await run([img], "spawn-file", "/data", "evil.wasm", "-", "16", "0", "-", "names");
    expect(r.out).toBe(`spawn error: "evil.wasm" leads outside the directory\n`);
    r = await run([img], "spawn-file", "/data", "f.txt", "-", "16", "0", "-");
    expect(r.out).toBe("spawn error: the bytes are not a WebAssembly module or component\n");
    r = await run([img], "spawn-file", "/data", "nope.wasm", "-", "16", "0", "-");
    expect(r.out).toBe("spawn error: nope.wasm: ENOENT\n");
    r = await run([img], "spawn-file", "/data", "inner", "-", "16", "0", "-");
    expect(r.out).toBe("spawn error: inner: not a regular file\n");
  }, 60_000);
});

describe("CPU budgets are pooled", () => {
  test("CPU hogs of children are bounded by the cell's cpu_s: every guest stops once the shared budget is used", async () => {
    const { img } = cellImage("hogs", "", "children_mib = 256\ncpu_s = 1");
    const r = await run([img], "hogs", "3", "16", "spin");
    expect(r.out).toStartWith("spawned 3\n");
    expect(r.status).toMatchObject({ kind: "cpu-limit", limitMs: 1000, shared: true });
    const kids = [...r.cell.root.children.values()].map((c) => c.status!);
    // The first to reach a tick past the budget stops on it; pid0 (waiting for hog 1) wakes, runs,
    // stops too, and the hogs still running are stopped with it, like a process group.
    expect(kids.length).toBe(3);
    for (const s of kids) {
      if (s.kind === "cpu-limit") expect(s).toMatchObject({ limitMs: 1000, shared: true });
      else expect(s.kind).toBe("stopped");
    }
    // Each guest thread's own CPU clock, as the runtime read it at its end: together they are the cell's use.
    const total = kids.reduce((n, s) => n + s.cpuMs!, r.status.cpuMs!);
    expect(Math.abs(total - r.cell.cpuUsedMs)).toBeLessThan(1);
    // Past the budget (that is what stopped them), by at most a few epoch ticks per guest.
    expect(total).toBeGreaterThan(1000);
    expect(total).toBeLessThan(1000 + 4 * 25);
    // No single child could have had it all: the budget was shared.
    for (const s of kids) expect(s.cpuMs!).toBeLessThan(1000);
    if (process.env.WEFT_CELL_FIGURES) console.log(`cell cpu_s=1 with 3 hogs + spinning pid0: ${total.toFixed(1)} ms CPU charged; children ${kids.map((s) => s.cpuMs!.toFixed(1)).join(", ")} ms; pid0 ${r.status.cpuMs!.toFixed(1)} ms`);
  }, 60_000);

  test("a child's cpu-ms bounds it (and counts against its parent); timeout-ms ends a child on the wall clock", async () => {
    const { img } = cellImage("child-cpu");
    const r = await run([img], "hogs", "2", "16,300");
    expect(r.out).toBe("spawned 2\nhog 1 exit 152\nhog 2 exit 152\n");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    const kids = [...r.cell.root.children.values()].map((c) => c.status!);
    for (const s of kids) {
      expect(s).toMatchObject({ kind: "cpu-limit", limitMs: 300, shared: true });
      expect(s.cpuMs!).toBeGreaterThan(300);
      expect(s.cpuMs!).toBeLessThan(300 + 25);
    }
    expect(r.cell.cpuUsedMs).toBeGreaterThan(600);
    const t = await run([img], "spawn", "-", "16,0,300", "0", "-", "spin");
    expect(t.out).toBe("child exit 124\n");
    expect([...t.cell.root.children.values()][0].status).toMatchObject({ kind: "timeout", limitMs: 300 });
    // The largest timeout-ms (49.7 days) is beyond one JS timer's reach (2^31 - 1 ms): it must not end the child at once.
    const long = await run([img], "spawn", "-", "16,0,4294967295", "0", "-", "sleep", "50");
    expect(long.out).toBe("child exit 0\n");
  }, 60_000);
});

describe("start functions", () => {
  // A core module whose start function (it runs while the module is
  // instantiated, before _start, on the child's own thread) loops forever. C
  // has no way to emit a start section, so its bytes are written here.
  const SPIN_START = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
    0x03, 0x02, 0x01, 0x00, // func 0: type 0
    0x08, 0x01, 0x00, // start: func 0
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end
  ]);

  test("a child's start function is charged to the cell's CPU budget and stopped by it", async () => {
    const { img } = cellImage("spin-start", "", "children_mib = 256\ncpu_s = 0.2");
    writeFileSync(join(img, "bin", "spin_start.wasm"), SPIN_START);
    const r = await run([img], "spawn-file", "/self", "spin_start.wasm", "-", "16", "0", "-");
    const [child] = [...r.cell.root.children.values()];
    expect(child.status).toMatchObject({ kind: "cpu-limit", limitMs: 200, shared: true });
    // The cell's budget is used up: pid0 stops too, at its next tick (before or after it prints).
    expect(r.status).toMatchObject({ kind: "cpu-limit", limitMs: 200, shared: true });
    expect(["", "child exit 152\n"]).toContain(r.out);
    // The CPU time of the start function, charged like any guest's: past the budget by at most a few ticks.
    expect(r.cell.cpuUsedMs).toBeGreaterThan(200);
    expect(r.cell.cpuUsedMs).toBeLessThan(200 + 50);
  }, 30_000);
});

describe("services count against pid0's budget", () => {

  test("a service's memory comes out of pid0's pool; one that does not fit stops the cell from starting, naming it", async () => {
    const { img } = cellImage("svc-mem", "", "children_mib = 100");
    mkdirSync(join(img, "svc", "a", "bin"), { recursive: true });
    mkdirSync(join(img, "svc", "a", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "a", "bin", "main.wasm"), readFileSync(CELLCTL));
    writeFileSync(join(img, "svc", "a", "etc", "cell.toml"), `[limits]\nmemory_mib = 48\nchildren_mib = 16\n[service]\nargs = ["idle"]\n`);
    const mgr = new SessionManager({ backoffMs: () => 10 });
    // 100 - (48 + 16) = 36 MiB left for pid0's children.
    const c = await start([img], ["spawn", "-", "30", "8", "-", "names"], mgr);
    await c.waitFor("left\n");
    expect(c.output()).toBe("spawn error: memory budget: the child asks 30 MiB + 8 MiB for its own children; pid0 has 36 of 100 MiB left\n");
    expect(c.cell.services.map((s) => s.state)).toEqual(["running"]);
    // A second service that does not fit: refused before anything runs.
    mkdirSync(join(img, "svc", "b", "bin"), { recursive: true });
    writeFileSync(join(img, "svc", "b", "bin", "main.wasm"), readFileSync(CELLCTL));
    mkdirSync(join(img, "svc", "b", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "b", "etc", "cell.toml"), `[limits]\nmemory_mib = 40\n`);
    const mgr2 = new SessionManager({ backoffMs: () => 10 });
    await expect(start([img], ["names"], mgr2)).rejects.toThrow(
      "svc/b: memory budget: the service asks 40 MiB ([limits].memory_mib) + 0 MiB ([limits].children_mib); pid0 has 36 of 100 MiB left ([limits].children_mib of etc/cell.toml)",
    );
    expect(mgr2.running()).toEqual([]);
  }, 60_000);

  test("a spawn still compiling when its service's run ends is refused: no child outlives the run that asked for it", async () => {
    const { img } = cellImage("svc-late", "", "children_mib = 100");
    mkdirSync(join(img, "svc", "s", "bin"), { recursive: true });
    mkdirSync(join(img, "svc", "s", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "s", "bin", "main.wasm"), readFileSync(CELLCTL));
    // The child: cellctl with a custom section of its own, so it is compiled afresh (no cache hit).
    const tag = new TextEncoder().encode(`late-${process.pid}-${performance.now()}`);
    const custom = [0x00, tag.length + 2, 1, 0x78 /* "x" */, ...tag]; // id 0, size, name "x", payload
    writeFileSync(join(img, "svc", "s", "bin", "child.wasm"), new Uint8Array([...readFileSync(CELLCTL), ...custom]));
    writeFileSync(join(img, "svc", "s", "etc", "cell.toml"), `[limits]\nchildren_mib = 32\n[service]\nargs = ["spawn-file", "@image", "bin/child.wasm", "-", "16", "0", "-", "idle"]\n`);
    // The run ends (stopped) the moment its spawn reaches the host, while the child compiles.
    let spawned: Promise<number> | null = null;
    const original = CellProcess.prototype.spawn;
    cleanups.push(() => {
      CellProcess.prototype.spawn = original;
    });
    let service: Session | null = null;
    CellProcess.prototype.spawn = function (this: CellProcess, req) {
      const p = original.call(this, req);
      if (this.label === "svc/s") {
        spawned = p;
        service!.guest!.stop();
      }
      return p;
    };
    const mgr = new SessionManager({ backoffMs: () => 10 });
    const c = await start([img], ["idle"], mgr);
    [service] = c.cell.services;
    await until((fn) => mgr.on(fn), () => spawned !== null && service!.state === "stopped", "the service's run to end");
    await expect(spawned!).rejects.toThrow("svc/s has ended");
    const proc = (c.cell as unknown as { serviceProcs: CellProcess[] }).serviceProcs[0];
    expect(proc.children.size).toBe(0);
    expect(c.cell.liveChildren).toBe(0);
    expect(proc.poolUsedMib).toBe(0);
  }, 60_000);

  test("a service's CPU is charged to pid0's budget: a spinning service stops when the cell's cpu_s is used", async () => {
    const { img } = cellImage("svc-cpu", "", "children_mib = 100\ncpu_s = 1");
    mkdirSync(join(img, "svc", "hog", "bin"), { recursive: true });
    mkdirSync(join(img, "svc", "hog", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "hog", "bin", "main.wasm"), readFileSync(CELLCTL));
    writeFileSync(join(img, "svc", "hog", "etc", "cell.toml"), `[service]\nargs = ["spin"]\n`); // its own cpu_s: none
    const mgr = new SessionManager({ backoffMs: () => 10 });
    const c = await start([img], ["idle"], mgr);
    const [hog] = c.cell.services;
    await until((fn) => mgr.on(fn), () => hog.state === "stopped", "the spinning service to be stopped", 30_000);
    expect(hog.exit).toEqual({ kind: "cpu-limit", message: "cpu limit: the CPU budget of 1000 ms it shares (with its cell or parent) is used up" });
    expect(c.cell.cpuUsedMs).toBeGreaterThan(1000);
    expect(c.cell.pid0.running).toBe(true); // asleep: it uses none; its next run of wasm would stop it too
  }, 60_000);
});
