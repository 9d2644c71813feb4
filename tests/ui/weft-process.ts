// A real `weft run --no-compositor` for the browser tests: its own HOME,
// config, runtime dir and app store (all temp), HTTP on port 0. First start
// installs the bundled example apps, signed with the checkout's examples key
// (scripts/build-examples.sh), and trusts that key in the temp config.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { tempDir, WEFT } from "../helpers.ts";

export interface WeftProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** e.g. http://127.0.0.1:40123 (no trailing slash) */
  base: string;
  port: number;
  token: string;
  home: string;
  env: Record<string, string>;
  /** Every line weft wrote to stderr so far (its log). */
  log: string[];
  stop(): Promise<void>;
}

export function weftEnv(dir: string): Record<string, string> {
  const env = {
    HOME: join(dir, "home"),
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_RUNTIME_DIR: join(dir, "run"),
    XDG_CACHE_HOME: join(dir, "cache"),
    WEFT_LOG: "info",
  };
  mkdirSync(env.HOME, { recursive: true });
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  return env;
}

/** Starts weft with `env` (weftEnv) and resolves once it serves (it prints APPD_URL after installing the bundled apps). */
export async function startWeft(env: Record<string, string>, port = 0, deadlineMs = 20_000): Promise<WeftProcess> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const k of ["WEFT_APP_STORE", "WEFT_TRUSTED_KEYS", "WEFT_APPD_SOCKET", "WEFT_APPD_WS_PORT"]) delete childEnv[k];
  const proc = Bun.spawn(["bun", WEFT, "run", "--no-compositor", "--http-port", String(port)], { env: childEnv, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const log: string[] = [];
  (async () => {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of proc.stderr) {
      rest += dec.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      log.push(...lines);
    }
  })();
  const reader = proc.stdout.getReader();
  let out = "";
  const timer = setTimeout(() => proc.kill(), deadlineMs);
  try {
    while (!/APPD_URL=(\S+)\n/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`weft exited before serving (exit ${await proc.exited}):\n${log.join("\n")}`);
      out += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const base = /APPD_URL=(\S+)\n/.exec(out)![1].replace(/\/$/, "");
  port = Number(new URL(base).port);
  const token = readFileSync(join(env.XDG_RUNTIME_DIR, "weft", "appd.token"), "utf8");
  return {
    proc,
    base,
    port,
    token,
    home: env.HOME,
    env,
    log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

export { tempDir };
