// Verified app images: the dm-verity tree against cryptsetup's own
// veritysetup, the EROFS reader against erofs-utils' fsck.erofs --extract,
// reproducible builds, and install/launch refusing every kind of tampering.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErofsError, readErofs } from "../../src/appd/erofs.ts";
import { PackageError } from "../../src/appd/manifest.ts";
import { checkLaunch, installPackage, readRecord, uninstallPackage } from "../../src/appd/package-store.ts";
import { generateKeyPair, type TrustedKey } from "../../src/appd/signature.ts";
import { buildHashFile, decodeSuperblock, defaultParams, toHex, verifyHashTree } from "../../src/appd/verity.ts";
import { buildImage, buildVerity, imageFiles, openImage } from "../../src/appd/verity-image.ts";
import { resetMountSupport } from "../../src/appd/verity-mount.ts";
import { tempDir, WEFT } from "../helpers.ts";
import { writePackage } from "./fixtures.ts";
import { unixClient } from "./unix-client.ts";

const APP = { id: "org.weft.test.image", guest: "ready" };
let tmp: ReturnType<typeof tempDir>;
let signer: { seedHex: string; publicHex: string };
let trusted: TrustedKey[];

beforeAll(async () => {
  tmp = tempDir("weft-verity-");
  signer = await generateKeyPair();
  trusted = [{ id: "test-signer", file: join(tmp.path, "test-signer.pub"), publicHex: signer.publicHex }];
  // The fallback is what this machine can do; the mount path has its own test below.
  process.env.WEFT_VERITY_MOUNT = "0";
  resetMountSupport();
});
afterAll(() => {
  delete process.env.WEFT_VERITY_MOUNT;
  resetMountSupport();
  tmp[Symbol.dispose]();
});

