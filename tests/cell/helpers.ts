// Building cell images on disk from the repo's guests, and running them.
import { afterAll, afterEach } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SessionManager } from "../../src/appd/sessions.ts";
import { Cell, type CellOptions } from "../../src/cell/cell.ts";
import { openImage } from "../../src/cell/image.ts";
import type { ExitStatus } from "../../src/runtime/exit.ts";
import { guestBytes, ROOT, tempDir } from "../helpers.ts";

export const componentPath = (name: string) => join(ROOT, "tests", "components", "build", `${name}.component.wasm`);

/** Writes files under `root`; a value `{ guest: name }` copies tests/guests/build/<name>.wasm. */
export async function image(root: string, files: Record<string, string | Uint8Array | { guest: string } | { component: string }>): Promise<string> {
  for (const [rel, v] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    const data =
      typeof v === "string" || v instanceof Uint8Array
        ? v
        : "guest" in v
          ? await guestBytes(v.guest)
          : new Uint8Array(await Bun.file(componentPath(v.component)).arrayBuffer());
    writeFileSync(join(root, rel), data);
  }
  return root;
}

export interface RanCell {
  status: ExitStatus;
  stdout: string;
  stderr: string;
}

/** Opens and runs an image with captured pid0 output; closes it after. */
export async function runCell(layers: string[], args: string[] = [], opts: CellOptions = {}): Promise<RanCell> {
  const img = await openImage(layers);
  const out = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  try {
    const cell = await Cell.start(img, { stdin: "none", stdout: "capture", stderr: "capture", onOutput: (s, b) => out[s].push(b), args, ...opts });
    const status = await cell.exited;
    return { status, stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() };
  } finally {
    await img.close();
  }
}

/** Resolves when `pred()` holds, checking on every event `subscribe` reports; rejects at the deadline. */
export function until(subscribe: (fn: () => void) => () => void, pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`timed out waiting for ${what}`))), ms);
    const off = subscribe(() => {
      if (!pred()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export const CELLCTL = join(ROOT, "tests", "cell", "build", "cellctl.component.wasm");

/**
 * For test files driving tests/cell/guests/cellctl.c as pid0: a temp dir and
 * cleanups registered with the file's afterEach/afterAll (call at top level).
 */
export function cellctlHarness(prefix: string) {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const dir = tempDir(prefix);
  afterAll(() => dir[Symbol.dispose]());

  /** An image whose pid0 is cellctl, with host dir `data` rw as "/data", its own bin/ as "/self", and "web" = localhost. */
  function cellImage(name: string, extraToml = "", limits = "children_mib = 256"): { img: string; data: string } {
    const img = join(dir.path, name);
    const data = join(dir.path, `${name}-data`);
    mkdirSync(join(img, "bin"), { recursive: true });
    mkdirSync(join(img, "etc"), { recursive: true });
    mkdirSync(join(data, "inner"), { recursive: true });
    writeFileSync(join(data, "f.txt"), "top secret");
    writeFileSync(join(data, "inner", "g.txt"), "inner file");
    writeFileSync(join(img, "bin", "main.wasm"), readFileSync(CELLCTL));
    writeFileSync(
      join(img, "etc", "cell.toml"),
      `[limits]\n${limits}\n[[dir]]\nhost = "${data}"\nguest = "/data"\nmode = "rw"\n[[dir]]\nhost = "${join(img, "bin")}"\nguest = "/self"\n[[net]]\nname = "web"\ndomains = ["localhost"]\n${extraToml}`,
    );
    return { img, data };
  }

  /** Starts a cell with captured pid0 output; `waitFor` resolves when text appears (deadline). */
  async function start(layers: string[], args: string[], sessions?: SessionManager) {
    const img = await openImage(layers);
    let out = "";
    const waiters: { needle: string; resolve: () => void }[] = [];
    let cell: Cell;
    try {
      cell = await Cell.start(img, {
        stdin: "none",
        stdout: "capture",
        stderr: "capture",
        args,
        sessions,
        onOutput: (_s, b) => {
          out += new TextDecoder().decode(b);
          for (const w of [...waiters]) if (out.includes(w.needle)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
        },
      });
    } catch (e) {
      await img.close();
      throw e;
    }
    cleanups.push(async () => {
      cell.stop();
      await cell.exited;
      await img.close();
    });
    const waitFor = (needle: string, ms = 20_000) =>
      out.includes(needle)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`no '${needle}' within ${ms} ms; output so far:\n${out}`)), ms);
            waiters.push({ needle, resolve: () => (clearTimeout(t), resolve()) });
          });
    return { cell, waitFor, output: () => out };
  }

  async function run(layers: string[], ...args: string[]) {
    const c = await start(layers, args);
    const status = await c.cell.exited;
    return { status, out: c.output(), cell: c.cell };
  }

  return { dir, cellImage, start, run, cleanups };
}
