// Test helpers for the compositor: an in-process compositor on a private
// runtime dir, real clients as child processes (always reaped), waiting on
// compositor events with deadlines (never sleeping), and pixel checks.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Compositor, type CompositorOptions } from "../../src/compositor/compositor.ts";
import type { View } from "../../src/compositor/scene.ts";
import type { Rect } from "../../src/compositor/geometry.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const HOSTILE = join(ROOT, "build", "clients", "hostile");
export const SHELLCLIENT = join(ROOT, "build", "clients", "shellclient");
export const FRAMECB = join(ROOT, "build", "clients", "framecb");

export interface Client {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  output(): Promise<string>;
}

export class Harness {
  readonly dir: string;
  readonly comp: Compositor;
  readonly env: Record<string, string>;
  private clients: Client[] = [];

  constructor(opts: CompositorOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "weft-comp-"));
    this.comp = new Compositor({ width: 1280, height: 720, ...opts, socket: join(this.dir, "wayland-test") });
    this.env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.dir,
      XDG_RUNTIME_DIR: this.dir,
      WAYLAND_DISPLAY: this.comp.socket,
      XDG_CONFIG_HOME: join(this.dir, "config"),
      XDG_CACHE_HOME: join(this.dir, "cache"),
      GDK_BACKEND: "wayland",
      NO_AT_BRIDGE: "1",
      GTK_A11Y: "none",
      LANG: "C.UTF-8",
      SHELL: "/bin/sh",
    };
  }

  /** Starts a client (stdin closed, output captured); it is killed at dispose. */
  spawn(argv: string[], env: Record<string, string> = {}): Client {
    const proc = Bun.spawn(argv, { env: { ...this.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let text: Promise<string> | null = null;
    const c: Client = {
      proc,
      pid: proc.pid,
      output: () => (text ??= Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then(([o, e]) => o + e)),
    };
    this.clients.push(c);
    return c;
  }

  /**
   * Starts a line-oriented client (build/clients/shellclient): `send` writes a
   * command to its stdin, `line(re)` waits for an output line matching `re`
   * (lines are consumed in order; earlier non-matching ones are skipped).
   */
  scripted(argv: string[]) {
    const proc = Bun.spawn(argv, { env: this.env, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    this.clients.push({ proc: proc as unknown as Client["proc"], pid: proc.pid, output: async () => "" });
    const lines: string[] = [];
    let wake = null as (() => void) | null;
    let ended = false;
    (async () => {
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += new TextDecoder().decode(chunk);
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        wake?.();
      }
      ended = true;
      wake?.();
    })();
    return {
      pid: proc.pid,
      proc,
      send(cmd: string) {
        proc.stdin.write(cmd + "\n");
        proc.stdin.flush();
      },
      async line(re: RegExp, deadlineMs = 10_000): Promise<string> {
        const end = Date.now() + deadlineMs;
        for (;;) {
          while (lines.length) {
            const l = lines.shift()!;
            if (re.test(l)) return l;
          }
          if (ended) throw new Error(`client ended before a line matching ${re}`);
          const left = end - Date.now();
          if (left <= 0) throw new Error(`no line matching ${re} within ${deadlineMs} ms`);
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, left);
            wake = () => (clearTimeout(t), (wake = null), resolve());
          });
        }
      },
    };
  }

  /** Runs a client to completion and returns its exit code and output. */
  async run(argv: string[], env: Record<string, string> = {}, deadlineMs = 20_000): Promise<{ code: number; out: string }> {
    const c = this.spawn(argv, env);
    const code = await deadline(c.proc.exited, deadlineMs, `${argv[0]} did not exit`);
    return { code, out: await c.output() };
  }

  /** Resolves once `check()` holds, re-checking on every compositor event; rejects at the deadline. */
  waitFor<T>(what: string, check: () => T | null | undefined | false, deadlineMs = 15_000): Promise<T> {
    const first = check();
    if (first) return Promise.resolve(first);
    const events = ["map", "unmap", "focus", "frame", "selection", "move", "resize", "commit"];
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        for (const e of events) this.comp.events.off(e, on);
      };
      const on = () => {
        const v = check();
        if (v) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, deadlineMs);
      for (const e of events) this.comp.events.on(e, on);
    });
  }

  /** The mapped toplevel (or weft window) of the client with this pid. */
  windowOf(pid: number): View | undefined {
    return this.comp.scene.views.find((v) => v.mapped && (v.kind === "toplevel" || v.kind === "weft") && v.surface.client.pid === pid);
  }

  /** Waits for a client's window to be mapped with content and for one frame to show it. */
  async mapped(c: Client, deadlineMs = 20_000): Promise<View> {
    const v = await Promise.race([
      this.waitFor(`window of pid ${c.pid}`, () => this.windowOf(c.pid), deadlineMs),
      c.proc.exited.then(async (code) => {
        throw new Error(`client ${c.pid} exited (${code}) before mapping:\n${await c.output()}`);
      }),
    ]);
    await this.comp.nextFrame();
    return v;
  }

  /** Resolves once the client has committed nothing for `frames` consecutive frames. */
  async idle(pid: number, frames = 6, deadlineMs = 15_000): Promise<void> {
    let quiet = 0;
    const onCommit = (s: { client: { pid: number } }) => {
      if (s.client.pid === pid) quiet = 0;
    };
    this.comp.events.on("commit", onCommit);
    try {
      const end = Date.now() + deadlineMs;
      while (quiet < frames) {
        if (Date.now() > end) throw new Error(`client ${pid} never went idle`);
        await this.comp.nextFrame();
        quiet++;
      }
    } finally {
      this.comp.events.off("commit", onCommit);
    }
  }

  /** Renders and returns the output's pixels now. */
  pixels() {
    this.comp.screenshot();
    return this.comp.snapshot();
  }

  async dispose(): Promise<void> {
    for (const c of this.clients) c.proc.kill("SIGKILL");
    await Promise.all(this.clients.map((c) => c.proc.exited));
    this.comp.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** BGRX pixel at (x, y) as 0xRRGGBB. */
export function pixel(snap: { width: number; pixels: Uint8Array }, x: number, y: number): number {
  const i = (y * snap.width + x) * 4;
  return (snap.pixels[i + 2] << 16) | (snap.pixels[i + 1] << 8) | snap.pixels[i];
}

/** Colour statistics of a rectangle: distinct colours and the share of pixels unlike `bg`. */
export function stats(snap: { width: number; height: number; pixels: Uint8Array }, r: Rect, bg: number) {
  const colours = new Set<number>();
  let differing = 0;
  let total = 0;
  for (let y = Math.max(0, r.y); y < Math.min(snap.height, r.y + r.height); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(snap.width, r.x + r.width); x++) {
      const p = pixel(snap, x, y);
      colours.add(p);
      if (p !== bg) differing++;
      total++;
    }
  }
  return { colours: colours.size, differing: total ? differing / total : 0, total };
}

