// Preopened directories: what a guest can do inside one, that ":ro" really is
// read-only, and that nothing outside its preopens is reachable.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runGuest, tempDir } from "../helpers.ts";

describe("preopened directories", () => {
  test("read, write, rename, mkdir, readdir, stat inside a preopen", async () => {
    using dir = tempDir();
    const r = await runGuest("files", { argv: ["files", "/work"], preopens: [{ host: dir.path, guest: "/work", readOnly: false }] });
    expect(r.stderr).toBe("");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout.trim().split("\n").at(-1)).toBe("ok");
    // The guest's effects are real on the host.
    expect(readFileSync(join(dir.path, "b.txt"), "utf8")).toBe("alpha");
    expect(existsSync(join(dir.path, "a.txt"))).toBe(false);
    expect(existsSync(join(dir.path, "sub", "c.txt"))).toBe(true);
  });

  test("reads a host file through a read-only preopen", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "note.txt"), "from the host");
    const r = await runGuest("readfile", { argv: ["readfile", "/ro/note.txt"], preopens: [{ host: dir.path, guest: "/ro", readOnly: true }] });
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout).toBe("from the host");
  });

  test(":ro refuses writes and leaves the host untouched", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "keep.txt"), "original");
    const create = await runGuest("writefile", { argv: ["writefile", "/ro/new.txt", "x"], preopens: [{ host: dir.path, guest: "/ro", readOnly: true }] });
    expect(create.status).toMatchObject({ kind: "exit", code: 2 });
    expect(create.stderr).toMatch(/^error: /);
    expect(existsSync(join(dir.path, "new.txt"))).toBe(false);
    const overwrite = await runGuest("writefile", { argv: ["writefile", "/ro/keep.txt", "changed"], preopens: [{ host: dir.path, guest: "/ro", readOnly: true }] });
    expect(overwrite.status).toMatchObject({ kind: "exit", code: 2 });
    expect(readFileSync(join(dir.path, "keep.txt"), "utf8")).toBe("original");
  });

  test("the same write succeeds through a writable preopen (the :ro test can fail)", async () => {
    using dir = tempDir();
    const r = await runGuest("writefile", { argv: ["writefile", "/rw/new.txt", "x"], preopens: [{ host: dir.path, guest: "/rw", readOnly: false }] });
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(readFileSync(join(dir.path, "new.txt"), "utf8")).toBe("x");
  });

  test("`..`, absolute paths and symlinks cannot leave the preopen", async () => {
    using outer = tempDir();
    const inner = join(outer.path, "inner");
    mkdirSync(inner);
    writeFileSync(join(outer.path, "escape-probe"), "secret");
    const r = await runGuest("escape", { argv: ["escape", "/box"], preopens: [{ host: inner, guest: "/box", readOnly: false }] });
    expect(r.stdout).not.toContain("OPENED");
    expect(r.stdout).toContain("blocked");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    // A symlink planted inside the preopen that points outside it.
    symlinkSync(join(outer.path, "escape-probe"), join(inner, "link"));
    const viaLink = await runGuest("readfile", { argv: ["readfile", "/box/link"], preopens: [{ host: inner, guest: "/box", readOnly: false }] });
    expect(viaLink.stdout).not.toContain("secret");
    expect(viaLink.status).toMatchObject({ kind: "exit", code: 1 });
  });

  test("with no preopens the guest sees no files at all", async () => {
    const r = await runGuest("readfile", { argv: ["readfile", "/etc/passwd"] });
    expect(r.status).toMatchObject({ kind: "exit", code: 1 });
    expect(r.stdout).toMatch(/^error: /);
  });
});
