// Image layers: merge rules, archives (plain and zstd), refused entries, and
// etc/cell.toml — pure TypeScript plus GNU tar, no guest runs here.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/cell/config.ts";
import { openImage } from "../../src/cell/image.ts";
import { ImageError, mergeLayers, symlinkProblem } from "../../src/cell/layers.ts";
import { guestBytes, tempDir } from "../helpers.ts";
import { writeTar } from "./tar.ts";

function put(root: string, files: Record<string, string | Uint8Array>): string {
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
  return root;
}

async function rejects(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    return (e as Error).message;
  }
  throw new Error("expected an ImageError");
}

describe("merging layers", () => {
  test("a later layer replaces a file, directories merge, nothing is deleted", async () => {
    using d = tempDir();
    const a = put(join(d.path, "a"), { "etc/x": "from a", "etc/only-a": "a", "bin/main.wasm": "A" });
    const b = put(join(d.path, "b"), { "etc/x": "from b", "etc/only-b": "b" });
    const c = put(join(d.path, "c"), { "bin/main.wasm": "C", "usr/lib/y": "y" });
    const t = await mergeLayers([a, b, c], d.path);
    try {
      expect(t.inPlace).toBe(false);
      expect(readFileSync(join(t.root, "etc/x"), "utf8")).toBe("from b");
      expect(readFileSync(join(t.root, "etc/only-a"), "utf8")).toBe("a");
      expect(readFileSync(join(t.root, "etc/only-b"), "utf8")).toBe("b");
      expect(readFileSync(join(t.root, "bin/main.wasm"), "utf8")).toBe("C");
      expect(readFileSync(join(t.root, "usr/lib/y"), "utf8")).toBe("y");
      // The layers themselves are untouched.
      expect(readFileSync(join(a, "etc/x"), "utf8")).toBe("from a");
    } finally {
      await t.cleanup();
    }
    expect(existsSync(t.root)).toBe(false);
    expect(existsSync(join(a, "etc/x"))).toBe(true);
  });

  test("a single directory layer is used in place, and cleanup leaves it alone", async () => {
    using d = tempDir();
    const a = put(join(d.path, "a"), { "bin/main.wasm": "A" });
    const t = await mergeLayers([a], d.path);
    expect(t.inPlace).toBe(true);
    expect(t.root).toBe(a);
    await t.cleanup();
    expect(existsSync(join(a, "bin/main.wasm"))).toBe(true);
  });

  test(".tar and .tar.zst layers merge with directories, in order", async () => {
    using d = tempDir();
    const base = await writeTar(join(d.path, "base.tar.zst"), [
      { type: "dir", name: "etc/" },
      { type: "file", name: "etc/x", data: "tar.zst" },
      { type: "file", name: "./etc/y", data: "y" },
      { type: "symlink", name: "etc/link", target: "y" },
    ]);
    const mid = await writeTar(join(d.path, "mid.tar"), [{ type: "file", name: "etc/x", data: "tar" }]);
    const top = put(join(d.path, "top"), { "bin/main.wasm": "M" });
    const t = await mergeLayers([base, mid, top], d.path);
    try {
      expect(readFileSync(join(t.root, "etc/x"), "utf8")).toBe("tar");
      expect(readFileSync(join(t.root, "etc/link"), "utf8")).toBe("y");
      expect(readFileSync(join(t.root, "bin/main.wasm"), "utf8")).toBe("M");
    } finally {
      await t.cleanup();
    }
  });

  test("a file cannot become a directory (or back): that would delete", async () => {
    using d = tempDir();
    const a = put(join(d.path, "a"), { "etc/conf": "file" });
    const b = put(join(d.path, "b"), { "etc/conf/inner": "dir now" });
    const msg = await rejects(mergeLayers([a, b], d.path));
    expect(msg).toContain(`layer 2 (${b}): "etc/conf" is a directory but layer 1 made it a file`);
  });

  test("archives with traversal, absolute paths, devices, FIFOs, hard links or escaping symlinks are refused before extraction", async () => {
    using d = tempDir();
    const cases: [string, Parameters<typeof writeTar>[1], string][] = [
      ["dotdot.tar", [{ type: "file", name: "../evil", data: "x" }], `"../evil": path traversal (..)`],
      ["deep.tar", [{ type: "file", name: "a/../../evil", data: "x" }], "path traversal"],
      ["abs.tar", [{ type: "file", name: "/etc/evil", data: "x" }], "absolute path"],
      ["dev.tar", [{ type: "chardev", name: "dev/null" }], `"dev/null": device file`],
      ["fifo.tar.zst", [{ type: "fifo", name: "p" }], `"p": FIFO`],
      ["hard.tar", [{ type: "file", name: "a", data: "x" }, { type: "hardlink", name: "b", target: "a" }], "hard link"],
      ["slabs.tar", [{ type: "symlink", name: "bin/sh", target: "/bin/sh" }], "symlink to an absolute path"],
      ["slup.tar", [{ type: "symlink", name: "bin/x", target: "../../etc/passwd" }], "symlink escapes the image"],
      ["sltrick.tar", [{ type: "symlink", name: "s", target: "." }, { type: "symlink", name: "x", target: "s/../../etc" }], `has ".." after a name`],
    ];
    for (const [name, entries, expected] of cases) {
      const file = await writeTar(join(d.path, name), entries);
      const msg = await rejects(mergeLayers([file], d.path));
      expect(msg).toContain(`layer 1 (${file}): `);
      expect(msg).toContain(expected);
    }
    // Nothing was extracted anywhere: only the archives and no scratch dirs remain.
    const left = [...new Bun.Glob("*").scanSync({ cwd: d.path, onlyFiles: false })].sort();
    expect(left).toEqual(cases.map((c) => c[0]).sort());
    expect(existsSync(join(d.path, "..", "evil"))).toBe(false);
  });

  test("directory layers with escaping symlinks are refused too", async () => {
    using d = tempDir();
    const a = put(join(d.path, "a"), { "bin/main.wasm": "A" });
    symlinkSync("/etc", join(a, "hostetc"));
    expect(await rejects(mergeLayers([a], d.path))).toContain("hostetc: symlink to an absolute path (/etc)");
  });

  test("symlink rules", () => {
    expect(symlinkProblem("a/b", "../c")).toBeNull();
    expect(symlinkProblem("a/b", "c/d")).toBeNull();
    expect(symlinkProblem("b", "../c")).toContain("escapes");
    expect(symlinkProblem("a/b", "c/../../x")).toContain("after a name");
    expect(symlinkProblem("a", "/x")).toContain("absolute");
  });

  test("a corrupt archive and an unknown layer kind are one clear line", async () => {
    using d = tempDir();
    writeFileSync(join(d.path, "junk.tar.zst"), "not zstd at all");
    expect(await rejects(mergeLayers([join(d.path, "junk.tar.zst")], d.path))).toMatch(/^layer 1 \(.*junk\.tar\.zst\): /);
    writeFileSync(join(d.path, "x.zip"), "PK");
    expect(await rejects(mergeLayers([join(d.path, "x.zip")], d.path))).toContain("a layer is a directory, a .tar or a .tar.zst archive");
    expect(await rejects(mergeLayers([join(d.path, "missing")], d.path))).toContain("layer 1 (");
  });
});

