// weft:cell end to end with a C guest (tests/cell/guests/cellctl.c): pid0
// spawns children with fewer rights, the host refuses everything beyond
// them, attenuation cannot be widened, revocation is seen mid-run, a fork
// bomb is bounded by the budget.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { weft, WEFT } from "../helpers.ts";
import { cellctlHarness } from "./helpers.ts";

const { dir, cellImage, start, run, cleanups } = cellctlHarness("weft-cell-grants-");

describe("pid0's grants", () => {
  test("pid0 holds exactly its etc/ grants and uses them", async () => {
    const { img, data } = cellImage("own");
    expect((await run([img], "names")).out).toBe("/data\n/self\nweb\n");
    expect((await run([img], "read", "/data", "f.txt")).out).toBe("top secret");
    const w = await run([img], "write", "/data", "new.txt", "written");
    expect(w.out).toBe("ok\n");
    expect(readFileSync(join(data, "new.txt"), "utf8")).toBe("written");
    expect((await run([img], "read", "/self", "../../etc/passwd")).out).toBe(`read error: "../../etc/passwd" is outside the directory\n`);
    expect((await run([img], "write", "/self", "x", "y")).out).toBe(`write error: read-only: capability handle 1 ("/self") is read-only\n`);
    expect((await run([img], "read", "/etc", "passwd")).out).toBe(`acquire error: pid0 holds no capability named "/etc"\n`);
  }, 60_000);
});

describe("children", () => {
  test("a child gets only what it is passed, attenuated; its attempts beyond fail", async () => {
    const { img, data } = cellImage("kids");
    // Read-only data: reading works, writing is refused by the host.
    let r = await run([img], "spawn", "/data=d:ro", "16", "0", "-", "read", "d", "f.txt");
    expect(r.out).toBe("child: top secret\nchild exit 0\n");
    r = await run([img], "spawn", "/data=d:ro", "16", "0", "-", "write", "d", "x.txt", "no");
    expect(r.out).toBe(`child: write error: read-only: capability handle 1 ("d") is read-only\nchild exit 1\n`);
    expect(existsSync(join(data, "x.txt"))).toBe(false);
    // Narrowed to a subdirectory: the rest of the directory is out of reach.
    r = await run([img], "spawn", "/data=d:rw:sub=inner", "16", "0", "-", "read", "d", "g.txt");
    expect(r.out).toBe("child: inner file\nchild exit 0\n");
    r = await run([img], "spawn", "/data=d:rw:sub=inner", "16", "0", "-", "read", "d", "../f.txt");
    expect(r.out).toBe(`child: read error: "../f.txt" is outside the directory\nchild exit 1\n`);
    // Its args and env are what the parent passed (cellctl passes ROLE=child), nothing of the host's.
    r = await run([img], "spawn", "-", "16", "0", "-", "getenv", "ROLE");
    expect(r.out).toBe("child: child\nchild exit 0\n");
    r = await run([img], "spawn", "-", "16", "0", "-", "getenv", "PATH");
    expect(r.out).toBe("child: (unset)\nchild exit 0\n");
    // Names and handles are the child's own: nothing of the parent's leaks.
    r = await run([img], "spawn", "/data=d:ro", "16", "0", "-", "names");
    expect(r.out).toBe("child: d\nchild exit 0\n");
    r = await run([img], "spawn", "/data=d:ro", "16", "0", "-", "read", "/data", "f.txt");
    expect(r.out).toBe(`child: acquire error: pid0/1 holds no capability named "/data"\nchild exit 1\n`);
    r = await run([img], "spawn", "-", "16", "0", "-", "use-handle", "1", "f.txt");
    expect(r.out).toBe("child: read error: no capability handle 1\nchild exit 1\n");
    // No file system at all: the child cannot even read its own binary without a grant.
    r = await run([img], "spawn", "-", "16", "0", "-", "spawn", "-", "4", "0", "-", "names");
    expect(r.out).toBe(`child: cannot read my own binary: pid0/1 holds no capability named "self"\nchild exit 1\n`);
  }, 90_000);

  test("attenuation cannot be widened: rw from ro, more domains, a way out of the directory", async () => {
    const { img } = cellImage("widen");
    // The child holds d read-only and tries to pass it on read-write.
    let r = await run([img], "spawn", "/data=d:ro,/self=self:ro", "32", "16", "-", "spawn", "d=e:rw", "4", "0", "-", "names");
    expect(r.out).toBe(`child: spawn error: cannot widen "d": it is read-only\nchild exit 1\n`);
    r = await run([img], "spawn", "web=w:dom=localhost+example.com", "16", "0", "-", "names");
    expect(r.out).toBe(`spawn error: cannot widen "web": example.com is not among its domains (localhost)\n`);
    r = await run([img], "spawn", "/data=d:rw:sub=..", "16", "0", "-", "names");
    expect(r.out).toBe(`spawn error: cannot widen "/data": subdir ".." is not inside it\n`);
    // A grandchild gets what the child may give: read-only, narrowed.
    r = await run([img], "spawn", "/data=d:ro,/self=self:ro", "32", "16", "-", "spawn", "d=e:ro", "4", "0", "-", "read", "e", "f.txt");
    expect(r.out).toBe("child: child: top secret\nchild: child exit 0\nchild exit 0\n");
  }, 90_000);

  test("a child's stdin, stdout, stderr and exit code reach its parent", async () => {
    const { img } = cellImage("stdio");
    const r = await run([img], "spawn", "-", "16", "0", "line one\nline two", "echo");
    expect(r.out).toBe("child: line one\nchild: line two\nchild-err: echo done\nchild exit 1\n");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
  }, 60_000);

  test("net: only the granted domains, narrowed for a child", async () => {
    const { img } = cellImage("net");
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`hello from ${new URL(req.url).pathname}`) });
    cleanups.push(() => server.stop(true));
    let r = await run([img], "get", "web", `http://localhost:${server.port}/x`);
    expect(r.out).toBe("status 200\nhello from /x");
    r = await run([img], "get", "web", `http://127.0.0.1:${server.port}/x`);
    expect(r.out).toBe(`get error: not allowed: 127.0.0.1 is not among the domains of "web" (localhost)\n`);
    r = await run([img], "spawn", "web=w:dom=localhost", "16", "0", "-", "get", "w", `http://localhost:${server.port}/child`);
    expect(r.out).toBe("child: status 200\nchild: hello from /child\nchild exit 0\n");
  }, 60_000);
});

