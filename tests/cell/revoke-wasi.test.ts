// [[dir]] grants that are also WASI preopens follow the epoch (Preview 1
// modules, docs/decisions/0007): after a revoke every libc use of them — a
// file kept open, a new open by path, a listing — fails with ENOTCAPABLE,
// while the image at `/` stays; a service's next run gets fresh ones. A
// component gets a [[dir]] as a WASI directory only when etc/ marks it
// `wasi = true`, and then keeps it (the decision's documented limit);
// `wasi = false` keeps a directory out of WASI altogether.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionManager } from "../../src/appd/sessions.ts";
import { guestBytes, ROOT } from "../helpers.ts";
import { CELLCTL, cellctlHarness, until } from "./helpers.ts";

const { dir, start, cleanups } = cellctlHarness("weft-cell-revoke-wasi-");
const DIR_WATCH_COMPONENT = join(ROOT, "tests", "cell", "build", "dir_watch.component.wasm");

async function watchImage(name: string, opts: { wasi?: boolean; component?: boolean } = {}): Promise<{ img: string; data: string }> {
  const img = join(dir.path, name);
  const data = join(dir.path, `${name}-data`);
  mkdirSync(join(img, "bin"), { recursive: true });
  mkdirSync(join(img, "etc"), { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "f.txt"), "data");
  writeFileSync(join(img, "bin", "main.wasm"), opts.component ? readFileSync(DIR_WATCH_COMPONENT) : await guestBytes("dir_watch"));
  writeFileSync(join(img, "etc", "cell.toml"), `[[dir]]\nhost = "${data}"\nguest = "/data"\nmode = "rw"\n${opts.wasi === undefined ? "" : `wasi = ${opts.wasi}\n`}`);
  return { img, data };
}


const REVOKED = "pread (open before): Capabilities insufficient\nopen: Capabilities insufficient\nlist: Capabilities insufficient\nclose: ok\nroot: ok\n";

describe("WASI [[dir]] preopens and the epoch", () => {
  test("pid0's preopen, and a file it opened through it, fail after a revoke; the image root does not", async () => {
    const { img } = await watchImage("pid0");
    const c = await start([img], ["/data", "f.txt"]);
    await c.waitFor("watching 1\n");
    expect(c.cell.advanceEpoch()).toBe(2);
    expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 0 });
    expect(c.output()).toMatch(new RegExp(`^(watching \\d+\\n)+${REVOKED.replace(/[()]/g, "\\$&")}$`));
  }, 30_000);

  test("until then a revocable directory behaves exactly like any preopen (files, escapes)", async () => {
    const { img, data } = await watchImage("same");
    writeFileSync(join(img, "bin", "main.wasm"), await guestBytes("files"));
    mkdirSync(join(data, "w"));
    let c = await start([img], ["/data/w"]);
    await c.cell.exited;
    expect(c.output()).toBe("entry b.txt\nentry sub\nsize 5\nok\n");
    expect(readFileSync(join(data, "w", "b.txt"), "utf8")).toBe("alpha");
    expect(readFileSync(join(data, "w", "sub", "c.txt"), "utf8")).toBe("gamma");
    writeFileSync(join(img, "bin", "main.wasm"), await guestBytes("escape"));
    c = await start([img], ["/data"]);
    expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 0 });
    expect(c.output()).not.toContain("OPENED");
  }, 30_000);

  test("no fd obtained through a revocable preopen outlives the revoke: renumbered onto itself, moved, polled", async () => {
    const { img } = await watchImage("tricks");
    writeFileSync(join(img, "bin", "main.wasm"), await guestBytes("revoke_tricks"));
    const c = await start([img], ["/data", "f.txt"]);
    await c.waitFor("ready\n");
    c.cell.advanceEpoch();
    expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 0 });
    expect(c.output()).toBe(
      "renumber self: 0\nrenumber preopen self: 0\nrenumber to 100: 8\nrenumber over image fd: 0\nready\n" +
        "self-renumbered file: refused\nself-renumbered preopen: refused\nfile renumbered to 100: refused\n" +
        "file renumbered over image fd: refused\npoll: refused\n",
    );
  }, 30_000);

  test("a service's run is revoked too; its next run gets fresh preopens", async () => {
    const { img, data } = await watchImage("svc");
    mkdirSync(join(img, "svc", "w", "bin"), { recursive: true });
    mkdirSync(join(img, "svc", "w", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "w", "bin", "main.wasm"), await guestBytes("dir_watch"));
    writeFileSync(join(img, "svc", "w", "etc", "cell.toml"), `[service]\nrestart = "always"\nargs = ["/d", "f.txt"]\n[[dir]]\nhost = "${data}"\nguest = "/d"\n`);
    writeFileSync(join(img, "bin", "main.wasm"), await guestBytes("sleep_loop")); // pid0 stays (its end would end the cell)
    const mgr = new SessionManager({ backoffMs: () => 10 });
    const c = await start([img], ["0"], mgr);
    const [w] = c.cell.services;
    const text = () => w.log.map((l) => l.text).join("\n") + "\n";
    await until((fn) => mgr.on(fn), () => text().includes("watching 1\n"), "the service to watch");
    c.cell.advanceEpoch();
    await until((fn) => mgr.on(fn), () => w.restarts === 1 && text().endsWith("root: ok\nwatching 1\n"), "the service's fresh run", 20_000).catch((e) => {
      throw new Error(`${e.message}: restarts ${w.restarts}, state ${w.state}, log:\n${text()}`);
    });
    expect(text()).toMatch(new RegExp(`^(watching \\d+\\n)+${REVOKED.replace(/[()]/g, "\\$&")}watching 1\\n$`));
    expect(c.cell.pid0.running).toBe(true);
  }, 30_000);

  test("a component keeps the WASI directories its etc/ marks wasi = true after a revoke (decision 0007's limit)", async () => {
    const { img } = await watchImage("component", { component: true, wasi: true });
    const c = await start([img], ["/data", "f.txt"]);
    await c.waitFor("watching 1\n");
    expect(c.cell.advanceEpoch()).toBe(2);
    const after = Number(c.output().trim().split(" ").at(-1)) + 2; // a whole round of 20 uses after the revoke
    await c.waitFor(`watching ${after}\n`);
    expect(c.output()).toMatch(/^(watching \d+\n)+$/);
  }, 30_000);

  for (const [what, opts] of [
    ["a component and an unmarked [[dir]]: no preopen, only a weft:cell capability (whose handles the epoch revokes: grants.test.ts)", { component: true }],
    ["wasi = false: the directory is no preopen, only a weft:cell capability", { wasi: false }],
  ] as const) {
    test(what, async () => {
      const { img } = await watchImage(`nowasi-${opts.component ? "component" : "module"}`, opts);
      let c = await start([img], ["/data", "f.txt"]);
      expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 1 });
      expect(c.output()).toBe("open /data/f.txt: No such file or directory\n");
      writeFileSync(join(img, "bin", "main.wasm"), readFileSync(CELLCTL));
      c = await start([img], ["read", "/data", "f.txt"]);
      await c.cell.exited;
      expect(c.output()).toBe("data");
    }, 30_000);
  }
});
