// Helpers for the system tests: a real sd_notify peer, the single-file build
// (made once per test run), and a weft process read line by line.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";

/** Debian's python3 (a pyenv shim on PATH costs ~300 ms per start). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export interface Datagram {
  ms: number;
  msg: string;
}

/**
 * A Unix datagram socket bound by python3 (a peer that is not weft's own
 * code) at `path`; collects every datagram it receives.
 */
export async function notifyPeer(path: string) {
  const proc = Bun.spawn([PYTHON, join(import.meta.dir, "notify-peer.py"), path], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const got: Datagram[] = [];
  const waiters: { pred: (d: Datagram[]) => boolean; resolve: () => void }[] = [];
  const lines = readLines(proc.stdout);
  const first = await lines.next();
  if (first.value !== "BOUND") throw new Error(`notify peer did not start (${String(first.value)})`);
  (async () => {
    for await (const line of lines) {
      got.push(JSON.parse(line) as Datagram);
      for (const w of [...waiters]) if (w.pred(got)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    }
  })();
  return {
    path,
    got,
    /** Resolves once `pred` holds for what arrived so far; rejects at the deadline. */
    until(pred: (d: Datagram[]) => boolean, what: string, ms = 10_000): Promise<void> {
      if (pred(got)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(got.map((d) => d.msg))}`)), ms);
        waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async [Symbol.asyncDispose]() {
      proc.stdin.end();
      await proc.exited;
    },
  };
}

/** Lines of a byte stream. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

/** The fields of one notify datagram, in order. */
export function fields(msg: string): [string, string][] {
  return msg
    .split("\n")
    .filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]);
}

let built: Promise<{ path: string; ms: number }> | null = null;
let buildDir: string | null = null;
process.on("exit", () => buildDir && rmSync(buildDir, { recursive: true, force: true }));

/** `bun scripts/build.ts` into a temp dir, once per test process. */
export function buildOnce(): Promise<{ path: string; ms: number }> {
  built ??= (async () => {
    buildDir = mkdtempSync(join(tmpdir(), "weft-dist-"));
    const out = join(buildDir, "weft");
    const t0 = performance.now();
    const p = Bun.spawn(["bun", join(ROOT, "scripts", "build.ts"), "--outfile", out, "--quiet"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    if (code !== 0) throw new Error(`build failed (${code}): ${err}`);
    return { path: out, ms: performance.now() - t0 };
  })();
  return built;
}
