// The store: roots, atomic install/upgrade/uninstall, crash recovery,
// concurrency, and the launch-time re-verification the daemon relies on.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  appDataDir,
  appStoreRoots,
  checkLaunch,
  installPackage,
  listInstalled,
  readRecord,
  resolveApp,
  uninstallPackage,
  userStoreRoot,
} from "../../src/appd/package-store.ts";
import { loadTrustedKeys, signPackage } from "../../src/appd/signature.ts";
import { copyFixture, makeKeys, makePackage, MANIFEST, mkfifo, ROOT, tempDir, writeFiles } from "./helpers.ts";

const ID = "org.example.hello";

/** A store root, a signing key trusted by it, and a helper to make signed packages of a given version. */
async function setup(tmp: string) {
  const root = join(tmp, "store");
  const k = await makeKeys(tmp);
  const { keys } = await loadTrustedKeys([k.trusted]);
  let n = 0;
  const pkg = async (version: string, opts: { sign?: boolean; files?: Record<string, string>; id?: string } = {}) => {
    const id = opts.id ?? ID;
    const dir = makePackage(join(tmp, `src${n++}`), { id, manifest: MANIFEST(id).replace('version = "1.0.0"', `version = "${version}"`), files: { "ui/v.txt": version, ...opts.files } });
    if (opts.sign !== false) await signPackage(dir, k.seedHex);
    return dir;
  };
  return { root, keys, k, pkg, opts: { root, trustedKeys: keys } };
}

/** What a reader sees under the store: ids and the .weft work dirs (only lock/ and records/ when idle). */
const storeState = (root: string) => ({
  ids: readdirSync(root).filter((n) => !n.startsWith(".")).sort(),
  work: readdirSync(join(root, ".weft")).sort(),
});
const installedVersion = (root: string, id = ID) => readFileSync(join(root, id, "ui", "v.txt"), "utf8");

