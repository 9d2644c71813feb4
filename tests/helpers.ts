// Shared test helpers: guest paths, temp dirs, running guests and the CLI.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModule } from "../src/runtime/cache.ts";
import type { ExitStatus } from "../src/runtime/exit.ts";
import { Guest, type GuestOptions } from "../src/runtime/guest.ts";

export const ROOT = join(import.meta.dir, "..");
export const WEFT = join(ROOT, "bin", "weft.ts");

export function guestPath(name: string): string {
  return join(ROOT, "tests", "guests", "build", `${name}.wasm`);
}

export async function guestBytes(name: string): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(guestPath(name)).arrayBuffer());
}

/** A temp dir removed by `using`. */
export function tempDir(prefix = "weft-test-"): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export interface Ran {
  status: ExitStatus;
  stdout: string;
  stderr: string;
}

/** Starts a guest with captured output. */
export async function startGuest(name: string, opts: Partial<GuestOptions> = {}) {
  const module = loadModule(await guestBytes(name), { fuel: opts.fuel !== undefined });
  const out: Record<"stdout" | "stderr", Uint8Array[]> = { stdout: [], stderr: [] };
  const waiters: { stream: "stdout" | "stderr"; needle: string; resolve: () => void }[] = [];
  const text = (s: "stdout" | "stderr") => Buffer.concat(out[s]).toString("utf8");
  const guest = new Guest(module, {
    argv: [name],
    stdout: "capture",
    stderr: "capture",
    ...opts,
    onOutput: (s, b) => {
      out[s].push(b);
      opts.onOutput?.(s, b);
      for (const w of [...waiters]) {
        if (w.stream === s && text(s).includes(w.needle)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
  });
  /** Resolves once `needle` has appeared on `stream`; rejects at the deadline or if the guest ends first. */
  const waitFor = (stream: "stdout" | "stderr", needle: string, deadlineMs = 10_000): Promise<void> => {
    if (text(stream).includes(needle)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${needle}' on ${stream} within ${deadlineMs} ms`)), deadlineMs);
      waiters.push({ stream, needle, resolve: () => (clearTimeout(timer), resolve()) });
      guest.exited.then((st) => {
        if (!text(stream).includes(needle)) (clearTimeout(timer), reject(new Error(`guest ended (${st.kind}) before '${needle}' on ${stream}`)));
      });
    });
  };
  return { guest, text, waitFor };
}

export async function runGuest(name: string, opts: Partial<GuestOptions> = {}): Promise<Ran> {
  const { guest, text } = await startGuest(name, opts);
  const status = await guest.exited;
  return { status, stdout: text("stdout"), stderr: text("stderr") };
}

/** Runs the weft CLI as a separate process, as a user would. */
export async function weft(args: string[], opts: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}) {
  const proc = Bun.spawn(["bun", WEFT, ...args], {
    stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
