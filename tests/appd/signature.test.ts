// Signatures as spec §2 defines them: the listing format, real Ed25519
// (checked against RFC 8032 and node:crypto), keygen → sign → verify, and
// every kind of tampering.
import { describe, expect, test } from "bun:test";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  fingerprint,
  loadTrustedKeys,
  packageDigest,
  publicKeyOf,
  readKeyFile,
  signDigest,
  signPackage,
  trustedKeyDirs,
  verifyPackage,
  walkPackage,
  writeKeyPair,
} from "../../src/appd/signature.ts";
import { copyFixture, makeKeys, makePackage, tempDir, writeFiles } from "./helpers.ts";

const sha = (s: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

describe("the listing", () => {
  test("is `<relpath>\\t<sha256>\\n`, sorted by UTF-8 bytes, recursive, without the top-level signature.sig", async () => {
    using tmp = tempDir();
    const dir = join(tmp.path, "p");
    writeFiles(dir, { "b.txt": "B", "a/z.txt": "Z", "a/b/c.txt": "C", "signature.sig": "x", "ui/signature.sig": "kept", "\u{1F600}.txt": "astral", "\uFFFD.txt": "bmp" });
    mkdirSync(join(dir, "empty"));
    const d = await packageDigest(dir);
    const expected =
      `a/b/c.txt\t${sha("C")}\n` + `a/z.txt\t${sha("Z")}\n` + `b.txt\t${sha("B")}\n` + `ui/signature.sig\t${sha("kept")}\n` + `\uFFFD.txt\t${sha("bmp")}\n` + `\u{1F600}.txt\t${sha("astral")}\n`;
    expect(d.listing).toBe(expected);
    expect(Buffer.from(d.digest).toString("hex")).toBe(sha(expected));
  });

  test("names with a tab or newline and symlinks cannot be signed", async () => {
    using tmp = tempDir();
    const dir = join(tmp.path, "p");
    writeFiles(dir, { "a\tb": "x", "ok.txt": "y" });
    symlinkSync("/etc", join(dir, "etc"));
    expect((await walkPackage(dir)).problems).toEqual([
      '"a\\tb": file names may not contain tabs or newlines',
      "etc: is a symlink (packages may not contain symlinks; one could point outside the package)",
    ]);
    await expect(packageDigest(dir)).rejects.toThrow("file names may not contain tabs or newlines");
  });
});

describe("keys", () => {
  test("RFC 8032 test 1: seed → public key and signature", async () => {
    const seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    expect(await publicKeyOf(seed)).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    expect(await signDigest(seed, new Uint8Array())).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  test("keygen writes 64 hex chars each, the private key 0600, and never overwrites", async () => {
    using tmp = tempDir();
    const kp = await writeKeyPair(tmp.path);
    expect(readFileSync(kp.keyFile, "utf8")).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(kp.pubFile, "utf8")).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(kp.keyFile).mode & 0o777).toBe(0o600);
    expect(await publicKeyOf(kp.seedHex)).toBe(kp.publicHex);
    expect(await readKeyFile(kp.keyFile)).toBe(kp.seedHex);
    await expect(writeKeyPair(tmp.path)).rejects.toThrow(`${kp.keyFile} already exists (use --force to replace it)`);
    expect(readFileSync(kp.keyFile, "utf8")).toBe(kp.seedHex);
    expect((await writeKeyPair(tmp.path, true)).seedHex).not.toBe(kp.seedHex);
  });

  test("key files: whitespace and upper case are fine; anything else is a clear error", async () => {
    using tmp = tempDir();
    const f = join(tmp.path, "k.pub");
    writeFileSync(f, ` ${"AB".repeat(32)}\n`);
    expect(await readKeyFile(f)).toBe("ab".repeat(32));
    writeFileSync(f, "ab".repeat(31));
    await expect(readKeyFile(f)).rejects.toThrow(`${f}: not a key file (a key is 64 hex characters, found 62 characters)`);
    await expect(readKeyFile(join(tmp.path, "none"))).rejects.toThrow("no such key file");
  });

  test("trusted keys: WEFT_TRUSTED_KEYS overrides; bad .pub files are warnings; other files ignored", async () => {
    using tmp = tempDir();
    const a = join(tmp.path, "a");
    const b = join(tmp.path, "b");
    writeFiles(a, { "one.pub": "11".repeat(32), "notes.txt": "x" });
    writeFiles(b, { "two.pub": "22".repeat(32), "bad.pub": "zz" });
    const saved = process.env.WEFT_TRUSTED_KEYS;
    process.env.WEFT_TRUSTED_KEYS = `${a}:${b}:${join(tmp.path, "missing")}`;
    try {
      expect(trustedKeyDirs()).toEqual([a, b, join(tmp.path, "missing")]);
      expect(await loadTrustedKeys()).toEqual({
        keys: [
          { id: "one", file: join(a, "one.pub"), publicHex: "11".repeat(32) },
          { id: "two", file: join(b, "two.pub"), publicHex: "22".repeat(32) },
        ],
        warnings: [`trusted key ${join(b, "bad.pub")}: not a key file (a key is 64 hex characters, found 2 characters); ignored`],
      });
    } finally {
      if (saved === undefined) delete process.env.WEFT_TRUSTED_KEYS;
      else process.env.WEFT_TRUSTED_KEYS = saved;
    }
    expect(fingerprint("11".repeat(32))).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("sign and verify", () => {
  test("round trip; signature.sig is exactly 128 hex chars; node:crypto agrees", async () => {
    using tmp = tempDir();
    const dir = copyFixture("weft-counter", tmp.path);
    const k = await makeKeys(tmp.path);
    const signed = await signPackage(dir, k.seedHex);
    const sig = readFileSync(join(dir, "signature.sig"), "utf8");
    expect(sig).toMatch(/^[0-9a-f]{128}$/);
    expect(signed).toEqual({ signatureHex: sig, publicHex: k.publicHex, files: 4 });
    const { keys } = await loadTrustedKeys([k.trusted]);
    const v = await verifyPackage(dir, keys);
    expect({ ...v, hashes: undefined }).toEqual({ status: "signed", keyId: "dev", keyFile: join(k.trusted, "dev.pub"), problems: [], hashes: undefined });
    // An independent Ed25519 implementation over the same 32-byte digest.
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(k.publicHex, "hex")]);
    const pub = createPublicKey({ key: spki, format: "der", type: "spki" });
    expect(nodeVerify(null, (await packageDigest(dir)).digest, pub, Buffer.from(sig, "hex"))).toBe(true);
    // Re-signing is stable (Ed25519 is deterministic) and ignores the old signature.
    expect((await signPackage(dir, k.seedHex)).signatureHex).toBe(sig);
  });

  test("unsigned, and which of several trusted keys verified", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path);
    const other = await makeKeys(tmp.path, "other");
    const mine = await makeKeys(tmp.path, "mine");
    const { keys } = await loadTrustedKeys([other.trusted, mine.trusted]);
    expect((await verifyPackage(dir, keys)).status).toBe("unsigned");
    await signPackage(dir, mine.seedHex);
    expect(await verifyPackage(dir, keys)).toMatchObject({ status: "signed", keyId: "mine" });
  });

  const tamperings: [string, (dir: string) => void][] = [
    ["a changed file", (d) => writeFileSync(join(d, "ui/app.js"), "evil()")],
    ["an added file", (d) => writeFileSync(join(d, "ui/extra.js"), "evil()")],
    ["an added empty file in a new dir", (d) => writeFiles(d, { "new/empty": "" })],
    ["a removed file", (d) => rmSync(join(d, "ui/app.js"))],
    ["a renamed file", (d) => writeFiles(d, { "ui/app2.js": readFileSync(join(d, "ui/app.js")) }) ?? rmSync(join(d, "ui/app.js"))],
    ["a changed wapp.toml", (d) => writeFileSync(join(d, "wapp.toml"), readFileSync(join(d, "wapp.toml"), "utf8").replace('"fs:rw:app-data", ', ""))],
  ];
  for (const [what, tamper] of tamperings) {
    test(`detects ${what}`, async () => {
      using tmp = tempDir();
      const dir = copyFixture("weft-counter", tmp.path);
      const k = await makeKeys(tmp.path);
      await signPackage(dir, k.seedHex);
      const { keys } = await loadTrustedKeys([k.trusted]);
      const before = await verifyPackage(dir, keys);
      tamper(dir);
      const v = await verifyPackage(dir, keys);
      expect(v.status).toBe("invalid");
      expect(v.problems).toEqual([
        "signature.sig: does not verify with key dev: files were changed, added or removed since signing, or it was signed with another key",
      ]);
      // With the listing recorded at install, the failure names the files.
      const named = await verifyPackage(dir, keys, { recorded: before.hashes });
      expect(named.status).toBe("invalid");
      expect(named.problems[0]).toBe("signature.sig: does not match the package's files (tried dev):");
      expect(named.problems.length).toBeGreaterThan(1);
      expect(named.problems.slice(1).every((p) => / (changed|added|removed) since install$/.test(p))).toBe(true);
    });
  }

  test("the recorded listing names exactly the changed, added and removed files", async () => {
    using tmp = tempDir();
    const dir = copyFixture("weft-counter", tmp.path);
    const k = await makeKeys(tmp.path);
    await signPackage(dir, k.seedHex);
    const { keys } = await loadTrustedKeys([k.trusted]);
    const { hashes } = await verifyPackage(dir, keys);
    writeFileSync(join(dir, "ui/app.js"), "evil()");
    writeFileSync(join(dir, "z.txt"), "new");
    rmSync(join(dir, "ui/index.html"));
    expect((await verifyPackage(dir, keys, { recorded: hashes })).problems).toEqual([
      "signature.sig: does not match the package's files (tried dev):",
      "ui/app.js: changed since install",
      "ui/index.html: removed since install",
      "z.txt: added since install",
    ]);
  });

  test("a wrong key, a malformed signature, no trusted keys, a signature that is a directory", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path);
    const signer = await makeKeys(tmp.path, "signer");
    const stranger = await makeKeys(tmp.path, "stranger");
    await signPackage(dir, signer.seedHex);
    const strangers = (await loadTrustedKeys([stranger.trusted])).keys;
    expect((await verifyPackage(dir, strangers)).problems).toEqual([
      "signature.sig: does not verify with key stranger: files were changed, added or removed since signing, or it was signed with another key",
    ]);
    const { hashes } = await verifyPackage(dir, strangers);
    expect((await verifyPackage(dir, strangers, { recorded: hashes })).problems).toEqual([
      "signature.sig: does not verify with key stranger; the files are as installed, so signature.sig was replaced or the signer's key is no longer trusted",
    ]);
    const signers = (await loadTrustedKeys([signer.trusted])).keys;
    for (const bad of ["", "abc", "g".repeat(128), "a".repeat(127), "a".repeat(130)]) {
      writeFileSync(join(dir, "signature.sig"), bad);
      expect(await verifyPackage(dir, signers)).toMatchObject({ status: "invalid", problems: ["signature.sig: malformed (an Ed25519 signature is 128 hex characters)"] });
    }
    writeFileSync(join(dir, "signature.sig"), "0".repeat(128));
    expect((await verifyPackage(dir, signers)).status).toBe("invalid");
    await signPackage(dir, signer.seedHex);
    writeFileSync(join(dir, "signature.sig"), `${readFileSync(join(dir, "signature.sig"), "utf8").toUpperCase()}\n`);
    expect((await verifyPackage(dir, signers)).status).toBe("signed"); // case and a trailing newline are tolerated
    expect((await verifyPackage(dir, [])).problems[0]).toStartWith("signed, but no trusted keys are installed");
    rmSync(join(dir, "signature.sig"));
    mkdirSync(join(dir, "signature.sig"));
    expect((await verifyPackage(dir, signers)).problems).toEqual(["signature.sig: not a regular file"]);
  });

  test("an unsigned package changed since install is invalid when the listing was recorded", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path);
    const { hashes } = await verifyPackage(dir, []);
    expect((await verifyPackage(dir, [], { recorded: hashes })).status).toBe("unsigned");
    writeFileSync(join(dir, "app.wasm"), "x");
    expect((await verifyPackage(dir, [], { recorded: hashes })).problems).toEqual(["unsigned package changed since install:", "app.wasm: changed since install"]);
  });

  test("a symlink in a signed package makes it invalid", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path);
    const k = await makeKeys(tmp.path);
    await signPackage(dir, k.seedHex);
    symlinkSync("/etc/passwd", join(dir, "ui", "p"));
    expect(await verifyPackage(dir, (await loadTrustedKeys([k.trusted])).keys)).toEqual({
      status: "invalid",
      problems: ["ui/p: is a symlink (packages may not contain symlinks; one could point outside the package)"],
    });
  });
});
