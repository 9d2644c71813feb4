// `weft run` runs under the daemon's JSC settings: it starts itself once
// more, in place (same PID), with them in its environment; a user's own
// values win; nothing else is started twice.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execTuned, replayedFlags, RUN_TUNING, tunedEnv } from "../../src/system/runtime-tuning.ts";

const WEFT = join(import.meta.dir, "../../bin/weft.ts");

test("the tuned environment adds the settings the user has not set, and marks itself", () => {
  const env = tunedEnv({ PATH: "/bin", BUN_JSC_useFTLJIT: "1", GONE: undefined });
  expect(env.PATH).toBe("/bin");
  expect(env.BUN_JSC_useFTLJIT).toBe("1");
  expect(env.BUN_JSC_thresholdForOptimizeAfterWarmUp).toBe(RUN_TUNING.BUN_JSC_thresholdForOptimizeAfterWarmUp);
  expect(env.WEFT_TUNED).toBe("1");
  expect("GONE" in env).toBe(false);
});

test("this Bun accepts every setting (an unknown JSC option stops Bun before any code runs)", async () => {
  const p = Bun.spawn([process.execPath, "-e", "console.log('ran')"], { env: { ...process.env, ...RUN_TUNING }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect({ out, err, code }).toEqual({ out: "ran\n", err: "", code: 0 });
});

test("Bun's flags are given again, less --cwd (already applied) and those BUN_OPTIONS applies again", () => {
  expect(replayedFlags(["--smol", "--cwd", "sub", "--cwd=x", "--inspect"])).toEqual(["--smol", "--inspect"]);
  expect(replayedFlags(["--smol", "--preload", "./p.ts", "--smol"], "--smol  --preload ./p.ts")).toEqual(["--smol"]);
  expect(replayedFlags([])).toEqual([]);
});

const TUNING = JSON.stringify(join(import.meta.dir, "../../src/system/runtime-tuning.ts"));
async function child(code: string, env: Record<string, string> = {}): Promise<{ out: string; err: string; code: number }> {
  const e: Record<string, string> = { ...(process.env as Record<string, string>), ...env };
  delete e.WEFT_TUNED;
  const p = Bun.spawn([process.execPath, "-e", code], { env: e, stdout: "pipe", stderr: "pipe" });
  const [out, err, c] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code: c };
}

test("an execve that fails leaves weft running untuned, with a warning", async () => {
  const r = await child(`
    import { execTuned } from ${TUNING};
    Object.defineProperty(process, "execPath", { value: "/nonexistent/bun" });
    execTuned(["run"], (m) => console.log("warned: " + m));
    console.log("continued, WEFT_TUNED=" + process.env.WEFT_TUNED);
  `);
  expect(r.code).toBe(0);
  expect(r.out).toContain("warned: weft run: running without the daemon's JSC and allocator settings: cannot start /nonexistent/bun again");
  expect(r.out).toContain("continued, WEFT_TUNED=0");
});

test("a socket-activated start (LISTEN_FDS) is not started again: its sockets would not survive", async () => {
  const r = await child(`
    import { execTuned } from ${TUNING};
    execTuned(["run"], (m) => console.log("warned: " + m));
    console.log("continued, WEFT_TUNED=" + process.env.WEFT_TUNED);
  `, { LISTEN_FDS: "1", LISTEN_PID: "0" });
  expect(r).toMatchObject({ code: 0, out: "continued, WEFT_TUNED=undefined\n" });
});

test("commands other than run are not started again", () => {
  // Were it to exec, this test process would be replaced and the suite would notice.
  execTuned(["pack", "--help"]);
  execTuned([]);
  expect(true).toBe(true);
});

let dir = "";
let proc: ReturnType<typeof Bun.spawn> | null = null;
afterEach(async () => {
  proc?.kill("SIGKILL");
  await proc?.exited;
  proc = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

async function startRun(extraEnv: Record<string, string>): Promise<Record<string, string>> {
  dir = mkdtempSync(join(tmpdir(), "weft-tuning-"));
  const env: Record<string, string> = { ...(process.env as Record<string, string>), XDG_RUNTIME_DIR: dir, ...extraEnv };
  delete env.WEFT_TUNED;
  if (extraEnv.WEFT_TUNED) env.WEFT_TUNED = extraEnv.WEFT_TUNED;
  for (const k of Object.keys(RUN_TUNING)) if (!(k in extraEnv)) delete env[k];
  proc = Bun.spawn(["bun", WEFT, "run", "--headless", "--no-appd", "--socket", "wl-tuning"], { env, stdout: "pipe", stderr: "ignore" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = Date.now() + 15_000;
  while (!out.includes("WAYLAND_DISPLAY=")) {
    if (Date.now() > deadline) throw new Error(`weft run did not start: ${out}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`weft run ended: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  // The PID we started is the one serving, with the settings in its environment.
  const environ = readFileSync(`/proc/${proc.pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(environ.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

test("weft run serves from the same PID under the settings; the user's own value wins", async () => {
  const env = await startRun({ BUN_JSC_useFTLJIT: "1" });
  expect(env.WEFT_TUNED).toBe("1");
  expect(env.BUN_JSC_useFTLJIT).toBe("1");
  expect(env.BUN_JSC_thresholdForJITAfterWarmUp).toBe(RUN_TUNING.BUN_JSC_thresholdForJITAfterWarmUp);
  expect(env.BUN_JSC_thresholdForOptimizeAfterWarmUp).toBe(RUN_TUNING.BUN_JSC_thresholdForOptimizeAfterWarmUp);
  expect(env.MIMALLOC_PURGE_HOLES_MIN_INTERVAL).toBe(RUN_TUNING.MIMALLOC_PURGE_HOLES_MIN_INTERVAL);
});

test("WEFT_TUNED=0 runs weft as started, without the settings", async () => {
  const env = await startRun({ WEFT_TUNED: "0" });
  expect(env.WEFT_TUNED).toBe("0");
  for (const k of Object.keys(RUN_TUNING)) expect(env[k]).toBeUndefined();
});