describe("roots", () => {
  test("$WEFT_APP_STORE alone if set; else the user's then the system's", () => {
    const saved = { store: process.env.WEFT_APP_STORE, data: process.env.XDG_DATA_HOME, home: process.env.HOME };
    try {
      process.env.WEFT_APP_STORE = "/x/apps";
      expect(appStoreRoots()).toEqual(["/x/apps"]);
      expect(userStoreRoot()).toBe("/x/apps");
      expect(appDataDir(ID)).toBe(`/x/apps/${ID}/data`);
      delete process.env.WEFT_APP_STORE;
      delete process.env.XDG_DATA_HOME;
      process.env.HOME = "/home/u";
      expect(appStoreRoots()).toEqual(["/home/u/.local/share/weft/apps", "/usr/share/weft/apps"]);
      expect(appDataDir(ID)).toBe(`/home/u/.local/share/weft/apps/${ID}/data`);
      expect(() => appDataDir("../../etc")).toThrow('"../../etc" is not an app id');
    } finally {
      for (const [k, v] of [["WEFT_APP_STORE", saved.store], ["XDG_DATA_HOME", saved.data], ["HOME", saved.home]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

describe("install", () => {
  test("a signed package: installed, recorded, listed, resolved, and verified again at launch", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const r = await installPackage(await s.pkg("1.0.0"), s.opts);
    expect(r).toEqual({ id: ID, version: "1.0.0", dir: join(s.root, ID), signature: "signed", keyId: "dev" });
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
    expect(readdirSync(join(s.root, ID)).sort()).toEqual(["app.wasm", "signature.sig", "ui", "wapp.toml"]);
    expect(await readRecord(s.root, ID)).toMatchObject({ id: ID, version: "1.0.0", signature: "signed", keyId: "dev" });
    const list = await listInstalled([s.root]);
    expect(list.map((a) => [a.id, a.manifest?.name, a.manifest?.version, a.problems])).toEqual([[ID, "Hello", "1.0.0", []]]);
    expect((await resolveApp(ID, [s.root]))?.dir).toBe(join(s.root, ID));
    const launch = await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys });
    expect(launch.verification).toMatchObject({ status: "signed", keyId: "dev" });
    // The app's data dir does not disturb verification.
    writeFiles(join(s.root, ID), { "data/state.json": "{}" });
    expect((await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).verification.status).toBe("signed");
  });

  test("a WEFT OS package installs unmodified (signed with weft's keys)", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const dir = copyFixture("weft-counter", tmp.path);
    await signPackage(dir, s.k.seedHex);
    expect((await installPackage(dir, s.opts)).id).toBe("org.weft.demo.counter");
    expect((await checkLaunch("org.weft.demo.counter", { roots: [s.root], trustedKeys: s.keys })).app.manifest.capabilities).toEqual(["fs:rw:app-data", "sys:notifications"]);
  });

  test("unsigned: refused unless allowed; then launch is allowed only while unchanged", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const src = await s.pkg("1.0.0", { sign: false });
    await expect(installPackage(src, s.opts)).rejects.toThrow(`${ID} is not signed; refusing to install it (use --allow-unsigned if you trust where it came from)`);
    expect(existsSync(join(s.root, ID))).toBe(false);
    expect((await installPackage(src, { ...s.opts, allowUnsigned: true })).signature).toBe("unsigned");
    expect((await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).verification.status).toBe("unsigned");
    writeFileSync(join(s.root, ID, "ui", "index.html"), "<script>evil()</script>");
    await expect(checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).rejects.toThrow(
      `${ID} has 2 problems:\n  ${ID}: unsigned package changed since install:\n  ${ID}: ui/index.html: changed since install`,
    );
  });

  test("signed but tampered (or by an untrusted key) is refused even with --allow-unsigned", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const src = await s.pkg("1.0.0");
    writeFileSync(join(src, "app.wasm"), new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]));
    await expect(installPackage(src, { ...s.opts, allowUnsigned: true })).rejects.toThrow("signature.sig: does not verify with key dev");
    const stranger = await setup(join(tmp.path, "other"));
    await expect(installPackage(await stranger.pkg("1.0.0"), { ...s.opts, allowUnsigned: true })).rejects.toThrow("signature.sig: does not verify with key dev");
    expect(storeState(s.root)).toEqual({ ids: [], work: [] });
  });

  test("a package changed after install is refused at launch, naming the file", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    writeFileSync(join(s.root, ID, "ui", "v.txt"), "evil");
    rmSync(join(s.root, ID, "app.wasm"));
    writeFileSync(join(s.root, ID, "app.wasm"), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1]));
    const err = await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys }).catch((e) => e);
    expect(err.problems).toEqual([
      `${ID}: signature.sig: does not match the package's files (tried dev):`,
      `${ID}: app.wasm: changed since install`,
      `${ID}: ui/v.txt: changed since install`,
    ]);
  });

  test("ids that break the rule or try traversal are refused everywhere", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const bad = makePackage(tmp.path, { name: "bad", manifest: MANIFEST("../../etc/x") });
    await expect(installPackage(bad, { ...s.opts, allowUnsigned: true })).rejects.toThrow('[package].id "../../etc/x" must match');
    for (const id of ["../../etc", "org.example", "ORG.X.Y", ".weft"]) {
      await expect(uninstallPackage(id, { root: s.root })).rejects.toThrow(`"${id}" is not an app id`);
      await expect(resolveApp(id, [s.root])).rejects.toThrow(`"${id}" is not an app id`);
    }
    expect(existsSync(join(tmp.path, "etc"))).toBe(false);
  });

  test("invalid packages are refused with every problem, and nothing is left behind", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const src = makePackage(tmp.path, { manifest: MANIFEST().replace('name = "Hello"', 'name = ""').replace("ui/index.html", "ui/missing.html") });
    const err = await installPackage(src, { ...s.opts, allowUnsigned: true }).catch((e) => e);
    expect(err.problems).toEqual(["wapp.toml: [package].name must be 1–64 characters, got 0", 'wapp.toml: [ui].entry "ui/missing.html": no such file in the package']);
    expect(storeState(s.root)).toEqual({ ids: [], work: [] });
  });
});