let n = 0;
const fresh = (name: string) => {
  const d = join(tmp.path, `${++n}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A package, its image, its verity files (signed unless told otherwise). */
async function makeImage(opts: { sign?: boolean; dir?: string } = {}) {
  const dir = opts.dir ?? fresh("img");
  const pkg = join(dir, APP.id);
  writePackage(pkg, APP);
  const { file } = await buildImage(pkg, join(dir, `${APP.id}.erofs`));
  const v = await buildVerity(file, { seedHex: opts.sign === false ? undefined : signer.seedHex });
  return { dir, pkg, file, files: imageFiles(file), rootHash: v.rootHash };
}

const sh = (argv: string[], cwd?: string) => {
  const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

function flipByte(path: string, at: number) {
  const b = readFileSync(path);
  b[at] ^= 0x01;
  writeFileSync(path, b);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof PackageError)) throw err;
    return err.problems.join("\n");
  }
  throw new Error("expected a refusal");
}

describe("the dm-verity hash tree is veritysetup's, byte for byte", () => {
  // 1 block: no level; 2–128: one; 129: two; 16385: three (128² + 1).
  test.each([1, 2, 128, 129, 16385])("%d data blocks: same hash file and root hash as veritysetup format", (blocks) => {
    const dir = fresh(`tree-${blocks}`);
    const data = new Uint8Array(blocks * 4096);
    for (let i = 0; i < data.length; i += 509) data[i] = (i * 131 + blocks) & 255;
    writeFileSync(join(dir, "data"), data);
    const ours = buildHashFile(data);
    const uuid = toHex(ours.params.uuid).replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
    const r = sh(["veritysetup", "format", "data", "theirs", `--salt=${toHex(ours.params.salt)}`, `--uuid=${uuid}`, "--root-hash-file=root"], dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "root"), "utf8").trim()).toBe(toHex(ours.rootHash));
    expect(Buffer.from(ours.hashFile).equals(readFileSync(join(dir, "theirs")))).toBe(true);
  }, 60_000);

  test("a hash file veritysetup made with its own random salt is read and checked by weft; weft's is checked by veritysetup verify", () => {
    const dir = fresh("random-salt");
    const data = new Uint8Array(300 * 4096).map((_, i) => (i * 7) & 255);
    writeFileSync(join(dir, "data"), data);
    expect(sh(["veritysetup", "format", "data", "theirs", "--root-hash-file=root"], dir).code).toBe(0);
    const theirs = new Uint8Array(readFileSync(join(dir, "theirs")));
    const root = Buffer.from(readFileSync(join(dir, "root"), "utf8").trim(), "hex");
    expect(decodeSuperblock(theirs).salt.length).toBe(32);
    expect(() => verifyHashTree(data, theirs, root)).not.toThrow();
    const ours = buildHashFile(data);
    writeFileSync(join(dir, "ours"), ours.hashFile);
    expect(sh(["veritysetup", "verify", "data", "ours", toHex(ours.rootHash)], dir)).toMatchObject({ code: 0 });
    // And veritysetup refuses what weft refuses.
    flipByte(join(dir, "data"), 4096 * 123 + 5);
    expect(sh(["veritysetup", "verify", "data", "ours", toHex(ours.rootHash)], dir).code).not.toBe(0);
 }, 30_000);

  test("the salt and UUID come from the image: the same image, the same tree; another image, another salt", () => {
    const a = new Uint8Array(8192).fill(1);
    const b = new Uint8Array(8192).fill(2);
    expect(toHex(buildHashFile(a).hashFile)).toBe(toHex(buildHashFile(a).hashFile));
    expect(toHex(defaultParams(a).salt)).not.toBe(toHex(defaultParams(b).salt));
    expect(() => defaultParams(new Uint8Array(5000))).toThrow("not a whole number of 4096-byte blocks");
  });
});

describe("the EROFS reader reads what fsck.erofs --extract extracts", () => {
  test("files of every size around a block, many entries (multi-block directories), nesting, non-ASCII names", () => {
    const dir = fresh("erofs");
    const src = join(dir, "src");
    mkdirSync(join(src, "a", "b", "c"), { recursive: true });
    mkdirSync(join(src, "many"));
    const sizes = [0, 1, 100, 4095, 4096, 4097, 9000, 20000];
    for (let i = 0; i < 300; i++) writeFileSync(join(src, "many", `file-${i}-${"x".repeat(i % 40)}`), crypto.getRandomValues(new Uint8Array(sizes[i % sizes.length])));
    writeFileSync(join(src, "a", "b", "c", "deep.bin"), crypto.getRandomValues(new Uint8Array(12345)));
    writeFileSync(join(src, "a", "ünïcødé ✓.txt"), "hi");
    writeFileSync(join(src, "empty"), "");
    expect(sh(["mkfs.erofs", "-T0", "-x", "-1", "--all-root", "--quiet", join(dir, "img"), src]).code).toBe(0);
    expect(sh(["fsck.erofs", `--extract=${join(dir, "out")}`, join(dir, "img")]).code).toBe(0);
    const want = new Map<string, string>();
    const dirs: string[] = [];
    const walk = (rel: string) => {
      for (const e of readdirSync(join(dir, "out", rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) dirs.push(p), walk(p);
        else want.set(p, toHex(readFileSync(join(dir, "out", p))));
      }
    };
    walk("");
    const tree = readErofs(new Uint8Array(readFileSync(join(dir, "img"))));
    expect(new Map([...tree.files].map(([p, b]) => [p, toHex(b)]))).toEqual(want);
    expect(tree.dirs.sort()).toEqual(dirs.sort());
    expect(tree.problems).toEqual([]);
    expect(want.size).toBe(303);
  }, 30_000);

  test("symlinks and FIFOs are reported, not read; compressed images and garbage are refused with a reason", () => {
    const dir = fresh("erofs-bad");
    const src = join(dir, "src");
    mkdirSync(src);
    writeFileSync(join(src, "ok.txt"), "ok");
    symlinkSync("/etc/passwd", join(src, "link"));
    expect(sh(["mkfifo", join(src, "fifo")]).code).toBe(0);
    expect(sh(["mkfs.erofs", "-x", "-1", "--quiet", join(dir, "img"), src]).code).toBe(0);
    const tree = readErofs(new Uint8Array(readFileSync(join(dir, "img"))));
    expect(tree.problems).toEqual([
      "fifo: is a special file (device, FIFO or socket); packages hold only regular files and directories",
      "link: is a symlink (packages may not contain symlinks; one could point outside the package)",
    ]);
    expect([...tree.files.keys()]).toEqual(["ok.txt"]);

    const z = join(dir, "z");
    mkdirSync(z);
    writeFileSync(join(z, "big.txt"), "compress me ".repeat(5000));
    expect(sh(["mkfs.erofs", "-zlz4", "-x", "-1", "--quiet", join(dir, "zimg"), z]).code).toBe(0);
    expect(() => readErofs(new Uint8Array(readFileSync(join(dir, "zimg"))))).toThrow(/big\.txt: compressed .* not supported/);
    expect(() => readErofs(new Uint8Array(8192))).toThrow("not an EROFS image");
    const img = new Uint8Array(readFileSync(join(dir, "img")));
    expect(() => readErofs(img.subarray(0, 1160))).toThrow(ErofsError);
    expect(() => readErofs(img.subarray(0, 1160))).toThrow("lies outside the image");
  }, 30_000);
});

describe("weft pack build-image / build-verity", () => {
  test("the same package makes the same image and hash file, whatever its modes, times and copy order", async () => {
    const a = await makeImage();
    const dir = fresh("copy");
    const pkg = join(dir, APP.id);
    cpSync(a.pkg, pkg, { recursive: true });
    chmodSync(join(pkg, "app.wasm"), 0o755);
    chmodSync(join(pkg, "wapp.toml"), 0o600);
    utimesSync(join(pkg, "wapp.toml"), 12345, 12345);
    const { file } = await buildImage(pkg, join(dir, "copy.erofs"));
    await buildVerity(file, { seedHex: signer.seedHex });
    expect(toHex(readFileSync(file))).toBe(toHex(readFileSync(a.file)));
    expect(toHex(readFileSync(`${file}.verity`))).toBe(toHex(readFileSync(a.files.verity)));
    expect(readFileSync(`${file}.roothash`, "utf8")).toBe(a.rootHash);
    // veritysetup agrees with the root hash weft wrote.
    expect(sh(["veritysetup", "verify", a.file, a.files.verity, a.rootHash]).code).toBe(0);
    // A changed package is another image.
    writeFileSync(join(pkg, "ui", "index.html"), "<!doctype html><title>changed</title>");
    await buildImage(pkg, join(dir, "changed.erofs"));
    expect(toHex(readFileSync(join(dir, "changed.erofs")))).not.toBe(toHex(readFileSync(a.file)));
  }, 30_000);

  test("the CLI: build-image, build-verity --key, verify (0 signed, 3 unsigned, 1 tampered), info, install", async () => {
    const dir = fresh("cli");
    const pkg = join(dir, APP.id);
    writePackage(pkg, APP);
    writeFileSync(join(dir, "weft-sign.key"), signer.seedHex);
    mkdirSync(join(dir, "keys"));
    writeFileSync(join(dir, "keys", "test-signer.pub"), signer.publicHex);
    const env = { ...process.env, WEFT_TRUSTED_KEYS: join(dir, "keys"), WEFT_APP_STORE: join(dir, "store"), WEFT_LOG: "warn" };
    const weft = (...args: string[]) => {
      const r = Bun.spawnSync(["bun", WEFT, "pack", ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
    };
    const img = `${APP.id}.erofs`;
    expect(weft("build-image", APP.id)).toMatchObject({ code: 0, out: expect.stringContaining(`wrote ${join(dir, img)} (${APP.id}, 3 files,`) });
    expect(weft("build-verity", img)).toMatchObject({ code: 0, out: expect.stringContaining("unsigned: sign it with") });
    expect(weft("verify", img)).toMatchObject({ code: 3, err: expect.stringContaining("the root hash is unsigned") });
    expect(weft("sign", img, "--key", "weft-sign.key")).toMatchObject({ code: 0 });
    const ok = weft("verify", img);
    expect(ok).toMatchObject({ code: 0, out: expect.stringContaining(`signed; verified with test-signer`) });
    expect(weft("info", img)).toMatchObject({ code: 0, out: expect.stringMatching(/image +root hash [0-9a-f]{64} \(\d+ blocks verified\), signed, verified with trusted key test-signer/) });
    expect(weft("install", img)).toMatchObject({ code: 0, out: expect.stringContaining(`installed ${APP.id} 1.0.0 (signed by test-signer)`) });
    flipByte(join(dir, img), 5000);
    expect(weft("verify", img)).toMatchObject({ code: 1, err: expect.stringContaining("root hash mismatch") });
  }, 60_000);
});

describe("install and launch of a verified image", () => {
  test("a signed image installs like a bundle; a launch verifies it and falls back to the extracted copy", async () => {
    const img = await makeImage();
    const root = fresh("store");
    const r = await installPackage(img.file, { root, trustedKeys: trusted });
    expect(r).toMatchObject({ id: APP.id, signature: "signed", keyId: "test-signer", dir: join(root, APP.id) });
    expect(readFileSync(join(root, APP.id, "wapp.toml"), "utf8")).toBe(readFileSync(join(img.pkg, "wapp.toml"), "utf8"));
    expect((await readRecord(root, APP.id))?.image).toEqual({ rootHash: img.rootHash, signature: "signed", keyId: "test-signer" });
    const c = await checkLaunch(APP.id, { roots: [root], trustedKeys: trusted });
    expect({ dir: c.app.dir, status: c.verification.status, keyId: c.verification.keyId }).toEqual({ dir: join(root, APP.id), status: "signed", keyId: "test-signer" });
    // The key is no longer trusted: the launch is refused.
    expect(await refusal(checkLaunch(APP.id, { roots: [root], trustedKeys: [] }))).toContain("no trusted keys are installed");
  }, 30_000);

  test("one flipped byte in the data, the hash tree or the root hash, a bad signature, an untrusted key: refused, nothing installed", async () => {
    const cases: [string, (i: Awaited<ReturnType<typeof makeImage>>) => void, string][] = [
      ["data", (i) => flipByte(i.file, 4096 * 2 + 17), "root hash mismatch: the image's data hashes to"],
      ["hash tree", (i) => flipByte(i.files.verity, 4096 + 40), "the hash file's tree differs from the image's at hash block 1"],
      ["root hash", (i) => writeFileSync(i.files.rootHash, (i.rootHash[0] === "0" ? "1" : "0") + i.rootHash.slice(1)), "the root hash signature does not verify with key test-signer"],
      ["salt in the superblock", (i) => flipByte(i.files.verity, 88), "the root hash signature does not verify"],
      ["signature", (i) => writeFileSync(i.files.signature, "00".repeat(64)), "the root hash signature does not verify"],
      ["malformed signature", (i) => writeFileSync(i.files.signature, "not hex"), "malformed (an Ed25519 signature is 128 hex characters)"],
      ["missing hash file", (i) => Bun.spawnSync(["rm", i.files.verity]), ".erofs.verity: missing"],
    ];
    for (const [what, tamper, message] of cases) {
      const img = await makeImage();
      tamper(img);
      const root = fresh("store");
      const why = await refusal(installPackage(img.file, { root, trustedKeys: trusted, allowUnsigned: true }));
      expect({ what, why }).toEqual({ what, why: expect.stringContaining(message) });
      expect({ what, left: existsSync(join(root, APP.id)) }).toEqual({ what, left: false });
    }
    // Signed with a key that is not trusted.
    const img = await makeImage();
    const other = await generateKeyPair();
    expect(await refusal(installPackage(img.file, { root: fresh("store"), trustedKeys: [{ id: "other", file: "other.pub", publicHex: other.publicHex }] }))).toContain(
      "does not verify with key other",
    );
  }, 60_000);

  test("an unsigned root hash is refused unless unsigned is allowed (and then its data must still match it)", async () => {
    const img = await makeImage({ sign: false });
    expect(await refusal(installPackage(img.file, { root: fresh("store"), trustedKeys: trusted }))).toContain("the image's root hash is not signed");
    const root = fresh("store");
    expect(await installPackage(img.file, { root, trustedKeys: trusted, allowUnsigned: true })).toMatchObject({ signature: "unsigned" });
    expect((await checkLaunch(APP.id, { roots: [root], trustedKeys: trusted })).verification.status).toBe("unsigned");
    const bad = await makeImage({ sign: false });
    writeFileSync(bad.files.rootHash, "ab".repeat(32));
    expect(await refusal(installPackage(bad.file, { root: fresh("store"), trustedKeys: trusted, allowUnsigned: true }))).toContain("root hash mismatch");
  }, 30_000);

  test("after install: a changed stored image, hash file or extracted copy stops the launch", async () => {
    const img = await makeImage();
    const root = fresh("store");
    await installPackage(img.file, { root, trustedKeys: trusted });
    const stored = imageFiles(join(root, ".weft", "images", `${APP.id}.erofs`));
    const launch = () => checkLaunch(APP.id, { roots: [root], trustedKeys: trusted });
    await launch();

    flipByte(stored.image, 4096 + 3);
    expect(await refusal(launch())).toContain(`${APP.id}: stored image ${APP.id}.erofs: root hash mismatch`);
    flipByte(stored.image, 4096 + 3);
    await launch();

    flipByte(stored.verity, 4096 + 1);
    expect(await refusal(launch())).toContain("the hash file's tree differs");
    flipByte(stored.verity, 4096 + 1);
    await launch();

    writeFileSync(join(root, APP.id, "ui", "index.html"), "<!doctype html><title>swapped</title>");
    writeFileSync(join(root, APP.id, "extra.txt"), "added");
    expect(await refusal(launch())).toBe(
      [`${APP.id}: the extracted copy of its verified image was changed:`, "extra.txt: added since the image was verified", "ui/index.html: changed since the image was verified"].join("\n"),
    );
  }, 30_000);

  test("a directory install over an image install, and an uninstall, remove the stored image", async () => {
    const img = await makeImage();
    const root = fresh("store");
    await installPackage(img.file, { root, trustedKeys: trusted });
    const kept = join(root, ".weft", "images");
    expect(readdirSync(kept).sort()).toEqual([`${APP.id}.erofs`, `${APP.id}.erofs.roothash`, `${APP.id}.erofs.roothash.sig`, `${APP.id}.erofs.verity`]);
    await installPackage(img.pkg, { root, trustedKeys: trusted, allowUnsigned: true });
    expect(readdirSync(kept)).toEqual([]);
    expect((await readRecord(root, APP.id))?.image).toBeUndefined();
    await installPackage(img.file, { root, trustedKeys: trusted });
    await uninstallPackage(APP.id, { root });
    expect(readdirSync(kept)).toEqual([]);
  }, 30_000);

  test("weft run launches an app installed from an image (the fallback, said once in the log) and the app runs", async () => {
    const img = await makeImage();
    const dir = fresh("run");
    const keys = join(dir, "keys");
    mkdirSync(keys);
    writeFileSync(join(keys, "test-signer.pub"), signer.publicHex);
    const env = { XDG_RUNTIME_DIR: join(dir, "run"), WEFT_APP_STORE: join(dir, "store"), WEFT_TRUSTED_KEYS: keys, WEFT_LOG: "info", WEFT_VERITY_MOUNT: "0", HOME: dir };
    mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    await installPackage(img.file, { root: env.WEFT_APP_STORE, trustedKeys: trusted });
    const proc = Bun.spawn(["bun", WEFT, "run", "--no-compositor", "--http-port", "0"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    try {
      const reader = proc.stdout.getReader();
      let out = "";
      const deadline = setTimeout(() => proc.kill(), 20_000);
      while (!/APPD_SOCKET=(.*)\n/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`weft exited before serving: ${await new Response(proc.stderr).text()}`);
        out += new TextDecoder().decode(value);
      }
      clearTimeout(deadline);
      const c = await unixClient(/APPD_SOCKET=(.*)\n/.exec(out)![1]);
      expect(await c.request(["LAUNCH_APP", APP.id, 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 1 });
      const end = performance.now() + 15_000;
      for (;;) {
        const s = await c.request({ type: "QUERY_APP_STATE", session_id: 1 });
        if (s.type === "APP_STATE" && s.state === "running") break;
        if (performance.now() > end) throw new Error(`the app never ran: ${JSON.stringify(s)}`);
      }
      await c.close();
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
    const log = await new Response(proc.stderr).text();
    const lines = log.split("\n").filter((l) => l.includes("not mounted with dm-verity"));
    expect(lines).toEqual([
      `weft info: ${APP.id}: image verified in userspace (root hash ${img.rootHash.slice(0, 16)}…); not mounted with dm-verity: WEFT_VERITY_MOUNT=0; running the extracted copy ${join(env.WEFT_APP_STORE, APP.id)}`,
    ]);
    expect(log).toContain(`launched ${APP.id} 1.0.0 (signed)`);
  }, 60_000);
});

describe("the dm-verity mount path", () => {
  test("this machine's verdict names what is missing (the mount itself runs only where root has dm-verity and erofs)", async () => {
    const saved = process.env.WEFT_VERITY_MOUNT;
    delete process.env.WEFT_VERITY_MOUNT;
    resetMountSupport();
    try {
      const { mountSupport } = await import("../../src/appd/verity-mount.ts");
      const s = mountSupport();
      if (s.ok) return; // where it can mount, the opt-in VM check (docs/deploy.md) is the test
      expect(s.reason).toMatch(/not running as root|veritysetup is not installed|no EROFS support|no device-mapper|no dm-verity/);
    } finally {
      process.env.WEFT_VERITY_MOUNT = saved;
      resetMountSupport();
    }
  });
});

// Keep `openImage` honest about the order of checks: the signature before reading the image at all.
test("openImage checks the signature before the image: a huge or missing image is not read when the signature fails", async () => {
  const img = await makeImage();
  writeFileSync(img.files.signature, "11".repeat(64));
  Bun.spawnSync(["rm", img.file]);
  expect(await refusal(openImage(img.file, trusted))).toContain("the root hash signature does not verify");
}, 30_000);
