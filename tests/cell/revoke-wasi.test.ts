// What an epoch advance does to WASI preopens (docs/decisions/0007): a
// [[dir]] that is also a preopen (wasi = true, the default) stays usable by
// the running process through libc — a kept fd, a new open by path, a
// listing — while its weft:cell handles go stale; `wasi = false` keeps a
// directory out of WASI altogether, so it is reachable (and revocable) only
// through weft:cell.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { guestBytes } from "../helpers.ts";
import { CELLCTL, cellctlHarness } from "./helpers.ts";

const { dir, start } = cellctlHarness("weft-cell-revoke-wasi-");

async function watchImage(name: string, wasi: boolean): Promise<string> {
  const img = join(dir.path, name);
  const data = join(dir.path, `${name}-data`);
  mkdirSync(join(img, "bin"), { recursive: true });
  mkdirSync(join(img, "etc"), { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "f.txt"), "data");
  writeFileSync(join(img, "bin", "main.wasm"), await guestBytes("dir_watch"));
  writeFileSync(join(img, "etc", "cell.toml"), `[[dir]]\nhost = "${data}"\nguest = "/data"\nmode = "rw"\nwasi = ${wasi}\n`);
  return img;
}

describe("WASI [[dir]] preopens and the epoch", () => {
  test("a preopen is fixed for the run: still usable after a revoke (the documented limit)", async () => {
    const img = await watchImage("kept", true);
    const c = await start([img], ["/data", "f.txt"]);
    await c.waitFor("watching 1\n");
    expect(c.cell.advanceEpoch()).toBe(2);
    const at = c.output().length;
    const next = `watching ${Number(c.output().trim().split(" ").at(-1)) + 2}\n`; // a whole round of 20 uses after the revoke
    await c.waitFor(next);
    expect(c.output().slice(at)).toMatch(/^(watching \d+\n)+$/);
  }, 30_000);

  test("wasi = false: the directory is no preopen, only a weft:cell capability", async () => {
    const img = await watchImage("nowasi", false);
    let c = await start([img], ["/data", "f.txt"]);
    expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 1 });
    expect(c.output()).toBe("open /data/f.txt: No such file or directory\n");
    writeFileSync(join(img, "bin", "main.wasm"), readFileSync(CELLCTL));
    c = await start([img], ["read", "/data", "f.txt"]);
    await c.cell.exited;
    expect(c.output()).toBe("data");
  }, 30_000);
});
