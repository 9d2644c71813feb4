// How `weft run` picks its display: --drm insists on a card, --headless
// never looks, and the default takes DRM when a usable card exists — saying
// which it chose and why. This machine has no /dev/dri, so the DRM branch
// itself is exercised with the fake device in drm-backend.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { candidateCards, openDrm, settleForCards } from "../../src/compositor/backend/select.ts";
import { ROOT, tempRuntime } from "./helpers.ts";

const WEFT = join(ROOT, "bin", "weft.ts");
const dir = mkdtempSync(join(tmpdir(), "weft-drm-select-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function firstLine(stream: ReadableStream<Uint8Array>, re: RegExp): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  try {
    for (;;) {
      const line = text.split("\n").find((l) => re.test(l));
      if (line) return line;
      const { value, done } = await reader.read();
      if (done) throw new Error(`no line matching ${re} in:\n${text}`);
      text += new TextDecoder().decode(value);
    }
  } finally {
    reader.releaseLock();
  }
}

describe("display selection", () => {
  test("cards are tried in numeric order; WEFT_DRM_DEVICE picks one; render nodes are not cards", () => {
    const dri = join(dir, "dri");
    mkdirSync(dri);
    for (const n of ["card10", "card1", "renderD128", "card0"]) writeFileSync(join(dri, n), "");
    expect(candidateCards({}, dri)).toEqual({ cards: ["card0", "card1", "card10"].map((n) => join(dri, n)) });
    expect(candidateCards({ WEFT_DRM_DEVICE: "/dev/dri/card7" }, dri)).toEqual({ cards: ["/dev/dri/card7"] });
    expect(candidateCards({}, join(dir, "nothing")).none).toMatch(/^no .*nothing \(no GPU or display device\)$/);
  });

  test("with no card yet, selection waits while udev still has events queued (a GPU driver loading), and only then", () => {
    const dri = join(dir, "late-dri");
    const queue = join(dir, "udev-queue");
    mkdirSync(dri);
    // No queue: no wait, even without a card (a headless device starts at once).
    expect(settleForCards({}, dri, queue, 5000)).toBe(0);
    // udev busy; a card appears ~300 ms later (another process, as udev would): the wait ends with it.
    writeFileSync(queue, "");
    const udev = Bun.spawn(["sh", "-c", `sleep 0.3; touch ${join(dri, "card0")}; sleep 2; rm -f ${queue}`]);
    const waited = settleForCards({}, dri, queue, 5000);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2000);
    udev.kill();
    // A queue that never empties: bounded by maxMs.
    rmSync(join(dri, "card0"));
    const t0 = performance.now();
    expect(settleForCards({}, dri, queue, 300)).toBeGreaterThanOrEqual(300);
    expect(performance.now() - t0).toBeLessThan(2000);
    // A card already there, or WEFT_DRM_DEVICE: no wait.
    expect(settleForCards({ WEFT_DRM_DEVICE: "/dev/null" }, dri, queue, 5000)).toBe(0);
    rmSync(queue);
  });

  test("a device that is not a DRM card is passed over with its reason", () => {
    const r = openDrm(() => {}, { WEFT_DRM_DEVICE: "/dev/null" });
    expect(r.drm).toBeNull();
    expect(r.why).toBe("drmIsKMS on /dev/null failed: ENOTTY (not a DRM/KMS device)");
  });

  test("weft run --drm without a usable card fails at once and says why", async () => {
    using rt = tempRuntime();
    const p = Bun.spawn(["bun", WEFT, "run", "--drm", "--no-appd"], { env: { ...process.env, XDG_RUNTIME_DIR: rt.path, WEFT_DRM_DEVICE: "/dev/null", WEFT_LOG: "info" }, stdout: "pipe", stderr: "pipe" });
    expect(await p.exited).toBe(1);
    expect(await new Response(p.stderr).text()).toContain("--drm: no usable DRM device (drmIsKMS on /dev/null failed: ENOTTY (not a DRM/KMS device))");
  }, 30_000);

  test("weft run (auto) falls back to headless here and logs why", async () => {
    using rt = tempRuntime();
    // WEFT_LOG=info: tests/preload.ts turns logging down, and the choice is an info line.
    const env: Record<string, string> = { ...(process.env as Record<string, string>), XDG_RUNTIME_DIR: rt.path, WEFT_LOG: "info" };
    delete env.WEFT_DRM_DEVICE;
    const p = Bun.spawn(["bun", WEFT, "run", "--no-appd", "--socket", "wl-auto"], { env, stdout: "pipe", stderr: "pipe" });
    try {
      const why = await firstLine(p.stderr, /display: /);
      if (existsSync("/dev/dri")) expect(why).toMatch(/display: (drm on |headless: no usable DRM device)/);
      else expect(why).toContain("display: headless: no usable DRM device (no /dev/dri (no GPU or display device))");
      expect(await firstLine(p.stdout, /^WAYLAND_DISPLAY=/)).toBe("WAYLAND_DISPLAY=wl-auto");
    } finally {
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    }
  }, 30_000);
});
