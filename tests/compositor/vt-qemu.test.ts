// Opt-in (WEFT_SLOW_TESTS=1): VT switching on a real kernel. The image built
// with --vt-test boots under qemu with virtio-vga; weft owns tty1 and shows
// an animating client; `chvt 2` over the serial console must show the text
// console and `chvt 1` weft again with its content still changing — judged
// by the pixels of QEMU monitor screendumps and by weft's journal
// (image/vt-switch.ts). Its own image directory, like drm-qemu.test.ts.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { homedir } from "node:os";
import { buildOnce } from "../system/helpers.ts";
import { ROOT } from "./helpers.ts";

const slow = process.env.WEFT_SLOW_TESTS === "1";

describe.skipIf(!slow)("VT switching under qemu (WEFT_SLOW_TESTS=1)", () => {
  test("build the --vt-test image; weft on tty1, chvt 2 shows the console, chvt 1 shows weft rendering again", async () => {
    const { path } = await buildOnce();
    const dir = process.env.WEFT_VT_IMAGE_DIR ?? join(homedir(), ".cache", "weft-image-vt");
    const build = Bun.spawn(["bun", join(ROOT, "image", "build.ts"), "--weft", path, "--vt-test", "--with-tests", "--out", dir], { stdout: "inherit", stderr: "inherit" });
    expect(await build.exited).toBe(0);
    const run = Bun.spawn(["bun", join(ROOT, "image", "vt-switch.ts"), "--dir", dir, "--out-dir", dir], { stdout: "inherit", stderr: "inherit" });
    expect(await run.exited).toBe(0);
  }, 60 * 60_000);
});
