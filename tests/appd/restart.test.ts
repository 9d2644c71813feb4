// A real weft process: start, launch, SIGTERM (saves), start again (restores).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir, WEFT } from "../helpers.ts";
import { unixClient } from "./unix-client.ts";

/** Starts `weft run --no-compositor` and resolves with its appd socket path once it prints it. */
async function startWeft(env: Record<string, string>) {
  const proc = Bun.spawn(["bun", WEFT, "run", "--no-compositor", "--http-port", "0"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = setTimeout(() => proc.kill(), 15_000);
  while (!/APPD_SOCKET=(.*)\n/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`weft exited before serving: ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  clearTimeout(deadline);
  reader.releaseLock();
  return { proc, socket: /APPD_SOCKET=(.*)\n/.exec(out)![1] };
}

async function untilState(c: Awaited<ReturnType<typeof unixClient>>, sid: number, state: string, ms = 10_000) {
  const end = performance.now() + ms;
  for (;;) {
    const r = await c.request({ type: "QUERY_APP_STATE", session_id: sid });
    if (r.type === "APP_STATE" && r.state === state) return;
    if (performance.now() > end) throw new Error(`session ${sid} never became ${state} (last: ${JSON.stringify(r)})`);
  }
}

describe("weft run across a restart", () => {
  test("running apps are saved on SIGTERM and relaunched by the next start; the bundled app was installed on first start", async () => {
    using dir = tempDir();
    // XDG_CONFIG_HOME: first start trusts the bundled apps' key there (not in the real user's config).
    const env = { XDG_RUNTIME_DIR: join(dir.path, "run"), WEFT_APP_STORE: join(dir.path, "store"), XDG_CONFIG_HOME: join(dir.path, "config"), WEFT_LOG: "warn" };
    mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    const first = await startWeft(env);
    try {
      const c = await unixClient(first.socket);
      const installed = await c.request({ type: "QUERY_INSTALLED_APPS" });
      expect(installed.type === "INSTALLED_APPS" && installed.apps.map((a) => a.app_id).sort()).toEqual(["org.weft.example.counter", "org.weft.example.fetcher", "org.weft.example.hello", "org.weft.example.notes"]);
      expect(await c.request(["LAUNCH_APP", "org.weft.example.hello", 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 1 });
      await untilState(c, 1, "running");
      await c.close();
    } finally {
      first.proc.kill("SIGTERM");
      expect(await first.proc.exited).toBe(0);
    }
    expect(existsSync(join(env.XDG_RUNTIME_DIR, "weft", "last-session.json"))).toBe(true);
    const second = await startWeft(env);
    try {
      const c = await unixClient(second.socket);
      await untilState(c, 1, "running");
      expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [{ session_id: 1, app_id: "org.weft.example.hello" }] });
      await c.close();
    } finally {
      second.proc.kill("SIGTERM");
      await second.proc.exited;
    }
  }, 40_000);
});
