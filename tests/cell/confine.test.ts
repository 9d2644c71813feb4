// weft:cell's fs is resolved by the kernel beneath the capability's
// directory (openat2 RESOLVE_BENEATH): symlinks that lead out are refused at
// the moment of the open, so swapping a path component for such a symlink
// while a guest reads (the check-then-open race) never reaches outside.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readBeneath } from "../../src/cell/beneath.ts";
import { cellctlHarness } from "./helpers.ts";

const { dir, cellImage, start, run, cleanups } = cellctlHarness("weft-cell-confine-");

describe("fs beneath the directory", () => {
  test("a read is bounded by the bytes read, not by the size the file reported (it can grow meanwhile; procfs says 0)", async () => {
    const grant = { kind: "dir", host: "/proc/self", readOnly: true } as const;
    const whole = await readBeneath(grant, "smaps");
    expect(whole.length).toBeGreaterThan(8192); // what the bound must cut (this process's memory map)
    await expect(readBeneath(grant, "smaps", 4096)).rejects.toThrow("smaps: more than 4096 bytes (at most 4096)");
    expect((await readBeneath(grant, "smaps", whole.length * 4)).length).toBeGreaterThan(8192);
  });

  test("symlinks out (absolute, relative, dangling for a write) are refused; symlinks inside work", async () => {
    const { img, data } = cellImage("links");
    const secret = join(dir.path, "secret");
    mkdirSync(secret);
    writeFileSync(join(secret, "s.txt"), "OUTSIDE");
    symlinkSync(secret, join(data, "abs"));
    symlinkSync("../secret", join(data, "rel"));
    symlinkSync("../created-outside.txt", join(data, "dangling"));
    symlinkSync("inner/g.txt", join(data, "inlink"));
    expect((await run([img], "read", "/data", "abs/s.txt")).out).toBe(`read error: "abs/s.txt" leads outside the directory\n`);
    expect((await run([img], "read", "/data", "rel/s.txt")).out).toBe(`read error: "rel/s.txt" leads outside the directory\n`);
    expect((await run([img], "list", "/data", "rel")).out).toBe(`list error: "rel" leads outside the directory\n`);
    expect((await run([img], "write", "/data", "dangling", "x")).out).toBe(`write error: "dangling" leads outside the directory\n`);
    expect(existsSync(join(dir.path, "created-outside.txt"))).toBe(false);
    expect((await run([img], "read", "/data", "inlink")).out).toBe("inner file");
    expect((await run([img], "list", "/data", "inner")).out).toBe("g.txt\n");
  }, 60_000);

  test("a component swapped for a symlink out while a guest reads through it never leads out", async () => {
    const { img, data } = cellImage("swap");
    const secret = join(dir.path, "swap-secret");
    mkdirSync(secret);
    writeFileSync(join(secret, "f"), "OUTSIDE");
    mkdirSync(join(data, "sw-dir"));
    writeFileSync(join(data, "sw-dir", "f"), "inside");
    symlinkSync(secret, join(data, "sw-link"));
    // Another process swaps data/sw between the real directory and the symlink, as fast as it can.
    const swapper = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const { renameSync } = require("node:fs"); const d = process.argv[1];
         for (;;) { renameSync(d + "/sw-dir", d + "/sw"); renameSync(d + "/sw", d + "/sw-dir"); renameSync(d + "/sw-link", d + "/sw"); renameSync(d + "/sw", d + "/sw-link"); }`,
        data,
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    cleanups.push(async () => {
      swapper.kill();
      await swapper.exited;
    });
    const r = await run([img], "read-loop", "/data", "sw/f", "1000");
    swapper.kill();
    const lines = r.out.trim().split("\n");
    if (process.env.WEFT_CELL_FIGURES) console.log(lines.join("; "));
    expect(lines.some((l) => l.includes("OUTSIDE"))).toBe(false);
    // The swap was seen mid-run both ways (else this test could not fail).
    expect(lines.find((l) => l.startsWith("content inside: "))).toBeDefined();
    expect(lines.find((l) => l.startsWith(`error "sw/f" leads outside the directory: `))).toBeDefined();
    for (const l of lines) expect(l).toMatch(/^(content inside|error "sw\/f" leads outside the directory|error sw\/f: ENOENT): \d+$/);
  }, 60_000);

  test("a [[dir]] inside another process's writable [[dir]] is refused: it could be renamed away and replaced by a symlink out", async () => {
    // (A guest with a writable preopen can do that swap through plain WASI: rename(2), then
    // symlink("../../../etc", …) — Wasmtime creates symlinks with any target. Opening the inner
    // grant's host path afterwards — weft:cell's fs, a service's next preopens — would follow it.)
    const data = join(dir.path, "nest-data");
    let { img } = cellImage("nest", `[[dir]]\nhost = "${data}/inner"\nguest = "/inner"\n`);
    await expect(start([img], ["names"])).rejects.toThrow(
      `etc/cell.toml: [[dir]] /inner (${data}/inner) lies inside etc/cell.toml's writable [[dir]] /data (${data}), which could replace it with a symlink leading anywhere; grant it apart, or the outer one read-only`,
    );
    // Across processes too: a service's grant inside pid0's writable one.
    ({ img } = cellImage("nest-svc"));
    const svcData = join(dir.path, "nest-svc-data");
    mkdirSync(join(img, "svc", "s", "bin"), { recursive: true });
    mkdirSync(join(img, "svc", "s", "etc"), { recursive: true });
    writeFileSync(join(img, "svc", "s", "bin", "main.wasm"), readFileSync(join(img, "bin", "main.wasm")));
    writeFileSync(join(img, "svc", "s", "etc", "cell.toml"), `[[dir]]\nhost = "${svcData}/inner"\nguest = "/d"\n`);
    await expect(start([img], ["names"])).rejects.toThrow(`svc/s/etc/cell.toml: [[dir]] /d (${svcData}/inner) lies inside etc/cell.toml's writable [[dir]] /data`);
    // Side by side (and read-only grants inside the image) are fine.
    rmSync(join(img, "svc"), { recursive: true });
    expect((await run([img], "names")).status).toMatchObject({ kind: "exit", code: 0 });
  }, 60_000);

  test("a child's narrowed directory swapped for a symlink fails instead of moving", async () => {
    const { img, data } = cellImage("subswap");
    const secret = join(dir.path, "subswap-secret");
    mkdirSync(secret);
    writeFileSync(join(secret, "g.txt"), "OUTSIDE");
    const c = await start([img], ["spawn", "/data=d:ro:sub=inner", "16", "0", "-", "revoke-watch", "d", "g.txt"]);
    await c.waitFor("child: epoch 1: inner file\n");
    rmSync(join(data, "inner"), { recursive: true });
    symlinkSync(secret, join(data, "inner"));
    await c.waitFor("child exit 0\n");
    expect(c.output()).toBe(
      `child: epoch 1: inner file\nchild: old handle: the subdirectory "inner" of this capability was replaced by a symlink\nchild: fresh acquire error: cannot widen "d": "inner" leads outside it\nchild exit 0\n`,
    );
  }, 60_000);
});
