// The compiled-artifact cache: compile once, reuse from disk, never trust a
// corrupt file.
import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, weft, guestPath } from "../helpers.ts";

describe("compiled module cache", () => {
  test("a second run loads the compiled module from disk; a corrupt entry is recompiled", async () => {
    using cache = tempDir();
    const env = { WEFT_CACHE_DIR: cache.path };
    const first = await weft(["exec", guestPath("hello")], { env });
    expect(first).toMatchObject({ code: 0, stdout: "hello from wasm\n" });
    const files = readdirSync(join(cache.path, "modules"));
    expect(files.length).toBe(1);
    expect(files[0]).toMatch(/^[0-9a-f]{64}\.cwasm$/);
    const second = await weft(["exec", guestPath("hello")], { env });
    expect(second).toMatchObject({ code: 0, stdout: "hello from wasm\n" });
    writeFileSync(join(cache.path, "modules", files[0]), "garbage, not a compiled module");
    const third = await weft(["exec", guestPath("hello")], { env });
    expect(third).toMatchObject({ code: 0, stdout: "hello from wasm\n", stderr: "" });
  });
});

describe("compiling off the loop", () => {
  test("loadWasmAsync compiles on a helper thread: the loop keeps running meanwhile", async () => {
    const { loadWasmAsync } = await import("../../src/runtime/cache.ts");
    const { Guest } = await import("../../src/runtime/guest.ts");
    const { guestBytes } = await import("../helpers.ts");
    // A custom section with random bytes: a module no cache has seen, so it really compiles.
    const base = await guestBytes("files");
    const nonce = crypto.getRandomValues(new Uint8Array(8));
    const wasm = new Uint8Array([...base, 0, 10, 1, 0x78, ...nonce]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const compiling = loadWasmAsync(wasm, { disk: false });
    const ticksWhenStarted = ticks;
    const module = await compiling;
    clearInterval(timer);
    // A synchronous compile would have returned before any timer could run.
    expect(ticks).toBeGreaterThan(ticksWhenStarted);
    const g = new Guest(module, { argv: ["files"], stdout: "discard" });
    expect((await g.exited).kind).toBe("exit");
  });

  test("an invalid module is a rejected promise with Wasmtime's reason", async () => {
    const { loadWasmAsync } = await import("../../src/runtime/cache.ts");
    const { guestBytes } = await import("../helpers.ts");
    const bad = (await guestBytes("hello")).slice(0, 40);
    expect(loadWasmAsync(bad, { disk: false })).rejects.toThrow(/^compile: /);
    expect(loadWasmAsync(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a WebAssembly module/);
  });
});
