// The compiled-artifact cache: compile once, reuse from disk, never trust a
// corrupt file.
import { describe, expect, test } from "bun:test";
import { readdirSync, statSync, writeFileSync } from "node:fs";
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

describe("compiled code in memory", () => {
  // (module (func (export "_start"))) plus a custom section "n" holding `n`: a distinct module per n.
  const distinct = (n: number) =>
    new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1, 2, 0, 11,
      0, 6, 1, 110, n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24,
    ]);

  test("at most MEMORY_ENTRIES stay cached; code nobody holds is freed; code still held keeps working", async () => {
    const { loadModule, memoryEntries, MEMORY_ENTRIES } = await import("../../src/runtime/cache.ts");
    const { liveCompiled } = await import("../../ffi/wasmtime.ts");
    const { Guest } = await import("../../src/runtime/guest.ts");
    const base = Date.now() & 0xffffff; // bytes no earlier run of this process has cached
    const held = loadModule(distinct(base), { disk: false });
    const before = { ...liveCompiled };
    // Like a cell spawning children from ever new bytes: each compiled, launched once, dropped.
    const n = MEMORY_ENTRIES * 3;
    for (let i = 1; i <= n; i++) {
      const st = await new Guest(loadModule(distinct(base + i), { disk: false }), { argv: ["x"] }).exited;
      expect(st).toMatchObject({ kind: "exit", code: 0 });
    }
    expect(memoryEntries()).toBeLessThanOrEqual(MEMORY_ENTRIES);
    // Dropped from memory, nothing else holds them: the collector frees their native code.
    const deadline = Date.now() + 10_000;
    while (liveCompiled.modules - before.modules > MEMORY_ENTRIES + 8 && Date.now() < deadline) {
      Bun.gc(true);
      await new Promise((r) => setImmediate(r));
    }
    expect(liveCompiled.modules - before.modules).toBeLessThanOrEqual(MEMORY_ENTRIES + 8);
    expect(liveCompiled.instancePres - before.instancePres).toBeLessThanOrEqual(MEMORY_ENTRIES + 8);
    // The first module was evicted from the cache long ago, but this test still holds it.
    expect(await new Guest(held, { argv: ["x"] }).exited).toMatchObject({ kind: "exit", code: 0 });
  }, 60_000);

  test("the least recently used entry goes first: a hit counts as a use", async () => {
    const { heldByCache, loadModule, MEMORY_ENTRIES } = await import("../../src/runtime/cache.ts");
    const base = (Date.now() & 0xffffff) ^ 0x800000;
    const a = distinct(base);
    loadModule(a, { disk: false });
    for (let i = 1; i < MEMORY_ENTRIES; i++) loadModule(distinct(base + i), { disk: false });
    expect(heldByCache(a)).toBe(true); // the cache is full, `a` the oldest
    loadModule(a, { disk: false }); // a hit: now the most recent
    loadModule(distinct(base + MEMORY_ENTRIES), { disk: false });
    expect(heldByCache(a)).toBe(true);
    expect(heldByCache(distinct(base + 1))).toBe(false); // the oldest after `a`'s hit went instead
  });

  test("the cache also keeps to a byte budget of compiled code (WEFT_MODULE_CACHE_MIB)", async () => {
    const { heldByCache, loadModule, memoryEntryBytes } = await import("../../src/runtime/cache.ts");
    using cache = tempDir();
    const saved = { dir: process.env.WEFT_CACHE_DIR, mib: process.env.WEFT_MODULE_CACHE_MIB };
    process.env.WEFT_CACHE_DIR = cache.path; // the disk cache on: entries are sized by their serialised artifact
    try {
      const base = (Date.now() & 0xffffff) ^ 0x200000;
      const first = loadModule(distinct(base)); // held: it stays alive after the cache lets go of it
      const [file] = readdirSync(join(cache.path, "modules"));
      const artifact = statSync(join(cache.path, "modules", file)).size;
      // Room for three and a half of these artifacts.
      process.env.WEFT_MODULE_CACHE_MIB = String((3.5 * artifact) / 1048576);
      for (let i = 1; i <= 10; i++) loadModule(distinct(base + i));
      expect([7, 8, 9, 10].map((i) => heldByCache(distinct(base + i)))).toEqual([false, true, true, true]);
      expect(memoryEntryBytes()).toBeLessThanOrEqual(3.5 * artifact);
      // The first one left the cache but this test still holds it: found again, and back in the
      // cache it weighs what it did, so the oldest (base + 8) makes room for it.
      expect(heldByCache(distinct(base))).toBe(false);
      expect(loadModule(distinct(base))).toBe(first);
      expect([0, 8, 9, 10].map((i) => heldByCache(distinct(base + i)))).toEqual([true, false, true, true]);
      expect(memoryEntryBytes()).toBeLessThanOrEqual(3.5 * artifact);
    } finally {
      if (saved.dir === undefined) delete process.env.WEFT_CACHE_DIR;
      else process.env.WEFT_CACHE_DIR = saved.dir;
      if (saved.mib === undefined) delete process.env.WEFT_MODULE_CACHE_MIB;
      else process.env.WEFT_MODULE_CACHE_MIB = saved.mib;
    }
  });

  test("a running guest keeps its compiled code when the cache lets go of it", async () => {
    const { loadModule, MEMORY_ENTRIES } = await import("../../src/runtime/cache.ts");
    const { liveCompiled } = await import("../../ffi/wasmtime.ts");
    const { Guest } = await import("../../src/runtime/guest.ts");
    const { guestBytes } = await import("../helpers.ts");
    const spin = await guestBytes("spin_start"); // a start function that never returns: instantiating until stopped
    // The same module made distinct by a custom section "n" holding `n`, appended.
    const spinning = (n: number) => new Uint8Array([...spin, 0, 6, 1, 110, n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24]);
    const base = (Date.now() & 0xffffff) ^ 0x400000;
    // What earlier tests left for the collector is collected first, so the count moves only with these guests.
    let settled = 0;
    const settleBy = Date.now() + 10_000;
    for (let last = -1; settled < 3 && Date.now() < settleBy; ) {
      Bun.gc(true);
      await new Promise((r) => setImmediate(r));
      settled = liveCompiled.instancePres === last ? settled + 1 : 0;
      last = liveCompiled.instancePres;
    }
    const before = liveCompiled.instancePres;
    const guests = [0, 1, 2, 3].map((i) => new Guest(loadModule(spinning(base + i), { disk: false }), { argv: ["spin"] }));
    // Push their modules out of the cache: only the guests hold them now.
    for (let i = 0; i <= MEMORY_ENTRIES; i++) loadModule(distinct(base + 16 + i), { disk: false });
    for (let round = 0; round < 5; round++) {
      Bun.gc(true);
      await new Promise((r) => setImmediate(r));
    }
    // Their threads are still instantiating with the instance-pres: none may have been freed.
    expect(liveCompiled.instancePres - before).toBeGreaterThanOrEqual(guests.length);
    for (const g of guests) expect(g.running).toBe(true);
    for (const g of guests) g.stop();
    for (const g of guests) expect(await g.exited).toMatchObject({ kind: "stopped" });
    guests.length = 0;
    const deadline = Date.now() + 10_000;
    while (liveCompiled.instancePres > before && Date.now() < deadline) {
      Bun.gc(true);
      await new Promise((r) => setImmediate(r));
    }
    expect(liveCompiled.instancePres).toBeLessThanOrEqual(before);
  }, 30_000);
});
