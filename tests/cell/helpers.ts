// Building cell images on disk from the repo's guests, and running them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cell, type CellOptions } from "../../src/cell/cell.ts";
import { openImage } from "../../src/cell/image.ts";
import type { ExitStatus } from "../../src/runtime/exit.ts";
import { guestBytes, ROOT } from "../helpers.ts";

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