describe("atomicity", () => {
  test("a failure midway through the copy (a FIFO among the files) leaves nothing under the id and the old version intact", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    const src = await s.pkg("2.0.0", { sign: false, files: { "a/1.txt": "copied first", "z/1.txt": "never reached" } });
    mkfifo(join(src, "m-fifo"));
    await expect(installPackage(src, { ...s.opts, allowUnsigned: true })).rejects.toThrow("m-fifo: is a special file");
    expect(installedVersion(s.root)).toBe("1.0.0");
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
    expect((await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).verification.status).toBe("signed");
    // And a first install that fails leaves no trace of the id at all.
    rmSync(join(s.root, ID), { recursive: true });
    await expect(installPackage(src, { ...s.opts, allowUnsigned: true })).rejects.toThrow("m-fifo");
    expect(storeState(s.root)).toEqual({ ids: [], work: ["lock", "records"] });
  });

  test("a failure after verification, just before the swap, changes nothing", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    const boom = () => {
      throw new Error("disk on fire");
    };
    await expect(installPackage(await s.pkg("2.0.0"), { ...s.opts, beforeCommit: boom })).rejects.toThrow("disk on fire");
    expect(installedVersion(s.root)).toBe("1.0.0");
    expect((await readRecord(s.root, ID))?.version).toBe("1.0.0");
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
  });

  test("kill -9 during an install: the old version stays, and the next install sweeps the leftovers", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    writeFiles(join(s.root, ID), { "data/notes.txt": "precious" });
    const src = await s.pkg("2.0.0");
    const script = join(tmp.path, "crash.ts");
    writeFileSync(
      script,
      `import { installPackage } from ${JSON.stringify(join(ROOT, "src/appd/package-store.ts"))};
       import { loadTrustedKeys } from ${JSON.stringify(join(ROOT, "src/appd/signature.ts"))};
       const { keys } = await loadTrustedKeys([${JSON.stringify(s.k.trusted)}]);
       await installPackage(${JSON.stringify(src)}, { root: ${JSON.stringify(s.root)}, trustedKeys: keys,
         beforeCommit: () => { console.log("staged"); return new Promise(() => {}); } });`,
    );
    await using proc = Bun.spawn(["bun", script], { stdout: "pipe", stderr: "inherit" });
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("staged\n");
    proc.kill("SIGKILL");
    await proc.exited;
    // Mid-install: the id still shows the old version; the half-done copy is in .weft only.
    expect(installedVersion(s.root)).toBe("1.0.0");
    expect(storeState(s.root).work.filter((n) => n.startsWith("stage-"))).toHaveLength(1);
    expect(await listInstalled([s.root])).toHaveLength(1);
    const r = await installPackage(src, s.opts);
    expect(r.replaced).toBe("1.0.0");
    expect(installedVersion(s.root)).toBe("2.0.0");
    expect(readFileSync(join(s.root, ID, "data/notes.txt"), "utf8")).toBe("precious");
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
  });

  test("a crash in the middle of the swap (old moved aside, new not yet in) is repaired by the next operation", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    writeFiles(join(s.root, ID), { "data/notes.txt": "precious" });
    // Reproduce exactly what a dead installer leaves at that instant.
    await using dead = Bun.spawn(["true"]);
    await dead.exited;
    const stage = join(s.root, ".weft", `stage-${dead.pid}-abc123`);
    mkdirSync(join(stage, "pkg"), { recursive: true });
    const { renameSync } = await import("node:fs");
    renameSync(join(s.root, ID, "data"), join(stage, "pkg", "data"));
    renameSync(join(s.root, ID), join(stage, "old"));
    writeFileSync(join(stage, "pkg", "wapp.toml"), MANIFEST());
    expect(await listInstalled([s.root])).toEqual([]);
    const r = await installPackage(await s.pkg("3.0.0"), s.opts);
    expect(r.replaced).toBe("1.0.0");
    expect(installedVersion(s.root)).toBe("3.0.0");
    expect(readFileSync(join(s.root, ID, "data/notes.txt"), "utf8")).toBe("precious");
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
  });

  test("concurrent installs of one id (in-process and in other processes) never corrupt it", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const srcs = await Promise.all(["1", "2", "3", "4", "5", "6"].map((v) => s.pkg(`${v}.0.0`, { files: { [`only-in-${v}.txt`]: v } })));
    const script = join(tmp.path, "install.ts");
    writeFileSync(
      script,
      `import { installPackage } from ${JSON.stringify(join(ROOT, "src/appd/package-store.ts"))};
       import { loadTrustedKeys } from ${JSON.stringify(join(ROOT, "src/appd/signature.ts"))};
       const { keys } = await loadTrustedKeys([${JSON.stringify(s.k.trusted)}]);
       await installPackage(process.argv[2], { root: ${JSON.stringify(s.root)}, trustedKeys: keys });`,
    );
    const procs = srcs.slice(4).map((src) => Bun.spawn(["bun", script, src], { stdout: "inherit", stderr: "inherit" }));
    try {
      const results = await Promise.all(srcs.slice(0, 4).map((src) => installPackage(src, s.opts)));
      expect(results.every((r) => r.id === ID)).toBe(true);
      expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
    } finally {
      for (const p of procs) p.kill();
    }
    // Exactly one whole version is there, its record matches it, and it verifies.
    const version = installedVersion(s.root);
    const v = version[0];
    expect(readdirSync(join(s.root, ID)).filter((n) => n.startsWith("only-in-"))).toEqual([`only-in-${v}.txt`]);
    expect((await readRecord(s.root, ID))?.version).toBe(version);
    expect((await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).verification.status).toBe("signed");
    expect(storeState(s.root)).toEqual({ ids: [ID], work: ["lock", "records"] });
    expect(readdirSync(join(s.root, ".weft", "lock"))).toEqual([]);
  });
});

