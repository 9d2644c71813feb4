// Helpers for the package tests: real files in temp dirs, real keys.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "../helpers.ts";
import { writeKeyPair } from "../../src/appd/signature.ts";

export { tempDir, ROOT } from "../helpers.ts";

/** The smallest valid core module: magic + version 1. */
export const WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

export const FIXTURES = join(ROOT, "tests", "fixtures", "packages");

export const MANIFEST = (id = "org.example.hello", extra = "") => `[package]
id = "${id}"
name = "Hello"
version = "1.0.0"
${extra}
[runtime]
module = "app.wasm"

[ui]
entry = "ui/index.html"
`;

/** Writes files (string or bytes) under dir, creating parents. */
export function writeFiles(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

/** A valid package at dir/name (default name = id). */
export function makePackage(parent: string, opts: { id?: string; name?: string; manifest?: string; files?: Record<string, string | Uint8Array> } = {}): string {
  const id = opts.id ?? "org.example.hello";
  const dir = join(parent, opts.name ?? id);
  writeFiles(dir, {
    "wapp.toml": opts.manifest ?? MANIFEST(id),
    "app.wasm": WASM,
    "ui/index.html": "<!DOCTYPE html><title>hi</title>",
    ...opts.files,
  });
  return dir;
}

/** Copies a fixture package (adding its app.wasm) to parent/name. */
export function copyFixture(fixture: string, parent: string, name = fixture): string {
  const dir = join(parent, name);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  writeFileSync(join(dir, "app.wasm"), WASM);
  return dir;
}

/** A key pair in parent/<name>/ plus a trusted-keys dir holding <name>.pub. */
export async function makeKeys(parent: string, name = "dev") {
  const dir = join(parent, `keys-${name}`);
  mkdirSync(dir, { recursive: true });
  const kp = await writeKeyPair(dir);
  const trusted = join(parent, `trusted-${name}`);
  mkdirSync(trusted, { recursive: true });
  writeFileSync(join(trusted, `${name}.pub`), kp.publicHex);
  return { ...kp, dir, trusted };
}

/** Node has no mkfifo; the coreutils one is always there on Debian. */
export function mkfifo(path: string): void {
  const r = Bun.spawnSync(["mkfifo", path]);
  if (r.exitCode !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.toString()}`);
}
