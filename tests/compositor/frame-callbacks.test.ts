// The native frame callback lists (ffi/native/frame_callbacks.c) against the
// real libwayland-server, compiled with AddressSanitizer: a callback that
// leaves a list in any way (answered, moved, freed with its surface, its
// client gone) must touch no freed memory. The compositor tests cover the
// same lists through real clients (xdg.test.ts, "frame callbacks").
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./helpers.ts";

test("frame callback lists: answered, moved, freed with the surface, dropped with the client — under AddressSanitizer", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-framecb-"));
  try {
    const bin = join(dir, "frame-callbacks");
    const cc = Bun.spawnSync(
      ["cc", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-Wall", "-Werror", "-o", bin, join(import.meta.dir, "frame-callbacks.c"), join(ROOT, "ffi", "native", "frame_callbacks.c"), "-lwayland-server", "-ldl"],
      { stderr: "pipe" },
    );
    expect(cc.stderr.toString()).toBe("");
    expect(cc.exitCode).toBe(0);
    const run = Bun.spawnSync([bin], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1" } });
    expect(run.stderr.toString()).toBe("");
    expect(run.stdout.toString().trim().split("\n")).toEqual(["answered", "moved", "freed", "client gone", "surface and client gone together"]);
    expect(run.exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