describe("locks", () => {
  test("a lock left by a dead process is taken over; a live one makes others wait, then fail clearly", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const lock = join(s.root, ".weft", "lock", `${ID}.lock`);
    mkdirSync(join(s.root, ".weft", "lock"), { recursive: true });
    await using dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(lock, `${dead.pid}\n`);
    expect((await installPackage(await s.pkg("1.0.0"), s.opts)).version).toBe("1.0.0");
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, `${process.pid}\n`); // held by a live process (us)
    await expect(installPackage(await s.pkg("2.0.0"), { ...s.opts, lockTimeoutMs: 0 })).rejects.toThrow(
      `${ID}: another install or uninstall is in progress (pid ${process.pid}, lock ${lock})`,
    );
    await expect(uninstallPackage(ID, { root: s.root, lockTimeoutMs: 0 })).rejects.toThrow("another install or uninstall is in progress");
    expect(installedVersion(s.root)).toBe("1.0.0");
    rmSync(lock);
  });
});

describe("launch checks", () => {
  test("a repeated check is answered from what was verified, and any change to any file is still caught", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    const opts = { roots: [s.root], trustedKeys: s.keys };
    const first = await checkLaunch(ID, opts);
    expect(await checkLaunch(ID, opts)).toBe(first); // the same verified result, not a new check
    // Same size, mtime put back: only ctime (and the bytes) say it changed.
    const file = join(s.root, ID, "ui", "v.txt");
    const { atime, mtime } = statSync(file);
    writeFileSync(file, "9.9.9");
    utimesSync(file, atime, mtime);
    const err = await checkLaunch(ID, opts).catch((e) => e);
    expect(err.problems).toEqual([`${ID}: signature.sig: does not match the package's files (tried dev):`, `${ID}: ui/v.txt: changed since install`]);
    writeFileSync(file, "1.0.0");
    expect((await checkLaunch(ID, opts)).verification.status).toBe("signed");
    // A file added, and a trusted key gone, are misses too.
    writeFileSync(join(s.root, ID, "ui", "new.txt"), "x");
    expect((await checkLaunch(ID, opts).catch((e) => e)).problems).toContain(`${ID}: ui/new.txt: added since install`);
    rmSync(join(s.root, ID, "ui", "new.txt"));
    expect((await checkLaunch(ID, { ...opts, trustedKeys: [] }).catch((e) => e)).message).toContain("no trusted keys are installed");
  });

  test("a launch while an install of the same id holds its lock waits for it, then sees the new version", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    const opts = { roots: [s.root], trustedKeys: s.keys };
    await checkLaunch(ID, opts);
    // Mid-swap as an install leaves it: lock held by a live process, the old version moved aside.
    const lock = join(s.root, ".weft", "lock", `${ID}.lock`);
    writeFileSync(lock, `${process.pid}\n`);
    renameSync(join(s.root, ID), join(tmp.path, "aside"));
    let settled = false;
    const launch = checkLaunch(ID, opts).finally(() => (settled = true));
    const next = await s.pkg("2.0.0");
    expect(settled).toBe(false);
    // The "installer" finishes: release the lock and let a real install put 2.0.0 in place.
    rmSync(lock);
    renameSync(join(tmp.path, "aside"), join(s.root, ID));
    const [check] = await Promise.all([launch, installPackage(next, s.opts)]);
    expect(["1.0.0", "2.0.0"]).toContain(check.app.manifest.version); // whichever it saw, it saw a whole one
    expect((await checkLaunch(ID, opts)).app.manifest.version).toBe("2.0.0");
    // A lock held for too long is a clear error, not a hang.
    writeFileSync(lock, `${process.pid}\n`);
    await expect(checkLaunch(ID, { ...opts, lockTimeoutMs: 50 })).rejects.toThrow(`${ID}: an install or uninstall has held ${lock} for over 0.05 s`);
    rmSync(lock);
  });
});

