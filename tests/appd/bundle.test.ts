// Bundles: round trips, determinism, and hostile archives refused before
// anything is extracted (archives built with the real GNU tar).
import { describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkListing, createBundle, extractBundle, listBundle } from "../../src/appd/bundle.ts";
import { installPackage } from "../../src/appd/package-store.ts";
import { loadTrustedKeys, packageDigest, signPackage, verifyPackage } from "../../src/appd/signature.ts";
import { copyFixture, makeKeys, makePackage, MANIFEST, tempDir, writeFiles } from "./helpers.ts";

const ID = "org.example.hello";

/** Runs GNU tar to build an archive by hand (the way an attacker would). */
function tar(args: string[]): void {
  const r = Bun.spawnSync(["tar", "--zstd", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar ${args.join(" ")}: ${r.stderr.toString()}`);
}

describe("bundle and unbundle", () => {
  test("round trip: <id>/ at the top, same files and hashes, signature still valid", async () => {
    using tmp = tempDir();
    const dir = copyFixture("weft-counter", tmp.path, "source-dir-any-name");
    const k = await makeKeys(tmp.path);
    await signPackage(dir, k.seedHex);
    const out = join(tmp.path, "dist", "counter.app.tar.zst");
    expect(await createBundle(dir, out)).toEqual({ id: "org.weft.demo.counter", file: out, files: 5 });
    expect((await listBundle(out)).map((e) => `${e.type} ${e.path}`)).toEqual([
      "file org.weft.demo.counter/app.wasm",
      "file org.weft.demo.counter/signature.sig",
      "dir org.weft.demo.counter/ui/",
      "file org.weft.demo.counter/ui/app.js",
      "file org.weft.demo.counter/ui/index.html",
      "file org.weft.demo.counter/wapp.toml",
    ]);
    const { id, dir: unpacked } = await extractBundle(out, join(tmp.path, "unpacked"));
    expect(id).toBe("org.weft.demo.counter");
    expect(unpacked).toBe(join(tmp.path, "unpacked", "org.weft.demo.counter"));
    expect((await packageDigest(unpacked)).listing).toBe((await packageDigest(dir)).listing);
    expect(await verifyPackage(unpacked, (await loadTrustedKeys([k.trusted])).keys)).toMatchObject({ status: "signed", keyId: "dev" });
    expect(readdirSync(join(tmp.path, "unpacked"))).toEqual(["org.weft.demo.counter"]);
    await expect(extractBundle(out, join(tmp.path, "unpacked"))).rejects.toThrow("already exists");
    expect(readdirSync(join(tmp.path, "unpacked"))).toEqual(["org.weft.demo.counter"]);
  });

  test("the same package always makes the same bytes", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path);
    const a = await createBundle(dir, join(tmp.path, "a.app.tar.zst"));
    writeFileSync(join(dir, "app.wasm"), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])); // same bytes, new mtime
    const b = await createBundle(dir, join(tmp.path, "b.app.tar.zst"));
    expect(Buffer.compare(Buffer.from(await Bun.file(a.file).arrayBuffer()), Buffer.from(await Bun.file(b.file).arrayBuffer()))).toBe(0);
  });

  test("an invalid package is not bundled", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path, { manifest: MANIFEST("Nope") });
    await expect(createBundle(dir, join(tmp.path, "x.app.tar.zst"))).rejects.toThrow('[package].id "Nope" must match');
    expect(existsSync(join(tmp.path, "x.app.tar.zst"))).toBe(false);
  });

  test("installing from a bundle: signed, and refused when unsigned", async () => {
    using tmp = tempDir();
    const k = await makeKeys(tmp.path);
    const keys = (await loadTrustedKeys([k.trusted])).keys;
    const dir = makePackage(tmp.path);
    const unsigned = await createBundle(dir, join(tmp.path, "u", `${ID}.app.tar.zst`));
    await signPackage(dir, k.seedHex);
    const signed = await createBundle(dir, join(tmp.path, `${ID}.app.tar.zst`));
    const root = join(tmp.path, "store");
    await expect(installPackage(unsigned.file, { root, trustedKeys: keys })).rejects.toThrow("is not signed");
    expect(await installPackage(signed.file, { root, trustedKeys: keys })).toMatchObject({ id: ID, signature: "signed", keyId: "dev" });
    expect(readdirSync(join(root, ID)).sort()).toEqual(["app.wasm", "signature.sig", "ui", "wapp.toml"]);
  });
});

describe("hostile archives are refused before extraction", () => {
  // Each case builds an archive in `tmp` and names the problem it must produce.
  const cases: [string, (tmp: string, out: string) => void, string][] = [
    [
      "a ../ entry",
      (tmp, out) => {
        const pkg = makePackage(join(tmp, "src"));
        writeFileSync(join(tmp, "src", "evil.txt"), "x");
        tar(["-cf", out, "-C", pkg, "-P", "./wapp.toml", "./app.wasm", "./ui", "../evil.txt", "--transform", `s,^\\./,${ID}/,`]);
      },
      '"../evil.txt": path traversal (..)',
    ],
    [
      "a .. inside the id dir",
      (tmp, out) => {
        makePackage(join(tmp, "src"));
        writeFileSync(join(tmp, "src", "evil.txt"), "x");
        tar(["-cf", out, "-C", join(tmp, "src"), "-P", ID, `${ID}/../evil.txt`]);
      },
      `"${ID}/../evil.txt": path traversal (..)`,
    ],
    [
      "an absolute path",
      (tmp, out) => {
        makePackage(join(tmp, "src"));
        writeFileSync(join(tmp, "abs.txt"), "x");
        tar(["-cf", out, "-C", join(tmp, "src"), "-P", ID, join(tmp, "abs.txt")]);
      },
      "abs.txt\": absolute path",
    ],
    [
      "a symlink",
      (tmp, out) => {
        const pkg = makePackage(join(tmp, "src"));
        symlinkSync("/etc/passwd", join(pkg, "ui", "passwd"));
        tar(["-cf", out, "-C", join(tmp, "src"), ID]);
      },
      `"${ID}/ui/passwd": symlink (packages may not contain links)`,
    ],
    [
      "a hard link",
      (tmp, out) => {
        const pkg = makePackage(join(tmp, "src"));
        linkSync(join(pkg, "app.wasm"), join(pkg, "ui", "again.wasm"));
        tar(["-cf", out, "-C", join(tmp, "src"), ID]);
      },
      "hard link (packages may not contain links)",
    ],
    [
      "a device file",
      (tmp, out) => {
        makePackage(join(tmp, "src"));
        tar(["-cf", out, "-C", join(tmp, "src"), ID, "-C", "/", "dev/null", "--transform", `s,^dev/,${ID}/,`]);
      },
      `"${ID}/null": device file`,
    ],
    [
      "two top-level directories",
      (tmp, out) => {
        makePackage(join(tmp, "src"));
        makePackage(join(tmp, "src"), { id: "org.example.other" });
        tar(["-cf", out, "-C", join(tmp, "src"), ID, "org.example.other"]);
      },
      `more than one top-level directory (${ID}, org.example.other); a bundle holds exactly <id>/`,
    ],
    [
      "a file at the top level",
      (tmp, out) => {
        const pkg = makePackage(join(tmp, "src"));
        tar(["-cf", out, "-C", pkg, "wapp.toml"]);
      },
      '"wapp.toml": a file at the top level (everything must be inside <id>/)',
    ],
    [
      "a top-level directory that is not an id",
      (tmp, out) => {
        makePackage(join(tmp, "src"), { name: "Bad_Name" });
        tar(["-cf", out, "-C", join(tmp, "src"), "Bad_Name"]);
      },
      'top-level directory "Bad_Name" is not an app id',
    ],
  ];
  for (const [what, build, problem] of cases) {
    test(what, async () => {
      using tmp = tempDir();
      const out = join(tmp.path, `${ID}.app.tar.zst`);
      build(tmp.path, out);
      const dest = join(tmp.path, "dest");
      const err = await extractBundle(out, dest).catch((e) => e);
      expect(err.problems).toBeArray();
      expect(err.problems.some((p: string) => p.includes(problem))).toBe(true);
      expect(err.problems.every((p: string) => p.startsWith(`${ID}.app.tar.zst: `))).toBe(true);
      // Nothing was extracted anywhere: not in dest, not next to it.
      expect(readdirSync(dest)).toEqual([]);
      expect(readdirSync(tmp.path).sort()).toEqual([`${ID}.app.tar.zst`, "dest", "src", ...(what === "an absolute path" ? ["abs.txt"] : [])].sort());
      const store = join(tmp.path, "store");
      await expect(installPackage(out, { root: store, allowUnsigned: true, trustedKeys: [] })).rejects.toThrow(problem);
      expect(readdirSync(store).filter((n) => n !== ".weft")).toEqual([]);
      expect(readdirSync(join(store, ".weft"))).toEqual([]);
    });
  }

  test("listing problems are all reported together", () => {
    expect(
      checkListing([
        { path: "/etc/passwd", type: "file", size: 1 },
        { path: "a.b.c/../../x", type: "file", size: 1 },
        { path: "a.b.c/l", type: "symlink", size: 0 },
        { path: "a.b.c/big", type: "file", size: 2 ** 31 },
      ]),
    ).toEqual({
      id: null,
      problems: [
        '"/etc/passwd": absolute path',
        '"a.b.c/../../x": path traversal (..)',
        '"a.b.c/l": symlink (packages may not contain links)',
        `unpacks to ${2 ** 31 + 1} bytes (at most ${2 ** 30})`,
      ],
    });
  });

  test("the top-level directory must be the package's id; garbage is one clear error", async () => {
    using tmp = tempDir();
    makePackage(join(tmp.path, "src"), { id: "org.example.real", name: "org.example.fake" });
    const out = join(tmp.path, "x.app.tar.zst");
    tar(["-cf", out, "-C", join(tmp.path, "src"), "org.example.fake"]);
    await expect(extractBundle(out, join(tmp.path, "d"))).rejects.toThrow('the top-level directory "org.example.fake" does not match [package].id "org.example.real"');
    const garbage = join(tmp.path, "g.app.tar.zst");
    writeFileSync(garbage, "this is not zstd");
    const err = await extractBundle(garbage, join(tmp.path, "d")).catch((e) => e);
    expect(err.message).toMatch(/^g\.app\.tar\.zst: .+/);
    expect(err.message).not.toContain("\n");
    expect(readdirSync(join(tmp.path, "d"))).toEqual([]);
    await expect(extractBundle(join(tmp.path, "missing.app.tar.zst"), join(tmp.path, "d"))).rejects.toThrow("no such bundle file");
  });
});
