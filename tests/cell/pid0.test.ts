// pid0: the merged tree read-only at /, the caller's stdio, only what
// etc/cell.toml grants; its exit status is the cell's (in-process and CLI).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, weft } from "../helpers.ts";
import { image, runCell } from "./helpers.ts";

describe("pid0", () => {
  test("sees the merged tree at / (later layer's file) and cannot write to it", async () => {
    using d = tempDir();
    const base = await image(join(d.path, "base"), { "bin/main.wasm": { guest: "readfile" }, "etc/motd": "base" });
    const top = await image(join(d.path, "top"), { "etc/motd": "top layer" });
    const r = await runCell([base, top], ["/etc/motd"]);
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout).toBe("top layer");

    const w = await image(join(d.path, "w"), { "bin/main.wasm": { guest: "writefile" } });
    for (const path of ["/new.txt", "/bin/main.wasm"]) {
      const r2 = await runCell([w], [path, "overwritten"]);
      expect(r2.status).toMatchObject({ kind: "exit", code: 2 });
      expect(r2.stderr).toMatch(/^error: (Read-only file system|Operation not permitted|Permission denied)/);
    }
    expect(existsSync(join(w, "new.txt"))).toBe(false);
    expect(readFileSync(join(w, "bin/main.wasm")).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  });

  test("nothing of the host is visible and the environment is only what etc/ grants", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), { "bin/main.wasm": { guest: "readfile" } });
    const r = await runCell([img], [join(d.path, "img", "bin", "main.wasm")]); // a host path: not inside the cell
    expect(r.stdout).toStartWith("error: No such file or directory");
    const r2 = await runCell([img], ["/../../../etc/passwd"]);
    expect(r2.status).toMatchObject({ kind: "exit", code: 1 });
    const env = await image(join(d.path, "env"), { "bin/main.wasm": { guest: "env" }, "etc/cell.toml": `[env]\nGREETING = "hi"\n` });
    expect((await runCell([env])).stdout).toBe("GREETING=hi\n");
  });

  test("[[dir]] grants a host directory, read-write or read-only", async () => {
    using d = tempDir();
    using host = tempDir();
    const cfg = `[[dir]]\nhost = "${host.path}"\nguest = "/data"\nmode = "rw"\n[[dir]]\nhost = "${host.path}"\nguest = "/view"\n`;
    const img = await image(join(d.path, "img"), { "bin/main.wasm": { guest: "writefile" }, "etc/cell.toml": cfg });
    expect((await runCell([img], ["/data/out.txt", "written"])).status).toMatchObject({ kind: "exit", code: 0 });
    expect(readFileSync(join(host.path, "out.txt"), "utf8")).toBe("written");
    const ro = await runCell([img], ["/view/out.txt", "again"]);
    expect(ro.status).toMatchObject({ kind: "exit", code: 2 });
    expect(readFileSync(join(host.path, "out.txt"), "utf8")).toBe("written");
  });

  test("[limits] apply: memory cap and wall-clock timeout", async () => {
    using d = tempDir();
    const oom = await image(join(d.path, "oom"), { "bin/main.wasm": { guest: "oom" }, "etc/cell.toml": "[limits]\nmemory_mib = 8\n" });
    expect((await runCell([oom])).status.kind).toBe("out-of-memory");
    const slow = await image(join(d.path, "slow"), { "bin/main.wasm": { guest: "spin" }, "etc/cell.toml": "[limits]\ntimeout_s = 0.2\n" });
    expect((await runCell([slow])).status.kind).toBe("timeout");
  });

  test("a component as pid0 (C through the Preview 1 adapter)", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), { "bin/main.wasm": { component: "readfile" }, "etc/motd": "component" });
    const r = await runCell([img], ["/etc/motd"]);
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout).toBe("component");
    const w = await image(join(d.path, "w"), { "bin/main.wasm": { component: "writefile" } });
    expect((await runCell([w], ["/x", "y"])).status).toMatchObject({ kind: "exit", code: 1 }); // the adapter maps every failure to 1
    expect(existsSync(join(w, "x"))).toBe(false);
  });
});

// `weft cell run` serves its API socket; keep it in the test's temp dir.
const sock = (dir: string) => ({ env: { WEFT_APPD_SOCKET: join(dir, "cell.sock") } });

describe("weft cell run", () => {
  test("pid0's stdio is the terminal's and its exit code is weft's", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), { "bin/main.wasm": { guest: "exit" } });
    expect((await weft(["cell", "run", img, "--", "42"], sock(d.path))).code).toBe(42);
    const echo = await image(join(d.path, "echo"), { "bin/main.wasm": { guest: "stdin_echo" } });
    const r = await weft(["cell", "run", echo], { stdin: "through the cell", ...sock(d.path) });
    expect(r).toMatchObject({ code: 0, stdout: "through the cell", stderr: "bytes=16\n" });
  }, 20_000);

  test("bad images and command lines are one clear line with their exit codes", async () => {
    using d = tempDir();
    const empty = await image(join(d.path, "empty"), { "etc/x": "" });
    const r = await weft(["cell", "run", empty, empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`weft cell: no bin/main.wasm in the merged image (2 layers given: ${empty}, ${empty})\n`);
    const bad = await image(join(d.path, "bad"), { "bin/main.wasm": new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 99]) });
    const r2 = await weft(["cell", "run", bad], sock(d.path));
    expect(r2.code).toBe(126);
    expect(r2.stderr).toStartWith("weft cell: bin/main.wasm: invalid:");
    const greedy = await image(join(d.path, "greedy"), {
      "bin/main.wasm": { guest: "exit" },
      "etc/cell.toml": "[limits]\nchildren_mib = 32\n",
      "svc/big/bin/main.wasm": { guest: "exit" },
      "svc/big/etc/cell.toml": "[limits]\nmemory_mib = 64\n",
    });
    expect(await weft(["cell", "run", greedy], sock(d.path))).toMatchObject({
      code: 1,
      stderr: "weft cell: svc/big: memory budget: the service asks 64 MiB ([limits].memory_mib) + 0 MiB ([limits].children_mib); pid0 has 32 of 32 MiB left ([limits].children_mib of etc/cell.toml)\n",
    });
    const trap = await image(join(d.path, "trap"), { "bin/main.wasm": { guest: "trap_divzero" } });
    const r3 = await weft(["cell", "run", trap], sock(d.path));
    expect(r3.code).toBe(134);
    expect(r3.stderr).toContain("weft cell: pid0: trap: integer divide by zero");
    expect((await weft(["cell", "run"])).code).toBe(2);
    expect((await weft(["cell", "frobnicate"])).stderr).toContain("unknown subcommand 'frobnicate'");
    const help = await weft(["cell", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: weft cell run [OPTIONS] LAYER... [-- ARGS...]");
  }, 30_000);
});
