// Compile once: compiled modules are kept in memory for this process and on
// disk (XDG cache dir) keyed by the wasm's SHA-256 and the engine fingerprint,
// so a changed Wasmtime or engine config is simply a different key. A corrupt
// or foreign cache file is discarded and recompiled, never trusted.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Module } from "../../ffi/wasmtime.ts";
import { cacheDir } from "../system/paths.ts";
import { engineFingerprint, engineFor } from "./engine.ts";

const memory = new Map<string, Module>();

export interface CacheStats {
  memoryHits: number;
  diskHits: number;
  compiles: number;
}
export const cacheStats: CacheStats = { memoryHits: 0, diskHits: 0, compiles: 0 };

function keyOf(wasm: Uint8Array, fuel: boolean): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(engineFingerprint(fuel));
  h.update(wasm);
  return h.digest("hex");
}

export const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Is this a core module (version 1) rather than a component (layer 1)? */
export function wasmKind(bytes: Uint8Array): "module" | "component" | null {
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) return null;
  const version = bytes[4] | (bytes[5] << 8);
  const layer = bytes[6] | (bytes[7] << 8);
  if (version === 1 && layer === 0) return "module";
  if (layer === 1) return "component";
  return null;
}

/** Returns the compiled module for `wasm`, compiling at most once per key. */
export function loadModule(wasm: Uint8Array, opts: { fuel?: boolean; disk?: boolean } = {}): Module {
  const fuel = opts.fuel ?? false;
  const key = keyOf(wasm, fuel);
  const hit = memory.get(key);
  if (hit) {
    cacheStats.memoryHits++;
    return hit;
  }
  const engine = engineFor(fuel);
  const dir = join(cacheDir(), "modules");
  const file = join(dir, `${key}.cwasm`);
  let module: Module | null = null;
  if (opts.disk !== false) {
    try {
      module = Module.deserialize(engine, readFileSync(file));
      cacheStats.diskHits++;
    } catch {
      module = null; // missing, truncated or from another engine: recompile below
    }
  }
  if (!module) {
    module = Module.compile(engine, wasm);
    cacheStats.compiles++;
    if (opts.disk !== false) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, module.serialize(), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        rmSync(`${file}.${process.pid}.tmp`, { force: true }); // a read-only cache only costs speed
      }
    }
  }
  memory.set(key, module);
  return module;
}
