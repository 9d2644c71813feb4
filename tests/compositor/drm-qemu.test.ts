// Opt-in (WEFT_SLOW_TESTS=1): the image booted under qemu with a virtual GPU
// (-device virtio-vga); weft.service's `weft run` picks DRM there, and the
// QEMU monitor's screendump must show weft's output (image/drm-screendump.ts).
// Uses its own image directory so it does not disturb the smoke-test image.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { homedir } from "node:os";
import { buildOnce } from "../system/helpers.ts";
import { ROOT } from "./helpers.ts";

const slow = process.env.WEFT_SLOW_TESTS === "1";

describe.skipIf(!slow)("weft on a virtual GPU under qemu (WEFT_SLOW_TESTS=1)", () => {
  test("build the image, boot with virtio-vga, screendump shows weft", async () => {
    const { path } = await buildOnce();
    const dir = process.env.WEFT_DRM_IMAGE_DIR ?? join(homedir(), ".cache", "weft-image-drm");
    const build = Bun.spawn(["bun", join(ROOT, "image", "build.ts"), "--weft", path, "--console-journal", "--out", dir], { stdout: "inherit", stderr: "inherit" });
    expect(await build.exited).toBe(0);
    const run = Bun.spawn(["bun", join(ROOT, "image", "drm-screendump.ts"), "--dir", dir, "--out", join(dir, "drm-screen.png")], { stdout: "inherit", stderr: "inherit" });
    expect(await run.exited).toBe(0);
  }, 60 * 60_000);
});
