// Compile once: compiled modules are kept on disk (XDG cache dir) keyed by
// the wasm's SHA-256 and the engine fingerprint, so a changed Wasmtime or
// engine config is simply a different key, and the most recently used
// MEMORY_ENTRIES of them in memory. A corrupt or foreign cache file is
// discarded and recompiled, never trusted.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compileJobs } from "../../ffi/native.ts";
import { Component, Module, takeError, type Engine } from "../../ffi/wasmtime.ts";
import { loopEvents } from "../loop/index.ts";
import { cacheDir } from "../system/paths.ts";
import { engineFingerprint, engineFor } from "./engine.ts";

/**
 * Compiled code is megabytes for a large app, and a cell can spawn children
 * from any bytes it likes: an unbounded map would grow for as long as the
 * daemon runs. Beyond this many entries, or this many bytes of compiled code
 * (`WEFT_MODULE_CACHE_MIB`, default 256; sized by the serialised artifact,
 * or the wasm when nothing was serialised), the least recently used entry is
 * dropped from memory (a guest or session still holding it keeps it alive;
 * the garbage collector frees it after: ffi/wasmtime.ts `liveCompiled`); the
 * next launch reads it from disk again. The newest entry always stays.
 */
export const MEMORY_ENTRIES = 64;
const DEFAULT_MEMORY_MIB = 256;
function memoryBudgetBytes(): number {
  const mib = Number(process.env.WEFT_MODULE_CACHE_MIB);
  return (Number.isFinite(mib) && mib >= 0 ? mib : DEFAULT_MEMORY_MIB) * 1024 * 1024;
}
const memory = new Map<string, { compiled: object; bytes: number }>();
let memoryBytes = 0;
/**
 * Every compiled object still alive, cached or not: one dropped from `memory`
 * but still held (a running guest, a session) is found again instead of
 * being deserialised a second time.
 */
const alive = new Map<string, { ref: WeakRef<object>; bytes: number }>();
const forget = new FinalizationRegistry<string>((key) => {
  if (alive.get(key)?.ref.deref() === undefined) alive.delete(key);
});
/** `bytes`: the compiled size, when known (a hit keeps what was recorded, also for one that left `memory` meanwhile). */
function rememberInMemory(key: string, compiled: object, bytes?: number): void {
  const had = memory.get(key);
  if (had) {
    memory.delete(key);
    memoryBytes -= had.bytes;
  }
  const size = bytes ?? had?.bytes ?? alive.get(key)?.bytes ?? 0;
  memory.set(key, { compiled, bytes: size }); // a Map iterates in insertion order: the first key is the least recently used
  memoryBytes += size;
  const budget = memoryBudgetBytes();
  while (memory.size > 1 && (memory.size > MEMORY_ENTRIES || memoryBytes > budget)) {
    const [oldest, entry] = memory.entries().next().value!;
    memory.delete(oldest);
    memoryBytes -= entry.bytes;
  }
  const known = alive.get(key);
  if (known?.ref.deref() !== compiled) {
    alive.set(key, { ref: new WeakRef(compiled), bytes: size });
    forget.register(compiled, key);
  } else known.bytes = size;
}
function inMemory(key: string): unknown {
  return memory.get(key)?.compiled ?? alive.get(key)?.ref.deref();
}
/** Entries the cache itself holds now, and their compiled size (tests, diagnostics). */
export const memoryEntries = (): number => memory.size;
export const memoryEntryBytes = (): number => memoryBytes;
/** Whether the cache itself holds the compiled `wasm` now, apart from other holders (tests, diagnostics). */
export function heldByCache(wasm: Uint8Array, opts: LoadOptions = {}): boolean {
  return memory.has(memoryKey(wasmKind(wasm) === "component" ? COMPONENTS.dir : MODULES.dir, wasm, opts));
}

export interface CacheStats {
  memoryHits: number;
  diskHits: number;
  compiles: number;
}
export const cacheStats: CacheStats = { memoryHits: 0, diskHits: 0, compiles: 0 };

/** SHA-256 of the bytes, hex: a package's launch check already has it for its module. */
export const sha256Hex = (bytes: Uint8Array): string => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

