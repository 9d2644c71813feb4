// Compile once: compiled modules are kept in memory for this process and on
// disk (XDG cache dir) keyed by the wasm's SHA-256 and the engine fingerprint,
// so a changed Wasmtime or engine config is simply a different key. A corrupt
// or foreign cache file is discarded and recompiled, never trusted.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Component, Module, type Engine } from "../../ffi/wasmtime.ts";
import { cacheDir } from "../system/paths.ts";
import { engineFingerprint, engineFor } from "./engine.ts";

const memory = new Map<string, unknown>();

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

interface Compiled {
  serialize(): Uint8Array;
}
interface CompiledKind<T extends Compiled> {
  dir: string;
  compile(engine: Engine, wasm: Uint8Array): T;
  deserialize(engine: Engine, bytes: Uint8Array): T;
}
const MODULES: CompiledKind<Module> = { dir: "modules", compile: Module.compile, deserialize: Module.deserialize };
const COMPONENTS: CompiledKind<Component> = { dir: "components", compile: Component.compile, deserialize: Component.deserialize };

/** Compiles `wasm` at most once per key: memory first, then the disk cache, then Cranelift. */
function load<T extends Compiled>(kind: CompiledKind<T>, wasm: Uint8Array, opts: { fuel?: boolean; disk?: boolean }): T {
  const fuel = opts.fuel ?? false;
  const key = `${kind.dir}/${keyOf(wasm, fuel)}`;
  const hit = memory.get(key) as T | undefined;
  if (hit) {
    cacheStats.memoryHits++;
    return hit;
  }
  const engine = engineFor(fuel);
  const file = join(cacheDir(), `${key}.cwasm`);
  let compiled: T | null = null;
  if (opts.disk !== false) {
    try {
      compiled = kind.deserialize(engine, readFileSync(file));
      cacheStats.diskHits++;
    } catch {
      compiled = null; // missing, truncated or from another engine: recompile below
    }
  }
  if (!compiled) {
    compiled = kind.compile(engine, wasm);
    cacheStats.compiles++;
    if (opts.disk !== false) {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(tmp, compiled.serialize(), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        rmSync(tmp, { force: true }); // a read-only cache only costs speed
      }
    }
  }
  memory.set(key, compiled);
  return compiled;
}

/** The compiled core module for `wasm`. */
export function loadModule(wasm: Uint8Array, opts: { fuel?: boolean; disk?: boolean } = {}): Module {
  return load(MODULES, wasm, opts);
}

/** The compiled component for `wasm`. */
export function loadComponent(wasm: Uint8Array, opts: { fuel?: boolean; disk?: boolean } = {}): Component {
  return load(COMPONENTS, wasm, opts);
}

/** Either, by what the bytes say they are; throws for anything else. */
export function loadWasm(wasm: Uint8Array, opts: { fuel?: boolean; disk?: boolean } = {}): Module | Component {
  const kind = wasmKind(wasm);
  if (kind === "component") return loadComponent(wasm, opts);
  if (kind === "module") return loadModule(wasm, opts);
  throw new Error("compile: not a WebAssembly module or component (bad magic number or version)");
}