describe("revocation by epoch", () => {
  test("advancing the epoch makes a live handle stale mid-run; the process acquires a fresh one", async () => {
    const { img } = cellImage("revoke");
    const c = await start([img], ["revoke-watch", "/data", "f.txt"]);
    await c.waitFor("epoch 1: top secret\n");
    expect(c.cell.advanceEpoch()).toBe(2);
    await c.waitFor("epoch 2: top secret\n");
    expect(await c.cell.exited).toMatchObject({ kind: "exit", code: 0 });
    expect(c.output()).toBe(
      `epoch 1: top secret\nold handle: stale epoch: capability handle 1 ("/data") was issued in epoch 1; the cell is in epoch 2 (acquire it again)\nepoch 2: top secret\n`,
    );
  }, 60_000);

  test("a child's handles go stale too", async () => {
    const { img } = cellImage("revoke-child");
    const c = await start([img], ["spawn", "/data=d:ro", "16", "0", "-", "revoke-watch", "d", "f.txt"]);
    // The parent relays the child's stdout only as it reads it; the child's first line is enough.
    await c.waitFor("child: epoch 1: top secret\n");
    c.cell.advanceEpoch();
    await c.waitFor("child exit 0\n");
    expect(c.output()).toContain(`child: old handle: stale epoch: capability handle 1 ("d") was issued in epoch 1; the cell is in epoch 2`);
    expect(c.output()).toContain("child: epoch 2: top secret\n");
  }, 60_000);

  test("applying a layer that drops a grant: old handles stale, a fresh acquire fails; never into an in-place image", async () => {
    const { img, data } = cellImage("apply");
    const top = join(dir.path, "apply-top");
    mkdirSync(join(top, "etc"), { recursive: true });
    writeFileSync(join(top, "etc", "cell.toml"), ""); // no grants at all
    writeFileSync(join(top, "etc", "motd"), "from the new layer");
    const base = join(dir.path, "apply-base");
    mkdirSync(base);
    const c = await start([img, base], ["revoke-watch", "/data", "f.txt"]); // two layers: a private merged copy
    await c.waitFor("epoch 1: top secret\n");
    // A layer with a bad etc/cell.toml changes nothing.
    const bad = join(dir.path, "apply-bad");
    mkdirSync(join(bad, "etc"), { recursive: true });
    writeFileSync(join(bad, "etc", "cell.toml"), "[limits]\nmemory_mib = 0\n");
    writeFileSync(join(bad, "etc", "motd"), "must not appear");
    await expect(c.cell.applyLayer(bad)).rejects.toThrow("[limits].memory_mib must be an integer from 1 to 4096, got 0");
    expect(c.cell.epoch).toBe(1);
    expect(existsSync(join(c.cell.image.tree.root, "etc", "motd"))).toBe(false);
    // So does one granting a directory inside a writable grant (it could be swapped for a symlink out).
    const nested = join(dir.path, "apply-nested");
    mkdirSync(join(nested, "etc"), { recursive: true });
    mkdirSync(join(data, "inner"), { recursive: true });
    writeFileSync(join(nested, "etc", "cell.toml"), `[[dir]]\nhost = "${data}"\nguest = "/data"\nmode = "rw"\n[[dir]]\nhost = "${data}/inner"\nguest = "/inner"\n`);
    writeFileSync(join(nested, "etc", "motd"), "must not appear");
    await expect(c.cell.applyLayer(nested)).rejects.toThrow(`${nested}: etc/cell.toml: [[dir]] /inner (${data}/inner) lies inside ${nested}: etc/cell.toml's writable [[dir]] /data (${data})`);
    expect(c.cell.epoch).toBe(1);
    expect(existsSync(join(c.cell.image.tree.root, "etc", "motd"))).toBe(false);
    expect(await c.cell.applyLayer(top)).toBe(2);
    await c.cell.exited;
    expect(c.output()).toEndWith(`the cell is in epoch 2 (acquire it again)\nfresh acquire error: pid0 holds no capability named "/data"\n`);
    expect(readFileSync(join(c.cell.image.tree.root, "etc", "motd"), "utf8")).toBe("from the new layer");
    // A single directory runs in place: applying would write into it, so it is refused.
    const inPlace = await start([img], ["sleep", "60000"]);
    await expect(inPlace.cell.applyLayer(top)).rejects.toThrow("the image runs in place");
  }, 60_000);
});

