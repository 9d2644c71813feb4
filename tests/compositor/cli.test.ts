// `weft run --headless` and `weft screenshot` as a user runs them.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { controlRequest } from "../../src/compositor/control.ts";
import { decodePng } from "../../src/compositor/render/png.ts";
import { keysFor, ROOT, tempRuntime } from "./helpers.ts";

const WEFT = join(ROOT, "bin", "weft.ts");

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

describe("weft run --headless", () => {
  test("--help lists the options", async () => {
    const p = Bun.spawn(["bun", WEFT, "run", "--help"], { stdout: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    for (const opt of ["--headless", "--width", "--height", "--refresh", "--socket", "--test-input"]) expect(out).toContain(opt);
  });

  test("a bad option is a usage error (exit 2)", async () => {
    const p = Bun.spawn(["bun", WEFT, "run", "--headless", "--width", "wide"], { stdout: "pipe", stderr: "pipe" });
    expect(await p.exited).toBe(2);
  });

  test("serves clients, answers weft screenshot, takes test input, stops on SIGTERM", async () => {
    using rt = tempRuntime();
    const env = { ...process.env, XDG_RUNTIME_DIR: rt.path };
    const weft = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd", "--width", "640", "--height", "480", "--test-input"], { env, stdout: "pipe", stderr: "pipe" });
    let client: Bun.Subprocess | undefined;
    try {
      const line = await readLine(weft.stdout);
      expect(line).toMatch(/^WAYLAND_DISPLAY=wayland-\d+$/);
      const display = line.split("=")[1];
      expect(existsSync(join(rt.path, display))).toBe(true);
      client = Bun.spawn(["weston-simple-shm"], { env: { ...env, WAYLAND_DISPLAY: display }, stdout: "ignore", stderr: "ignore" });
      const path = join(rt.path, "weft", `compositor-${display}.sock`);
      const { reply } = await controlRequest(path, { op: "wait", windows: 1 });
      const win = (reply.windows as { x: number; y: number; width: number; height: number }[])[0];
      expect(win).toMatchObject({ width: 250, height: 250 });

      const file = join(rt.path, "shot.png");
      const shot = Bun.spawn(["bun", WEFT, "screenshot", file], { env: { ...env, WAYLAND_DISPLAY: display }, stderr: "pipe" });
      expect(await shot.exited).toBe(0);
      const png = decodePng(new Uint8Array(await Bun.file(file).arrayBuffer()));
      expect({ width: png.width, height: png.height }).toEqual({ width: 640, height: 480 });
      const at = (x: number, y: number) => Array.from(png.rgb.subarray((y * 640 + x) * 3, (y * 640 + x) * 3 + 3));
      const bg = at(2, 2);
      expect(at(win.x + 125, win.y + 125)).not.toEqual(bg); // the client's pixels, where its window is
      expect(at(win.x + win.width + 10, win.y + 10)).toEqual(bg);

      const keys = keysFor("a").flatMap((k) => [{ type: "key", key: k, pressed: true }, { type: "key", key: k, pressed: false }]);
      const input = await controlRequest(path, { op: "input", events: [{ type: "motion", x: win.x + 5, y: win.y + 5 }, ...keys] });
      expect(input.reply).toEqual({ ok: true });
    } finally {
      client?.kill();
      await client?.exited;
      weft.kill("SIGTERM");
    }
    expect(await weft.exited).toBe(0);
  });

  test("once start-up has settled, weft drops its start-up pages and keeps serving", async () => {
    using rt = tempRuntime();
    const env = { ...process.env, XDG_RUNTIME_DIR: rt.path, WEFT_LOG: "debug" };
    const weft = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd", "--socket", "wl-settle"], { env, stdout: "pipe", stderr: "pipe" });
    const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(require("node:fs").readFileSync(`/proc/${weft.pid}/status`, "utf8"))![1]);
    try {
      expect(await readLine(weft.stdout)).toBe("WAYLAND_DISPLAY=wl-settle");
      const before = rssKiB();
      const reader = weft.stderr.getReader();
      let log = "";
      const deadline = Date.now() + 15_000;
      while (!/released [\d.]+ MiB of start-up pages/.test(log)) {
        if (Date.now() > deadline) throw new Error(`no release logged: ${log}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`weft ended: ${log}`);
        log += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const mib = Number(/released ([\d.]+) MiB/.exec(log)![1]);
      expect(mib).toBeGreaterThan(5);
      expect(rssKiB()).toBeLessThan(before);
      // Still serving: a real client gets every global (their code is mapped again as it runs).
      const info = Bun.spawn(["wayland-info"], { env: { ...env, WAYLAND_DISPLAY: "wl-settle" }, stdout: "pipe", stderr: "pipe" });
      const out = await new Response(info.stdout).text();
      expect(await info.exited).toBe(0);
      for (const g of ["wl_compositor", "xdg_wm_base", "wl_seat", "zweft_shell_manager_v1"]) expect(out).toContain(g);
    } finally {
      weft.kill("SIGTERM");
    }
    expect(await weft.exited).toBe(0);
  });

  test("a stray SIGUSR1 or SIGUSR2 (no display session takes them headless) is said and ignored, not fatal", async () => {
    using rt = tempRuntime();
    const env = { ...process.env, XDG_RUNTIME_DIR: rt.path, WEFT_LOG: "warn" };
    const weft = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd", "--socket", "wl-usr"], { env, stdout: "pipe", stderr: "pipe" });
    try {
      expect(await readLine(weft.stdout)).toBe("WAYLAND_DISPLAY=wl-usr");
      const reader = weft.stderr.getReader();
      let log = "";
      for (const sig of ["SIGUSR1", "SIGUSR2"] as const) {
        weft.kill(sig);
        while (!log.includes(`${sig} ignored`)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`weft ended on ${sig}: ${log}`);
          log += new TextDecoder().decode(value);
        }
      }
      reader.releaseLock();
      expect(log).toContain("SIGUSR1 ignored: no display session takes it");
      // Still serving.
      const info = Bun.spawn(["wayland-info"], { env: { ...env, WAYLAND_DISPLAY: "wl-usr" }, stdout: "pipe", stderr: "pipe" });
      expect(await new Response(info.stdout).text()).toContain("wl_compositor");
      expect(await info.exited).toBe(0);
    } finally {
      weft.kill("SIGTERM");
    }
    expect(await weft.exited).toBe(0);
  });

  test("without XDG_RUNTIME_DIR, weft picks one and still serves a Wayland socket there", async () => {
    const env: Record<string, string | undefined> = { ...process.env, XDG_RUNTIME_DIR: undefined };
    const weft = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd"], { env, stdout: "pipe", stderr: "pipe" });
    try {
      const line = await readLine(weft.stdout);
      expect(line).toMatch(/^WAYLAND_DISPLAY=wayland-\d+$/);
      const err = await readLine(weft.stderr);
      const dir = err.match(/using (\S+) /)?.[1];
      expect(dir).toBeDefined();
      expect(existsSync(join(dir!, line.split("=")[1]))).toBe(true);
    } finally {
      weft.kill("SIGTERM");
    }
    expect(await weft.exited).toBe(0);
  });

  test("test input is refused unless enabled", async () => {
    using rt = tempRuntime();
    const env: Record<string, string | undefined> = { ...process.env, XDG_RUNTIME_DIR: rt.path, WEFT_TEST_INPUT: undefined };
    const weft = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd", "--socket", "wl-noinput"], { env, stdout: "pipe", stderr: "pipe" });
    try {
      expect(await readLine(weft.stdout)).toBe("WAYLAND_DISPLAY=wl-noinput");
      const { reply } = await controlRequest(join(rt.path, "weft", "compositor-wl-noinput.sock"), { op: "input", events: [{ type: "key", key: 30, pressed: true }] });
      expect(reply.ok).toBe(false);
      expect(String(reply.error)).toContain("disabled");
    } finally {
      weft.kill("SIGINT");
    }
    expect(await weft.exited).toBe(0);
  });
});