// Keyed by the content hash (not the bytes) so a caller that has verified
// the module's hash passes it instead of hashing the module twice.
function keyOf(sha256: string, fuel: boolean): string {
  return new Bun.CryptoHasher("sha256").update(engineFingerprint(fuel)).update(sha256).digest("hex");
}
/** The key of `wasm`'s compiled form in memory and (with `.cwasm`) in the disk cache. */
function memoryKey(dir: string, wasm: Uint8Array, opts: LoadOptions): string {
  return `${dir}/${keyOf(opts.sha256 ?? sha256Hex(wasm), opts.fuel ?? false)}`;
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

interface Lookup<T> {
  key: string;
  file: string;
  engine: Engine;
  hit: T | null;
}

/** Memory first, then the disk cache. */
function lookup<T extends Compiled>(kind: CompiledKind<T>, wasm: Uint8Array, opts: LoadOptions): Lookup<T> {
  const key = memoryKey(kind.dir, wasm, opts);
  const engine = engineFor(opts.fuel ?? false);
  const file = join(cacheDir(), `${key}.cwasm`);
  const held = inMemory(key) as T | undefined;
  if (held) {
    cacheStats.memoryHits++;
    rememberInMemory(key, held);
    return { key, file, engine, hit: held };
  }
  if (opts.disk !== false) {
    try {
      const bytes = readFileSync(file);
      const hit = kind.deserialize(engine, bytes);
      cacheStats.diskHits++;
      rememberInMemory(key, hit, bytes.length);
      return { key, file, engine, hit };
    } catch {
      // missing, truncated or from another engine: compile
    }
  }
  return { key, file, engine, hit: null };
}

/** Keeps a fresh compile in memory and (best effort) on disk. */
function remember<T extends Compiled>(l: Lookup<T>, compiled: T, wasm: Uint8Array, opts: LoadOptions): T {
  cacheStats.compiles++;
  let size = wasm.length; // what is known without serialising
  if (opts.disk !== false) {
    const tmp = `${l.file}.${process.pid}.tmp`;
    try {
      const artifact = compiled.serialize();
      size = artifact.length;
      mkdirSync(dirname(l.file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, artifact, { mode: 0o600 });
      renameSync(tmp, l.file);
    } catch {
      rmSync(tmp, { force: true }); // a read-only cache only costs speed
    }
  }
  rememberInMemory(l.key, compiled, size);
  return compiled;
}

export interface LoadOptions {
  fuel?: boolean;
  disk?: boolean;
  /** sha256Hex(wasm), when the caller has computed it already (must be of these bytes). */
  sha256?: string;
}

/** Compiles `wasm` at most once per key, on the calling thread (for CLI and tests). */
function load<T extends Compiled>(kind: CompiledKind<T>, wasm: Uint8Array, opts: LoadOptions): T {
  const l = lookup(kind, wasm, opts);
  return l.hit ?? remember(l, kind.compile(l.engine, wasm), wasm, opts);
}

let nextCompileToken = 1;

/**
 * Like loadWasm, but a compile runs on a helper thread so the loop keeps
 * serving (a 12 MB JavaScript component takes tens of seconds to compile).
 */
export function loadWasmAsync(wasm: Uint8Array, opts: LoadOptions = {}): Promise<Module | Component> {
  const flavour = wasmKind(wasm);
  if (!flavour) return Promise.reject(new Error("compile: not a WebAssembly module or component (bad magic number or version)"));
  const kind = (flavour === "component" ? COMPONENTS : MODULES) as CompiledKind<Module | Component>;
  const l = lookup(kind, wasm, opts);
  if (l.hit) return Promise.resolve(l.hit);
  return new Promise((resolve, reject) => {
    const token = nextCompileToken++;
    let job: ReturnType<typeof compileJobs.start>;
    loopEvents.onCompiled(token, () => {
      loopEvents.offCompiled(token);
      const r = compileJobs.result(job);
      if ("error" in r) return reject(new Error(`compile: ${takeError(r.error).message}`));
      const compiled = flavour === "component" ? new Component(r.compiled) : new Module(r.compiled);
      resolve(remember(l, compiled, wasm, opts));
    });
    job = compileJobs.start(l.engine.ptr, wasm, flavour === "component", token);
  });
}

/**
 * A module or component compiled earlier in this process from bytes whose
 * SHA-256 is `sha256`, or null. Lets a launch whose check has just verified
 * the file's hash skip reading it again.
 */
export function compiledInMemory(sha256: string, opts: Omit<LoadOptions, "sha256"> = {}): Module | Component | null {
  const k = keyOf(sha256, opts.fuel ?? false);
  for (const key of [`${MODULES.dir}/${k}`, `${COMPONENTS.dir}/${k}`]) {
    const hit = inMemory(key) as Module | Component | undefined;
    if (!hit) continue;
    cacheStats.memoryHits++;
    rememberInMemory(key, hit);
    return hit;
  }
  return null;
}

/** The compiled core module for `wasm`. */
export function loadModule(wasm: Uint8Array, opts: LoadOptions = {}): Module {
  return load(MODULES, wasm, opts);
}

/** The compiled component for `wasm`. */
export function loadComponent(wasm: Uint8Array, opts: LoadOptions = {}): Component {
  return load(COMPONENTS, wasm, opts);
}

/** Either, by what the bytes say they are; throws for anything else. */
export function loadWasm(wasm: Uint8Array, opts: LoadOptions = {}): Module | Component {
  const kind = wasmKind(wasm);
  if (kind === "component") return loadComponent(wasm, opts);
  if (kind === "module") return loadModule(wasm, opts);
  throw new Error("compile: not a WebAssembly module or component (bad magic number or version)");
}
