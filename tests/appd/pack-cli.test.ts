// `weft pack` as a user runs it: separate processes, real files and keys,
// exit codes, and one clear line per error (never a stack trace).
import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { copyFixture, makePackage, MANIFEST, tempDir } from "./helpers.ts";

const RUNNER = join(import.meta.dir, "pack-runner.ts");

/** Runs `weft pack ...args` with a private store and trusted-keys dir. */
async function pack(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", RUNNER, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(stderr).not.toMatch(/^\s+at /m); // never a stack trace
  return { code, stdout, stderr };
}

function env(tmp: string) {
  const e = { WEFT_APP_STORE: join(tmp, "store"), WEFT_TRUSTED_KEYS: join(tmp, "trusted"), HOME: join(tmp, "home") };
  mkdirSync(e.WEFT_TRUSTED_KEYS, { recursive: true });
  return e;
}

const SUBS = ["check", "info", "install", "uninstall", "list", "keygen", "sign", "verify", "bundle", "unbundle", "build-image", "build-verity"];

describe("weft pack: help and usage", () => {
  test("--help for the group and every subcommand", async () => {
    const top = await pack(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toStartWith("Usage: weft pack <command> [options]\n");
    for (const s of SUBS) expect(top.stdout).toContain(`\n  ${s}`);
    for (const s of SUBS) {
      const r = await pack([s, "--help"]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toStartWith(`Usage: weft pack ${s}`);
    }
    expect((await pack(["help", "sign"])).stdout).toStartWith("Usage: weft pack sign DIR|FILE.erofs --key KEY");
    expect((await pack([])).code).toBe(2);
  });

  test("bad command lines: exit 2 and one line with a hint", async () => {
    const cases: [string[], string][] = [
      [["frobnicate"], "unknown command 'frobnicate'"],
      [["install", "--bogus", "x"], "install: unknown option '--bogus'"],
      [["sign", "x"], "sign: missing --key KEY"],
      [["sign", "x", "--key"], "sign: option '--key' needs a value"],
      [["check"], "check: missing DIR"],
      [["check", "a", "b"], "check: unexpected argument 'b'"],
      [["list", "x"], "list: unexpected argument 'x'"],
      [["uninstall"], "uninstall: missing ID"],
    ];
    for (const [args, msg] of cases) {
      const r = await pack(args);
      expect(r).toEqual({ code: 2, stdout: "", stderr: `weft pack: ${msg}. See \`weft pack --help\`.\n` });
    }
  });
});

describe("weft pack: the whole flow", () => {
  test("keygen → check → sign → verify → bundle → install → list → info → uninstall", async () => {
    using tmp = tempDir();
    const e = env(tmp.path);
    const dir = copyFixture("weft-counter", tmp.path, "counter");
    mkdirSync(join(tmp.path, "keys"));

    const kg = await pack(["keygen", join(tmp.path, "keys")], e);
    expect(kg.code).toBe(0);
    expect(kg.stdout).toContain(`wrote ${join(tmp.path, "keys", "weft-sign.key")}`);
    expect((await pack(["keygen", join(tmp.path, "keys")], e)).stderr).toBe(`weft pack keygen: ${join(tmp.path, "keys", "weft-sign.key")} already exists (use --force to replace it)\n`);

    expect(await pack(["check", dir], e)).toEqual({ code: 0, stdout: `ok: org.weft.demo.counter 1.0.0 (${dir})\n`, stderr: "" });
    const pub = join(tmp.path, "keys", "weft-sign.pub");
    expect((await pack(["verify", dir, "--key", pub], e)).code).toBe(3);
    const sign = await pack(["sign", dir, "--key", join(tmp.path, "keys")], e);
    expect(sign.code).toBe(0);
    expect(sign.stdout).toMatch(/^signed org\.weft\.demo\.counter 1\.0\.0 \(4 files\) with key [0-9a-f]{16}; wrote .*signature\.sig\n$/);
    expect((await pack(["verify", dir, "--key", pub], e)).code).toBe(0);

    // Not yet trusted: install refuses, even with --allow-unsigned (it is signed).
    const refused = await pack(["install", dir, "--allow-unsigned"], e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("signed, but no trusted keys are installed");
    cpSync(pub, join(e.WEFT_TRUSTED_KEYS, "me.pub"));
    expect(await pack(["verify", dir], e)).toEqual({ code: 0, stdout: `ok: ${dir} is signed; verified with me\n`, stderr: "" });

    const bundle = join(tmp.path, "org.weft.demo.counter.app.tar.zst");
    const b = await pack(["bundle", dir, "--out", bundle], e);
    expect(b.code).toBe(0);
    expect(b.stdout).toStartWith(`wrote ${bundle} (org.weft.demo.counter, 5 files, `);
    expect((await pack(["verify", bundle], e)).code).toBe(0);

    expect(await pack(["install", bundle], e)).toEqual({
      code: 0,
      stdout: `installed org.weft.demo.counter 1.0.0 (signed by me) in ${join(e.WEFT_APP_STORE, "org.weft.demo.counter")}\n`,
      stderr: "",
    });
    expect((await pack(["install", dir], e)).stdout).toStartWith("reinstalled org.weft.demo.counter 1.0.0 (signed by me)");

    const list = await pack(["list"], e);
    expect(list.stdout.split("\n")[1]).toMatch(/^org\.weft\.demo\.counter\s+1\.0\.0\s+Counter\s+\S+$/);
    const json = JSON.parse((await pack(["list", "--json", "--verify"], e)).stdout);
    expect(json).toEqual([
      { id: "org.weft.demo.counter", name: "Counter", version: "1.0.0", dir: join(e.WEFT_APP_STORE, "org.weft.demo.counter"), shadows: [], problems: [], signature: "signed (me)" },
    ]);

    const info = JSON.parse((await pack(["info", "org.weft.demo.counter", "--json"], e)).stdout);
    expect(info).toMatchObject({ manifest: { id: "org.weft.demo.counter", capabilities: ["fs:rw:app-data", "sys:notifications"] }, module_kind: "core module", files: 4, signature: { status: "signed", key_id: "me" } });
    const human = await pack(["info", bundle], e);
    expect(human.stdout).toContain("signature     signed, verified with trusted key me");
    expect(human.stdout).toContain(`location      ${bundle} (bundle)`);

    // Tampering with the installed copy shows up in info and list --verify.
    writeFileSync(join(e.WEFT_APP_STORE, "org.weft.demo.counter", "ui", "app.js"), "evil()");
    const tampered = await pack(["info", "org.weft.demo.counter"], e);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain("ui/app.js: changed since install");

    const un = await pack(["unbundle", bundle, "--out", join(tmp.path, "out")], e);
    expect(un).toEqual({ code: 0, stdout: `unpacked org.weft.demo.counter into ${join(tmp.path, "out", "org.weft.demo.counter")}\n`, stderr: "" });

    expect((await pack(["uninstall", "org.weft.demo.counter"], e)).stdout).toBe(`uninstalled org.weft.demo.counter 1.0.0 from ${join(e.WEFT_APP_STORE, "org.weft.demo.counter")}\n`);
    expect(existsSync(join(e.WEFT_APP_STORE, "org.weft.demo.counter"))).toBe(false);
    expect((await pack(["list"], e)).stdout).toBe(`no apps installed (looked in ${e.WEFT_APP_STORE})\n`);
  });

  test("unsigned packages need --allow-unsigned", async () => {
    using tmp = tempDir();
    const e = env(tmp.path);
    const dir = makePackage(tmp.path);
    expect(await pack(["install", dir], e)).toEqual({
      code: 1,
      stdout: "",
      stderr: `org.example.hello is not signed; refusing to install it (use --allow-unsigned if you trust where it came from)\nweft pack install: ${dir}: 1 problem\n`,
    });
    expect((await pack(["install", dir, "--allow-unsigned"], e)).stdout).toStartWith("installed org.example.hello 1.0.0 (unsigned)");
    expect(await pack(["verify", dir], e)).toEqual({ code: 3, stdout: "", stderr: `weft pack verify: ${dir}: unsigned (no signature.sig)\n` });
  });
});

describe("weft pack: bad input is one clear line per problem", () => {
  test("check prints every problem and a summary", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path, { manifest: MANIFEST("Org.X").replace('capabilities', "").replace('version = "1.0.0"', 'version = "1.0.0"\ncapabilities = ["fs:write:everything"]'), files: { "app.wasm": "nope" } });
    const r = await pack(["check", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe('wapp.toml: [package].id "Org.X" must match ^[a-z][a-z0-9]*(\\.[a-z][a-z0-9]*){2,}$');
    expect(lines[1]).toStartWith('wapp.toml: [package].capabilities[0] "fs:write:everything" is not a known capability');
    expect(lines[2]).toBe("app.wasm: not a WebAssembly file (does not start with the magic bytes 00 61 73 6d)");
    expect(lines[3]).toBe(`weft pack check: ${dir}: 3 problems`);
  });

  test("missing files, garbage bundles, bad keys, unknown ids", async () => {
    using tmp = tempDir();
    const e = env(tmp.path);
    const garbage = join(tmp.path, "junk.app.tar.zst");
    writeFileSync(garbage, "not an archive");
    const badKey = join(tmp.path, "bad.pub");
    writeFileSync(badKey, "xyz");
    const dir = makePackage(tmp.path);
    const cases: [string[], string][] = [
      [["check", join(tmp.path, "nope")], `${join(tmp.path, "nope")}: not a directory\nweft pack check: ${join(tmp.path, "nope")}: 1 problem\n`],
      [["info", join(tmp.path, "nope")], `weft pack info: ${join(tmp.path, "nope")}: no such file or directory\n`],
      [["info", "org.example.none"], `weft pack info: org.example.none: not installed (looked in ${e.WEFT_APP_STORE})\n`],
      [["install", garbage], `weft pack install: junk.app.tar.zst: not a zstd-compressed tar archive (zstd: unsupported format)\n`],
      [["install", join(tmp.path, "README")], `weft pack install: ${join(tmp.path, "README")}: no such file or directory\n`],
      [["verify", dir, "--key", badKey], `weft pack verify: ${badKey}: not a key file (a key is 64 hex characters, found 3 characters)\n`],
      [["sign", dir, "--key", join(tmp.path, "none.key")], `weft pack sign: ${join(tmp.path, "none.key")}: no such key file\n`],
      [["uninstall", "../../etc"], `"../../etc" is not an app id (must match ^[a-z][a-z0-9]*(\\.[a-z][a-z0-9]*){2,}$)\nweft pack uninstall: ../../etc: 1 problem\n`],
      [["uninstall", "org.example.none"], `weft pack uninstall: org.example.none is not installed in ${e.WEFT_APP_STORE}\n`],
      [["keygen", join(tmp.path, "nowhere")], `weft pack keygen: ${join(tmp.path, "nowhere")}: no such directory\n`],
      [["unbundle", garbage], `weft pack unbundle: junk.app.tar.zst: not a zstd-compressed tar archive (zstd: unsupported format)\n`],
    ];
    for (const [args, stderr] of cases) expect(await pack(args, e)).toEqual({ code: 1, stdout: "", stderr });
    expect(readFileSync(join(dir, "wapp.toml"), "utf8")).toBe(MANIFEST());
  });
});