describe("budgets", () => {
  test("a fork bomb is bounded by the memory pool; recursive spawns inside it are refused too", async () => {
    const { img } = cellImage("bomb", "", "children_mib = 64\nmax_children = 100");
    const r = await run([img], "bomb", "8", "8");
    // 64 MiB / (8 + 8) = 4 children; each child's own 8 MiB pool cannot fit another (16).
    expect(r.out).toBe("spawned 4: memory budget: the child asks 8 MiB + 8 MiB for its own children; pid0 has 0 of 64 MiB left\nreaped 4\n");
    expect(r.cell.liveChildren).toBe(0);
  }, 90_000);

  test("and by [limits].max_children across the whole cell", async () => {
    const { img } = cellImage("bomb2", "", "children_mib = 4096\nmax_children = 3");
    const r = await run([img], "bomb", "4", "12");
    expect(r.out).toBe("spawned 3: fork limit: the cell already runs 3 children ([limits].max_children = 3)\nreaped 3\n");
    expect(r.cell.liveChildren).toBe(0);
  }, 90_000);
});

describe("weft cell revoke / apply", () => {
  test("the CLI advances a running cell's epoch; errors are one line", async () => {
    const { img } = cellImage("cli", "", "children_mib = 64");
    const socket = join(dir.path, "cli.sock");
    const env = { WEFT_APPD_SOCKET: socket, WEFT_LOG: "warn" };
    const proc = Bun.spawn(["bun", WEFT, "cell", "run", img, "--", "revoke-watch", "/data", "f.txt"], {
      env: { ...process.env, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    cleanups.push(() => void proc.kill());
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("epoch 1: top secret\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`cell ended early: ${out} ${await new Response(proc.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const badApply = await weft(["cell", "apply", join(dir.path, "missing-layer")], { env });
    expect(badApply).toMatchObject({ code: 1, stderr: `weft cell apply: the image runs in place from ${img}; applying a layer would write into it (start the cell from an archive or from two layers)\n` });
    const revoke = await weft(["cell", "revoke"], { env });
    expect(revoke).toMatchObject({ code: 0, stdout: "epoch 2\n" });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(await proc.exited).toBe(0);
    expect(out).toContain("old handle: stale epoch");
    expect(out).toEndWith("epoch 2: top secret\n");
    const gone = await weft(["cell", "revoke"], { env });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toStartWith("weft cell revoke: weft is not running");
    expect((await weft(["cell", "apply"], { env })).code).toBe(2);
    void img;
  }, 60_000);
});
