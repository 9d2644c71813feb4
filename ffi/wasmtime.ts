// ffi/wasmtime.ts — the Wasmtime 49 C API calls weft uses, and nothing else.
//
// Grouped by the C API's own nouns (config, engine, module, component, store,
// wasi, linker, instance, error, trap, frame). Ownership follows the C names:
// `*_new` returns something the caller deletes; "takes ownership" is noted at
// each binding that consumes its argument. Signatures were checked against
// Wasmtime's headers, not only the Python wheel's _bindings.py (which is
// wrong for wasmtime_context_epoch_deadline_async_yield_and_update).
import type { PointerReturns } from "./types.ts";
import { dlopen, FFIType, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { libraryPath } from "../src/system/assets.ts";

const { ptr: P, bool, u8, i32, i64, u64, void: v } = FFIType;
const usize = "usize" as const;

export const WASMTIME_VERSION = "49.0.0";

// ---- struct layouts (x86_64), written once -------------------------------
/** wasm_byte_vec_t / wasm_name_t / wasm_message_t: { size_t size; char *data } */
const BYTE_VEC = { size: 16, len: 0, data: 8 } as const;
/** wasm_frame_vec_t: { size_t size; wasm_frame_t **data } */
const FRAME_VEC = { size: 16, len: 0, data: 8 } as const;
/** wasmtime_memory_t: { { uint64_t store_id; uint32_t __private1 } (16, padded); uint32_t __private2 } */
const MEMORY_SIZE = 24;
/** wasmtime_extern_t: { uint8_t kind; union (largest: global/memory, 24 bytes) of at 8 } */
const EXTERN = { size: 32, kind: 0, of: 8 } as const;
const EXTERN_KIND = { func: 0, global: 1, table: 2, memory: 3, sharedmemory: 4 } as const;

/** wasmtime_opt_level_t */
export const OptLevel = { none: 0, speed: 1, speedAndSize: 2 } as const;

function resolveLibrary(): string {
  const path = process.env.WEFT_LIBWASMTIME ?? libraryPath("libwasmtime.so");
  if (!existsSync(path)) {
    throw new Error(`libwasmtime not found at ${path}; run \`bash scripts/setup.sh\` (or set WEFT_LIBWASMTIME)`);
  }
  return path;
}

export const LIBWASMTIME_PATH = resolveLibrary();

const lib = dlopen(LIBWASMTIME_PATH, {
  // config: consumed by wasm_engine_new_with_config
  wasm_config_new: { args: [], returns: P },
  wasm_config_delete: { args: [P], returns: v },
  wasmtime_config_epoch_interruption_set: { args: [P, bool], returns: v },
  wasmtime_config_consume_fuel_set: { args: [P, bool], returns: v },
  wasmtime_config_max_wasm_stack_set: { args: [P, usize], returns: v },
  wasmtime_config_cranelift_opt_level_set: { args: [P, u8], returns: v },
  wasmtime_config_parallel_compilation_set: { args: [P, bool], returns: v },
  wasmtime_config_wasm_component_model_set: { args: [P, bool], returns: v },
  // engine
  wasm_engine_new_with_config: { args: [P], returns: P }, // takes ownership of config
  wasm_engine_delete: { args: [P], returns: v },
  // module
  wasmtime_module_new: { args: [P, P, usize, P], returns: P },
  wasmtime_module_validate: { args: [P, P, usize], returns: P },
  wasmtime_module_serialize: { args: [P, P], returns: P },
  wasmtime_module_deserialize: { args: [P, P, usize, P], returns: P },
  wasmtime_module_delete: { args: [P], returns: v },
  // component (compile/cache only here; instantiation lives with the component runtime)
  wasmtime_component_new: { args: [P, P, usize, P], returns: P },
  wasmtime_component_serialize: { args: [P, P], returns: P },
  wasmtime_component_deserialize: { args: [P, P, usize, P], returns: P },
  wasmtime_component_delete: { args: [P], returns: v },
  wasmtime_component_linker_new: { args: [P], returns: P },
  wasmtime_component_linker_add_wasip2: { args: [P], returns: P },
  wasmtime_component_linker_delete: { args: [P], returns: v },
  // byte vectors returned by serialize/message calls
  wasm_byte_vec_delete: { args: [P], returns: v },
  // store
  wasmtime_store_new: { args: [P, P, P], returns: P },
  wasmtime_store_context: { args: [P], returns: P },
  wasmtime_store_limiter: { args: [P, i64, i64, i64, i64, i64], returns: v },
  wasmtime_store_delete: { args: [P], returns: v },
  wasmtime_context_set_fuel: { args: [P, u64], returns: P },
  wasmtime_context_get_fuel: { args: [P, P], returns: P },
  wasmtime_context_set_wasi: { args: [P, P], returns: P }, // takes ownership of the wasi config
  // wasi (Preview 1) config
  wasi_config_new: { args: [], returns: P },
  wasi_config_delete: { args: [P], returns: v },
  wasi_config_set_argv: { args: [P, usize, P], returns: bool },
  wasi_config_set_env: { args: [P, usize, P, P], returns: bool },
  wasi_config_inherit_stdin: { args: [P], returns: v },
  wasi_config_inherit_stdout: { args: [P], returns: v },
  wasi_config_inherit_stderr: { args: [P], returns: v },
  wasi_config_set_stdin_file: { args: [P, P], returns: bool },
  wasi_config_set_stdout_file: { args: [P, P], returns: bool },
  wasi_config_set_stderr_file: { args: [P, P], returns: bool },
  wasi_config_set_stdout_custom: { args: [P, P, P, P], returns: v },
  wasi_config_set_stderr_custom: { args: [P, P, P, P], returns: v },
  wasi_config_preopen_dir: { args: [P, P, P, bool], returns: bool },
  // linker
  wasmtime_linker_new: { args: [P], returns: P },
  wasmtime_linker_delete: { args: [P], returns: v },
  wasmtime_linker_define_wasi: { args: [P], returns: P },
  wasmtime_linker_instantiate_pre: { args: [P, P, P], returns: P },
  wasmtime_instance_pre_delete: { args: [P], returns: v },
  // instance / exports / memory
  wasmtime_instance_export_get: { args: [P, P, P, usize, P], returns: bool },
  wasmtime_memory_data_size: { args: [P, P], returns: usize },
  // errors
  wasmtime_error_message: { args: [P, P], returns: v },
  wasmtime_error_exit_status: { args: [P, P], returns: bool },
  wasmtime_error_wasm_trace: { args: [P, P], returns: v },
  wasmtime_error_delete: { args: [P], returns: v },
  // traps
  wasm_trap_message: { args: [P, P], returns: v },
  wasmtime_trap_code: { args: [P, P], returns: bool },
  wasm_trap_trace: { args: [P, P], returns: v },
  wasm_trap_delete: { args: [P], returns: v },
  // frames
  wasm_frame_func_index: { args: [P], returns: FFIType.u32 },
  wasm_frame_func_offset: { args: [P], returns: usize },
  wasm_frame_module_offset: { args: [P], returns: usize },
  wasmtime_frame_func_name: { args: [P], returns: P },
  wasm_frame_vec_delete: { args: [P], returns: v },
});
const C = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

// ---- small helpers -------------------------------------------------------
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A NUL-terminated copy of `s`; keep it alive for the duration of the call. */
export function cstr(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** bun:ffi cannot take the address of an empty array; Wasmtime reads none of it anyway. */
function nonEmpty(b: Uint8Array): Uint8Array {
  return b.length ? b : new Uint8Array(1);
}

/** An out-parameter slot for one pointer. */
function outPtr(): BigUint64Array {
  return new BigUint64Array(1);
}
function slotPtr(slot: BigUint64Array): Pointer | null {
  const n = Number(slot[0]);
  return n === 0 ? null : (n as Pointer);
}

function readByteVec(vec: Uint8Array): Uint8Array {
  const p = ptr(vec);
  const len = Number(read.u64(p, BYTE_VEC.len));
  const data = read.ptr(p, BYTE_VEC.data) as Pointer;
  if (len === 0 || !data) return new Uint8Array(0);
  return new Uint8Array(toArrayBuffer(data, 0, len)).slice();
}

/** Reads an owned wasm_byte_vec_t filled by `fill`, copies it out, frees it. */
function takeByteVec(fill: (vec: Pointer) => void): Uint8Array {
  const vec = new Uint8Array(BYTE_VEC.size);
  fill(ptr(vec));
  const bytes = readByteVec(vec);
  C.wasm_byte_vec_delete(ptr(vec));
  return bytes;
}

// ---- frames ----------------------------------------------------------------
export interface Frame {
  funcIndex: number;
  funcName: string | null;
  /** Byte offset within the function body, or null when Wasmtime does not know it. */
  funcOffset: number | null;
  /** Byte offset within the module, or null when unknown (e.g. the trap hit at function entry). */
  moduleOffset: number | null;
}

/** Wasmtime reports an unknown offset as SIZE_MAX. */
function offset(n: number | bigint): number | null {
  const v = Number(n);
  return v >= Number.MAX_SAFE_INTEGER ? null : v;
}

function takeFrames(fill: (vec: Pointer) => void): Frame[] {
  const vec = new Uint8Array(FRAME_VEC.size);
  fill(ptr(vec));
  const n = Number(read.u64(ptr(vec), FRAME_VEC.len));
  const data = read.ptr(ptr(vec), FRAME_VEC.data) as Pointer;
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) {
    const f = read.ptr(data, i * 8) as Pointer;
    const name = C.wasmtime_frame_func_name(f);
    frames.push({
      funcIndex: C.wasm_frame_func_index(f),
      funcName: name ? dec.decode(readByteVec(new Uint8Array(toArrayBuffer(name, 0, BYTE_VEC.size)))) : null,
      funcOffset: offset(C.wasm_frame_func_offset(f)),
      moduleOffset: offset(C.wasm_frame_module_offset(f)),
    });
  }
  C.wasm_frame_vec_delete(ptr(vec));
  return frames;
}

// ---- errors and traps ----------------------------------------------------------
/** A wasmtime_error_t read into JS and deleted. */
export interface WasmtimeError {
  message: string;
  /** Set when the guest called proc_exit. */
  exitStatus: number | null;
  frames: Frame[];
}

/** Takes ownership of `err`: reads everything, then deletes it. */
export function takeError(err: Pointer): WasmtimeError {
  const message = dec.decode(takeByteVec((vec) => C.wasmtime_error_message(err, vec)));
  const status = new Int32Array(1);
  const exited = C.wasmtime_error_exit_status(err, ptr(status));
  const frames = takeFrames((vec) => C.wasmtime_error_wasm_trace(err, vec));
  C.wasmtime_error_delete(err);
  return { message, exitStatus: exited ? status[0] : null, frames };
}

/** Throws a JS Error carrying Wasmtime's message when `err` is non-null. */
export function check(err: Pointer | null, what: string): void {
  if (err) throw new Error(`${what}: ${takeError(err).message}`);
}

/** wasmtime_trap_code_t values weft names (Wasmtime 49). */
export const TRAP_CODES = [
  "stack overflow",
  "out-of-bounds memory access",
  "misaligned memory access",
  "out-of-bounds table access",
  "indirect call to null",
  "bad signature",
  "integer overflow",
  "integer divide by zero",
  "invalid conversion to integer",
  "unreachable",
  "interrupt",
  "out of fuel",
] as const;

/**
 * Wasmtime's own words for a trap (how it prints one inside an error, as
 * component calls report them) → the names TRAP_CODES uses.
 */
const TRAP_TEXT: [RegExp, string][] = [
  [/call stack exhausted/, "stack overflow"],
  [/out of bounds memory access/, "out-of-bounds memory access"],
  [/misaligned memory access/, "misaligned memory access"],
  [/undefined element|out of bounds table access/, "out-of-bounds table access"],
  [/uninitialized element|null reference/, "indirect call to null"],
  [/indirect call type mismatch/, "bad signature"],
  [/integer overflow/, "integer overflow"],
  [/integer divide by zero/, "integer divide by zero"],
  [/invalid conversion to integer/, "invalid conversion to integer"],
  [/unreachable/, "unreachable"],
  [/all fuel consumed/, "out of fuel"],
];

/** The trap an error message describes, if it describes one ("wasm trap: …"). */
export function trapInMessage(message: string): string | null {
  const m = /wasm trap: (.*)/.exec(message);
  if (!m) return null;
  for (const [re, name] of TRAP_TEXT) if (re.test(m[1])) return name;
  return m[1].trim();
}

export interface Trap {
  code: number | null;
  kind: string;
  message: string;
  frames: Frame[];
}

/** Takes ownership of `trap`: reads everything, then deletes it. */
export function takeTrap(trap: Pointer): Trap {
  const message = dec.decode(takeByteVec((vec) => C.wasm_trap_message(trap, vec))).replace(/\0$/, "");
  const code = new Uint8Array(1);
  const has = C.wasmtime_trap_code(trap, ptr(code));
  const frames = takeFrames((vec) => C.wasm_trap_trace(trap, vec));
  C.wasm_trap_delete(trap);
  const c = has ? code[0] : null;
  return { code: c, kind: c === null ? "trap" : (TRAP_CODES[c] ?? `trap code ${c}`), message, frames };
}

// ---- config + engine -----------------------------------------------------------
export interface EngineOptions {
  /** Epoch interruption: CPU budgets and stops. Every store then needs a deadline. */
  epochs: boolean;
  /** Fuel metering (deterministic instruction budgets); costs speed, so opt-in. */
  fuel: boolean;
  /** Bytes of wasm stack; must stay below the guest thread's stack. */
  maxWasmStack: number;
  optLevel: number;
}

export class Engine {
  readonly ptr: Pointer;
  constructor(readonly options: EngineOptions) {
    const cfg = C.wasm_config_new()!;
    C.wasmtime_config_epoch_interruption_set(cfg, options.epochs);
    C.wasmtime_config_consume_fuel_set(cfg, options.fuel);
    C.wasmtime_config_max_wasm_stack_set(cfg, options.maxWasmStack);
    C.wasmtime_config_cranelift_opt_level_set(cfg, options.optLevel);
    C.wasmtime_config_parallel_compilation_set(cfg, true);
    C.wasmtime_config_wasm_component_model_set(cfg, true);
    const engine = C.wasm_engine_new_with_config(cfg); // takes ownership of cfg
    if (!engine) throw new Error("wasmtime: could not create engine");
    this.ptr = engine;
  }
}

// ---- module and component ------------------------------------------------------
// Both are compiled, serialized and deserialized the same way; only the C
// functions differ. `(engine, bytes, len, out) -> error` and `(obj, vec) -> error`.
type MakeFn = (engine: Pointer, bytes: Pointer, len: number, out: Pointer) => Pointer | null;
type SerializeFn = (obj: Pointer, vec: Pointer) => Pointer | null;

function make(fn: MakeFn, engine: Engine, bytes: Uint8Array, what: string): Pointer {
  const out = outPtr();
  check(fn(engine.ptr, ptr(nonEmpty(bytes)), bytes.length, ptr(out)), what);
  return slotPtr(out)!;
}

function serializeWith(fn: SerializeFn, obj: Pointer, what: string): Uint8Array {
  const vec = new Uint8Array(BYTE_VEC.size);
  check(fn(obj, ptr(vec)), what);
  const bytes = readByteVec(vec);
  C.wasm_byte_vec_delete(ptr(vec));
  return bytes;
}

/**
 * Compiled code lives as long as its JS object: when the garbage collector
 * takes a Module, Component or InstancePre, its native handle is deleted
 * (Wasmtime counts references inside, so stores and instance-pres still
 * using the code keep it). Nothing deletes them by hand: a handle cached in
 * one place and launched from another cannot be freed under a user.
 */
export const liveCompiled = { modules: 0, components: 0, instancePres: 0 };
type CompiledKind = keyof typeof liveCompiled;
const deleters: Record<CompiledKind, (p: Pointer) => void> = {
  modules: (p) => C.wasmtime_module_delete(p),
  components: (p) => C.wasmtime_component_delete(p),
  instancePres: (p) => C.wasmtime_instance_pre_delete(p),
};
const compiledRegistry = new FinalizationRegistry<{ kind: CompiledKind; ptr: Pointer }>(({ kind, ptr }) => {
  deleters[kind](ptr);
  liveCompiled[kind]--;
});
function owned(obj: object, kind: CompiledKind, ptr: Pointer): void {
  liveCompiled[kind]++;
  compiledRegistry.register(obj, { kind, ptr });
}

export class Module {
  /** Takes ownership of a wasmtime_module_t* (e.g. compiled on a helper thread). */
  constructor(readonly ptr: Pointer) {
    owned(this, "modules", ptr);
  }

  /** Compiles wasm bytes; throws with Wasmtime's validation message. */
  static compile(engine: Engine, wasm: Uint8Array): Module {
    return new Module(make(C.wasmtime_module_new, engine, wasm, "compile"));
  }

  /**
   * Loads bytes made by `serialize` with the same Wasmtime and engine config.
   * Wasmtime checks the version/config header and refuses a mismatch, which
   * is what makes a stale cache entry a miss instead of a crash.
   */
  static deserialize(engine: Engine, bytes: Uint8Array): Module {
    return new Module(make(C.wasmtime_module_deserialize, engine, bytes, "deserialize"));
  }

  serialize(): Uint8Array {
    return serializeWith(C.wasmtime_module_serialize, this.ptr, "serialize");
  }
}

export class Component {
  /** Takes ownership of a wasmtime_component_t* (e.g. compiled on a helper thread). */
  constructor(readonly ptr: Pointer) {
    owned(this, "components", ptr);
  }
  static compile(engine: Engine, wasm: Uint8Array): Component {
    return new Component(make(C.wasmtime_component_new, engine, wasm, "compile component"));
  }
  static deserialize(engine: Engine, bytes: Uint8Array): Component {
    return new Component(make(C.wasmtime_component_deserialize, engine, bytes, "deserialize component"));
  }
  serialize(): Uint8Array {
    return serializeWith(C.wasmtime_component_serialize, this.ptr, "serialize component");
  }
}

// ---- WASI Preview 1 config -------------------------------------------------------
export type Stdio =
  | { kind: "inherit" }
  | { kind: "file"; path: string }
  /** Wasmtime calls `finalizer(data)` when it drops the stream (possibly on another thread). */
  | { kind: "custom"; callback: Pointer; data: Pointer; finalizer: Pointer }
  | { kind: "none" };

export interface WasiOptions {
  argv: string[];
  env: [string, string][];
  /** Host dir, guest path, whether the guest may mutate it. */
  preopens: { host: string; guest: string; writable: boolean }[];
  stdin: { kind: "inherit" } | { kind: "file"; path: string } | { kind: "none" };
  stdout: Stdio;
  stderr: Stdio;
}

/** Builds a wasi_config_t; the caller hands it to Store.setWasi (which owns it). */
export function wasiConfig(o: WasiOptions): Pointer {
  const cfg = C.wasi_config_new()!;
  const keep: Uint8Array[] = [];
  const strArray = (xs: string[]): BigUint64Array => {
    const arr = new BigUint64Array(Math.max(xs.length, 1));
    xs.forEach((s, i) => {
      const b = cstr(s);
      keep.push(b);
      arr[i] = BigInt(ptr(b));
    });
    return arr;
  };
  const fail = (msg: string): never => {
    C.wasi_config_delete(cfg);
    throw new Error(msg);
  };
  if (!C.wasi_config_set_argv(cfg, o.argv.length, ptr(strArray(o.argv)))) fail("arguments must be valid UTF-8");
  const names = strArray(o.env.map(([k]) => k));
  const values = strArray(o.env.map(([, val]) => val));
  if (!C.wasi_config_set_env(cfg, o.env.length, ptr(names), ptr(values))) fail("environment must be valid UTF-8");
  if (o.stdin.kind === "inherit") C.wasi_config_inherit_stdin(cfg);
  else if (o.stdin.kind === "file" && !C.wasi_config_set_stdin_file(cfg, ptr(cstr(o.stdin.path)))) fail(`cannot open stdin file ${o.stdin.path}`);
  const setOut = (s: Stdio, which: "stdout" | "stderr") => {
    if (s.kind === "inherit") (which === "stdout" ? C.wasi_config_inherit_stdout : C.wasi_config_inherit_stderr)(cfg);
    else if (s.kind === "file") {
      const ok = (which === "stdout" ? C.wasi_config_set_stdout_file : C.wasi_config_set_stderr_file)(cfg, ptr(cstr(s.path)));
      if (!ok) fail(`cannot open ${which} file ${s.path}`);
    } else if (s.kind === "custom") {
      (which === "stdout" ? C.wasi_config_set_stdout_custom : C.wasi_config_set_stderr_custom)(cfg, s.callback, s.data, s.finalizer);
    }
  };
  setOut(o.stdout, "stdout");
  setOut(o.stderr, "stderr");
  for (const d of o.preopens) {
    if (!C.wasi_config_preopen_dir(cfg, ptr(cstr(d.host)), ptr(cstr(d.guest)), d.writable)) {
      fail(`cannot preopen directory ${d.host}`);
    }
  }
  void keep;
  return cfg;
}

// ---- store ------------------------------------------------------------------------
export interface StoreLimits {
  memoryBytes: number;
  tableElements: number;
  instances: number;
  tables: number;
  memories: number;
}

export class Store {
  readonly ptr: Pointer;
  readonly context: Pointer;
  constructor(engine: Engine, limits: StoreLimits) {
    this.ptr = C.wasmtime_store_new(engine.ptr, null, null)!;
    this.context = C.wasmtime_store_context(this.ptr)!;
    C.wasmtime_store_limiter(this.ptr, limits.memoryBytes, limits.tableElements, limits.instances, limits.tables, limits.memories);
  }
  /** Takes ownership of the wasi config. */
  setWasi(config: Pointer): void {
    check(C.wasmtime_context_set_wasi(this.context, config), "wasi");
  }
  setFuel(fuel: bigint): void {
    check(C.wasmtime_context_set_fuel(this.context, fuel), "set fuel");
  }
  fuel(): bigint {
    const out = new BigUint64Array(1);
    check(C.wasmtime_context_get_fuel(this.context, ptr(out)), "get fuel");
    return out[0];
  }
  delete(): void {
    C.wasmtime_store_delete(this.ptr);
  }
}

// ---- linker + instance ---------------------------------------------------------------
export class Linker {
  readonly ptr: Pointer;
  constructor(engine: Engine) {
    this.ptr = C.wasmtime_linker_new(engine.ptr)!;
  }
  defineWasi(): void {
    check(C.wasmtime_linker_define_wasi(this.ptr), "define wasi");
  }
  /**
   * Resolves every import of `module` once (throws naming an unsatisfied
   * import); instantiating the result skips that work on each launch.
   */
  instantiatePre(module: Module): InstancePre {
    const out = outPtr();
    check(C.wasmtime_linker_instantiate_pre(this.ptr, module.ptr, ptr(out)), "instantiate");
    return new InstancePre(slotPtr(out)!);
  }
  delete(): void {
    C.wasmtime_linker_delete(this.ptr);
  }
}

/** A module with its imports already resolved by a linker (wasmtime_instance_pre_t). */
export class InstancePre {
  constructor(readonly ptr: Pointer) {
    owned(this, "instancePres", ptr);
  }
}

/** Looks up an export; returns the raw wasmtime_extern_t bytes or null. */
function exportGet(store: Store, instance: Uint8Array, name: string, kind: number): Uint8Array | null {
  const ext = new Uint8Array(EXTERN.size);
  const n = enc.encode(name);
  if (!C.wasmtime_instance_export_get(store.context, ptr(instance), ptr(n), n.length, ptr(ext))) return null;
  if (ext[EXTERN.kind] !== kind) return null;
  return ext.subarray(EXTERN.of);
}

/** Current byte size of the exported memory `name`, or null. */
export function exportMemorySize(store: Store, instance: Uint8Array, name = "memory"): number | null {
  const of = exportGet(store, instance, name, EXTERN_KIND.memory);
  if (!of) return null;
  const mem = of.slice(0, MEMORY_SIZE);
  return Number(C.wasmtime_memory_data_size(store.context, ptr(mem)));
}

// ---- component linker + instance ------------------------------------------------
export class ComponentLinker {
  readonly ptr: Pointer;
  constructor(engine: Engine) {
    this.ptr = C.wasmtime_component_linker_new(engine.ptr)!;
  }
  /** Synchronous WASI 0.2 (the async one panics without a Tokio reactor: ARCHITECTURE.md). */
  addWasip2(): void {
    check(C.wasmtime_component_linker_add_wasip2(this.ptr), "define wasi p2");
  }
  delete(): void {
    C.wasmtime_component_linker_delete(this.ptr);
  }
}