describe("upgrade and uninstall", () => {
  test("upgrade replaces the version and keeps the app's data", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0", { files: { "old-only.txt": "x" } }), s.opts);
    writeFiles(join(s.root, ID), { "data/notes.txt": "precious" });
    const r = await installPackage(await s.pkg("2.0.0"), s.opts);
    expect(r).toMatchObject({ version: "2.0.0", replaced: "1.0.0" });
    expect(installedVersion(s.root)).toBe("2.0.0");
    expect(existsSync(join(s.root, ID, "old-only.txt"))).toBe(false);
    expect(readFileSync(join(s.root, ID, "data/notes.txt"), "utf8")).toBe("precious");
    expect((await readRecord(s.root, ID))?.version).toBe("2.0.0");
    expect((await checkLaunch(ID, { roots: [s.root], trustedKeys: s.keys })).verification.status).toBe("signed");
  });

  test("uninstall removes package, data and record; --keep-data keeps only the data, and a reinstall finds it", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    writeFiles(join(s.root, ID), { "data/notes.txt": "precious" });
    expect(await uninstallPackage(ID, { root: s.root, keepData: true })).toEqual({ id: ID, dir: join(s.root, ID), version: "1.0.0" });
    expect(readdirSync(join(s.root, ID))).toEqual(["data"]);
    expect(await listInstalled([s.root])).toEqual([]);
    expect(await resolveApp(ID, [s.root])).toBeNull();
    expect(await readRecord(s.root, ID)).toBeNull();
    await expect(uninstallPackage(ID, { root: s.root })).rejects.toThrow(`${ID} is not installed in ${s.root}`);
    await installPackage(await s.pkg("1.1.0"), s.opts);
    expect(readFileSync(join(s.root, ID, "data/notes.txt"), "utf8")).toBe("precious");
    await uninstallPackage(ID, { root: s.root });
    expect(storeState(s.root)).toEqual({ ids: [], work: ["lock", "records"] });
  });
});

describe("two roots", () => {
  test("the first root wins per id; later ones are reported as shadowed; data-only dirs shadow nothing", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    const user = join(tmp.path, "user");
    const system = join(tmp.path, "system");
    await installPackage(await s.pkg("2.0.0"), { ...s.opts, root: user });
    await installPackage(await s.pkg("1.0.0"), { ...s.opts, root: system });
    await installPackage(await s.pkg("1.0.0", { id: "org.example.other" }), { ...s.opts, root: system });
    await installPackage(await s.pkg("1.0.0", { id: "org.example.third" }), { ...s.opts, root: system });
    writeFiles(user, { "org.example.third/data/x": "user data of a system app", "not-an-id/wapp.toml": "junk" });
    const list = await listInstalled([user, system]);
    expect(list.map((a) => [a.id, a.root, a.manifest?.version, a.shadows])).toEqual([
      ["org.example.hello", user, "2.0.0", [system]],
      ["org.example.other", system, "1.0.0", []],
      ["org.example.third", system, "1.0.0", []],
    ]);
    expect((await resolveApp(ID, [user, system]))?.root).toBe(user);
    expect((await resolveApp("org.example.third", [user, system]))?.root).toBe(system);
    expect(await resolveApp("org.example.none", [user, system])).toBeNull();
    expect((await checkLaunch("org.example.other", { roots: [user, system], trustedKeys: s.keys })).app.root).toBe(system);
  });

  test("a broken installed package is listed with its problems and refused at resolve", async () => {
    using tmp = tempDir();
    const s = await setup(tmp.path);
    await installPackage(await s.pkg("1.0.0"), s.opts);
    writeFileSync(join(s.root, ID, "wapp.toml"), MANIFEST("org.example.other"));
    expect((await listInstalled([s.root]))[0].problems).toEqual([`wapp.toml: [package].id "org.example.other" does not match its directory ${join(s.root, ID)}`]);
    await expect(resolveApp(ID, [s.root])).rejects.toThrow("does not match its directory");
  });
});