describe("opening an image", () => {
  test("no bin/main.wasm in the merged result names how many layers were given", async () => {
    using d = tempDir();
    const a = put(join(d.path, "a"), { "etc/x": "1" });
    const b = put(join(d.path, "b"), { "usr/lib/y": "2" });
    expect(await rejects(openImage([a, b], d.path))).toBe(`no bin/main.wasm in the merged image (2 layers given: ${a}, ${b})`);
    expect(await rejects(openImage([a], d.path))).toContain("(1 layer given:");
  });

  test("bin/main.wasm must be WebAssembly; services are nested images found depth first", async () => {
    using d = tempDir();
    const wasm = await guestBytes("exit");
    const a = put(join(d.path, "a"), { "bin/main.wasm": "#!/bin/sh" });
    expect(await rejects(openImage([a], d.path))).toContain("bin/main.wasm is not a WebAssembly module or component");
    const b = put(join(d.path, "b"), {
      "bin/main.wasm": wasm,
      "svc/web/bin/main.wasm": wasm,
      "svc/web/etc/cell.toml": `[service]\nrestart = "always"\n`,
      "svc/web/svc/cache/bin/main.wasm": wasm,
      "svc/db/bin/main.wasm": wasm,
    });
    const img = await openImage([b], d.path);
    expect(img.services.map((s) => s.path)).toEqual(["svc/db", "svc/web", "svc/web/svc/cache"]);
    expect(img.services[1].config.service.restart).toBe("always");
    await img.close();
    put(b, { "svc/broken/etc/cell.toml": "" });
    expect(await rejects(openImage([b], d.path))).toBe("service svc/broken has no bin/main.wasm");
  });
});

describe("etc/cell.toml", () => {
  test("grants and limits", () => {
    using d = tempDir();
    const c = parseConfig(
      `[limits]\nmemory_mib = 64\ncpu_s = 2\nmax_children = 3\n[env]\nLANG = "C"\n[[dir]]\nhost = "${d.path}"\nguest = "/data"\nmode = "rw"\n[[dir]]\nhost = "${d.path}"\nguest = "/ro"\nwasi = false\n`,
      "etc/cell.toml",
    );
    expect(c.limits).toMatchObject({ memoryMib: 64, cpuS: 2, maxChildren: 3, timeoutS: 0 });
    expect(c.env).toEqual([["LANG", "C"]]);
    expect(c.dirs).toEqual([
      { host: d.path, guest: "/data", readOnly: false, wasi: null },
      { host: d.path, guest: "/ro", readOnly: true, wasi: false },
    ]);
  });

  test("every problem at once, each naming the file and key", () => {
    let msg = "";
    try {
      parseConfig(`[limits]\nmemory_mib = -1\nmemry = 3\n[dir]\nhost = "relative"\nguest = "/"\nwasi = "no"\n[bogus]\n[service]\nrestart = "sometimes"\n[env]\n"1X" = "y"\n`, "svc/a/etc/cell.toml");
    } catch (e) {
      msg = (e as Error).message;
    }
    const lines = msg.split("\n");
    for (const l of lines) expect(l.startsWith("svc/a/etc/cell.toml: ")).toBe(true);
    expect(msg).toContain("[limits].memory_mib must be an integer from 1 to 4096, got -1");
    expect(msg).toContain("unknown key [limits].memry");
    expect(msg).toContain("host must be an absolute path");
    expect(msg).toContain(`guest must be a normalised absolute path other than "/"`);
    expect(msg).toContain(`wasi must be true or false, got "no"`);
    expect(msg).toContain("unknown table [bogus]");
    expect(msg).toContain(`[service].restart must be "no", "on-failure" or "always"`);
    expect(msg).toContain("[env].1X: not a valid variable name");
    expect(() => parseConfig("[limits\n", "etc/cell.toml")).toThrow(/^etc\/cell\.toml: not valid TOML/);
  });
});