/** How many pixels differ between two snapshots inside r. */
export function diff(a: { width: number; pixels: Uint8Array }, b: { width: number; pixels: Uint8Array }, r: Rect): number {
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) if (pixel(a, x, y) !== pixel(b, x, y)) n++;
  return n;
}

/** The background colour weft clears to (0xRRGGBB). */
export function background(comp: Compositor): number {
  // pixman takes 16-bit channels and keeps their top 8 bits.
  const [r, g, b] = comp.scene.background.map((c) => Math.round(c * 0xffff) >> 8);
  return (r << 16) | (g << 8) | b;
}

export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** evdev keycodes for typing plain text on the default US keymap. */
const KEYS: Record<string, number> = {
  q: 16, w: 17, e: 18, r: 19, t: 20, y: 21, u: 22, i: 23, o: 24, p: 25,
  a: 30, s: 31, d: 32, f: 33, g: 34, h: 35, j: 36, k: 37, l: 38,
  z: 44, x: 45, c: 46, v: 47, b: 48, n: 49, m: 50,
  "1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
  " ": 57, "\n": 28, "-": 12, ".": 52, "/": 53,
};
export function keysFor(text: string): number[] {
  return [...text].map((ch) => {
    const k = KEYS[ch];
    if (k === undefined) throw new Error(`no key for ${JSON.stringify(ch)}`);
    return k;
  });
}

export function tempRuntime(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "weft-rt-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}
