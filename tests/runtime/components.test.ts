// WASI 0.2 command components (C guests wrapped with jco's Preview 1 command
// adapter by scripts/build-components.sh) run like core modules: own thread,
// same limits, same exit reasons.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ComponentLinker } from "../../ffi/wasmtime.ts";
import { loadWasm } from "../../src/runtime/cache.ts";
import { Guest, type GuestOptions } from "../../src/runtime/guest.ts";
import { hostCalls } from "../../src/runtime/host-calls.ts";
import { ROOT, tempDir, weft } from "../helpers.ts";

const component = (name: string) => join(ROOT, "tests", "components", "build", `${name}.component.wasm`);

async function runComponent(name: string, opts: Partial<GuestOptions> = {}) {
  const out = { stdout: "", stderr: "" };
  const g = new Guest(loadWasm(readFileSync(component(name))), {
    argv: [name],
    stdout: "capture",
    stderr: "capture",
    ...opts,
    onOutput: (s, b) => (out[s] += new TextDecoder().decode(b)),
  });
  return { status: await g.exited, ...out };
}

describe("components", () => {
  test("stdio, args and env reach a component", async () => {
    expect(await runComponent("hello")).toMatchObject({ status: { kind: "exit", code: 0 }, stdout: "hello from wasm\n" });
    expect((await runComponent("args", { argv: ["args", "x y"] })).stdout).toBe("argv[0]=args\nargv[1]=x y\n");
    expect((await runComponent("env", { env: [["K", "v"]] })).stdout).toBe("K=v\n");
  });

  test("exit: success is 0, any failure is 1 (wasi:cli/exit carries only ok/err)", async () => {
    expect((await runComponent("exit", { argv: ["exit", "0"] })).status).toMatchObject({ kind: "exit", code: 0 });
    expect((await runComponent("exit", { argv: ["exit", "42"] })).status).toMatchObject({ kind: "exit", code: 1 });
  });

  for (const [name, kind] of [
    ["trap_unreachable", "unreachable"],
    ["trap_divzero", "integer divide by zero"],
    ["trap_oob", "out-of-bounds memory access"],
    ["trap_stackoverflow", "stack overflow"],
  ] as const) {
    test(`${name} → ${kind}`, async () => {
      expect((await runComponent(name)).status).toMatchObject({ kind: "trap", trap: kind });
    });
  }

  test("a preopened directory, and :ro refusing writes", async () => {
    using dir = tempDir();
    const rw = await runComponent("files", { argv: ["files", "/work"], preopens: [{ host: dir.path, guest: "/work", readOnly: false }] });
    expect(rw.status).toMatchObject({ kind: "exit", code: 0 });
    expect(rw.stdout.trim().split("\n").at(-1)).toBe("ok");
    const ro = await runComponent("writefile", { argv: ["writefile", "/ro/x", "y"], preopens: [{ host: dir.path, guest: "/ro", readOnly: true }] });
    expect(ro.status).toMatchObject({ kind: "exit", code: 1 });
    expect(ro.stderr).toMatch(/^error: /);
  });

  test("a spinning component is ended by its timeout and its CPU budget", async () => {
    expect((await runComponent("spin", { timeoutMs: 200 })).status).toMatchObject({ kind: "timeout" });
    expect((await runComponent("spin", { cpuMs: 100 })).status).toMatchObject({ kind: "cpu-limit" });
  });

  test("a component sleeping in a loop stops when asked (at its next wake-up)", async () => {
    let sawReady!: () => void;
    const ready = new Promise<void>((r) => (sawReady = r));
    const g = new Guest(loadWasm(readFileSync(component("sleep_loop"))), {
      argv: ["sleep_loop", "0", "10"],
      stdout: "capture",
      onOutput: (_s, b) => new TextDecoder().decode(b).includes("READY") && sawReady(),
    });
    await ready; // in its sleep loop now
    g.stop();
    const st = await g.exited;
    expect(st.kind).toBe("stopped");
    expect(st.wallMs!).toBeGreaterThan(0);
  });

  test("a component is instantiated on its own thread: a start function that never returns leaves the loop free", async () => {
    const t0 = performance.now();
    const g = new Guest(loadWasm(readFileSync(component("wat-spin-start"))), { argv: ["spin-start"] });
    const launched = performance.now() - t0;
    const t1 = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    const late = performance.now() - t1 - 50;
    expect(g.running).toBe(true);
    g.stop();
    expect(await g.exited).toMatchObject({ kind: "stopped" });
    expect(launched).toBeLessThan(200);
    expect(late).toBeLessThan(200);
    expect((await runComponent("wat-spin-start", { timeoutMs: 100 })).status).toMatchObject({ kind: "timeout" });
  });

  test("a linker replaced while a guest's thread may still use it is deleted only when that guest has ended", async () => {
    const deleted: unknown[] = [];
    const realDelete = ComponentLinker.prototype.delete;
    ComponentLinker.prototype.delete = function (this: ComponentLinker) {
      deleted.push(this.ptr);
      realDelete.call(this);
    };
    try {
      const first = new Guest(loadWasm(readFileSync(component("wat-spin-start"))), { argv: ["spin-start"] });
      // A host function registered now makes the next guest build a new linker.
      hostCalls.register({ iface: `weft:test/replaced-${process.pid}-${Date.now()}@0.1.0`, name: "later", handler: () => [] });
      const second = new Guest(loadWasm(readFileSync(component("wat-spin-start"))), { argv: ["spin-start"] });
      expect(deleted).toEqual([]); // the first guest's linker is replaced, but still in use
      first.stop();
      await first.exited;
      expect(deleted.length).toBe(1);
      second.stop();
      await second.exited;
      expect(deleted.length).toBe(1); // the current linker stays
    } finally {
      ComponentLinker.prototype.delete = realDelete;
    }
  });

  test("a component that is not a command ends with a clear error", async () => {
    expect((await runComponent("wat-no-run")).status).toMatchObject({ kind: "error", message: "component has no wasi:cli/run export (not a command)" });
  });

  test("weft exec runs a component", async () => {
    expect(await weft(["exec", component("hello")])).toEqual({ code: 0, stdout: "hello from wasm\n", stderr: "" });
    const trap = await weft(["exec", component("trap_divzero")]);
    expect(trap.code).toBe(134);
    expect(trap.stderr).toContain("trap: integer divide by zero");
  });
});
