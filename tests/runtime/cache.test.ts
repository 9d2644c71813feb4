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
