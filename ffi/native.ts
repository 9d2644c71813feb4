// ffi/native.ts — the TS side of ffi/native/weft_native.c (see its header
// for why it exists). Only this file and ffi/wasmtime.ts know its symbols.
import type { PointerReturns } from "./types.ts";
import { dlopen, FFIType, ptr, toArrayBuffer, type FFIFunction, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { libraryPath } from "../src/system/assets.ts";

const { ptr: P, i32, u32, u64, void: v } = FFIType;
const usize = "usize" as const;

const ABI_VERSION = 14;

/** weft_event: { uint32_t kind; uint32_t id; uint64_t arg } */
export const EVENT = { size: 16, kind: 0, id: 4, arg: 8 } as const;
export const EventKind = { fdReady: 1, guestExit: 2, guestOutput: 3, guestReady: 4, guestIpc: 5, compiled: 6, hostCall: 7 } as const;
/** weft_guest_stop_reason */
export const StopReason = { none: 0, host: 1, cpu: 2 } as const;
/** How far a guest's thread got: it failed to instantiate, its module or component has no entry, or its entry ran. */
export const GuestPhase = { none: 0, instantiate: 1, noEntry: 2, run: 3 } as const;
export type GuestPhase = (typeof GuestPhase)[keyof typeof GuestPhase];

const path = process.env.WEFT_NATIVE ?? libraryPath("libweft_native.so");
if (!existsSync(path)) throw new Error(`native helper not found at ${path}; run \`bash scripts/setup.sh\``);

const lib = openHelper(path, {
  weft_abi_version: { args: [], returns: i32 },
  weft_init: { args: [], returns: i32 },
  weft_load_wasmtime: { args: [P], returns: i32 },
  weft_drain: { args: [P, usize], returns: usize },
  weft_watch_fd: { args: [i32, u32], returns: i32 },
  weft_rearm_fd: { args: [i32, u32], returns: i32 },
  weft_disarm_fd: { args: [i32, u32], returns: i32 },
  weft_unwatch_fd: { args: [i32], returns: i32 },
  weft_ticker_add_engine: { args: [P], returns: i32 },
  weft_ticker_set_period_ns: { args: [FFIType.i64], returns: v },
  weft_guest_new: { args: [u32, P, P, usize], returns: P },
  weft_stdout_callback: { args: [], returns: P },
  weft_stderr_callback: { args: [], returns: P },
  weft_stream_finalizer: { args: [], returns: P },
  weft_guest_retain: { args: [P], returns: v },
  weft_guest_read: { args: [P, i32, P, usize], returns: usize },
  weft_guest_start: { args: [P, P, u64, usize], returns: i32 },
  weft_guest_stop: { args: [P], returns: v },
  weft_guest_stop_reason: { args: [P], returns: i32 },
  weft_guest_error: { args: [P], returns: P },
  weft_guest_trap: { args: [P], returns: P },
  weft_guest_cpu_ns: { args: [P], returns: u64 },
  weft_guest_join: { args: [P], returns: v },
  weft_guest_free: { args: [P], returns: v },
  weft_define_poll_oneoff: { args: [P], returns: P },
  weft_guest_set_cpu_quota: { args: [P, u32], returns: v },
  weft_guest_start_component: { args: [P, P, P, u64, usize], returns: i32 },
  weft_guest_phase: { args: [P], returns: i32 },
  weft_guest_instance: { args: [P], returns: P },
  weft_guest_run_failed: { args: [P], returns: i32 },
  weft_define_weft_app: { args: [P], returns: P },
  weft_compile_start: { args: [P, P, usize, i32, u32], returns: P },
  weft_compile_result: { args: [P, P], returns: P },
  weft_guest_ipc_push: { args: [P, P, usize], returns: i32 },
  weft_guest_ipc_peek: { args: [P], returns: FFIType.i64 },
  weft_guest_ipc_take: { args: [P, P, usize], returns: FFIType.i64 },
  weft_guest_bind_wasi: { args: [P, P, P], returns: i32 },
  weft_define_host_funcs: { args: [P, P, P, P], returns: P },
  weft_host_call_take: { args: [P, P, usize, P], returns: FFIType.i64 },
  weft_host_call_answer: { args: [P, u64, i32, P, usize], returns: i32 },
  weft_host_call_max_request: { args: [], returns: usize },
  weft_host_call_max_answer: { args: [], returns: usize },
  weft_cpu_pool_new: { args: [P, u64], returns: P },
  weft_cpu_pool_release: { args: [P], returns: v },
  weft_cpu_pool_used: { args: [P], returns: u64 },
  weft_cpu_pool_reset: { args: [P], returns: v },
  weft_cpu_pool_exhausted: { args: [P], returns: i32 },
  weft_guest_set_cpu_pool: { args: [P, P], returns: v },
  weft_guest_cpu_pool_hit_ns: { args: [P], returns: u64 },
  weft_wasi_orig_count: { args: [], returns: usize },
  weft_wasi_orig_name: { args: [usize], returns: FFIType.cstring },
  weft_wasi_orig_params: { args: [usize], returns: FFIType.cstring },
  weft_define_fd_shadows: { args: [P], returns: P },
  weft_guest_revocable_fd: { args: [P, i32], returns: i32 },
  weft_guest_revoke_dirs: { args: [P], returns: v },
  weft_guest_dirs_refused: { args: [P], returns: u32 },
  weft_frames_init: { args: [], returns: i32 },
  weft_frames_new: { args: [], returns: P },
  weft_frames_add: { args: [P, P, P, u32, u32], returns: i32 },
  weft_frames_take: { args: [P, P], returns: i32 },
  weft_frames_done: { args: [P, u32], returns: u32 },
  weft_frames_free: { args: [P], returns: v },
  weft_frames_live: { args: [], returns: usize },
});
const N = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

/** dlopen, with the fix named when an old build lacks a symbol this code needs. */
function openHelper<S extends Record<string, FFIFunction>>(p: string, symbols: S) {
  try {
    return dlopen(p, symbols);
  } catch (e) {
    throw new Error(`native helper ${p} is out of date (${(e as Error).message}); run \`bash scripts/setup.sh\``);
  }
}

if (N.weft_abi_version() !== ABI_VERSION) {
  throw new Error(`native helper ${path} is out of date; run \`bash scripts/setup.sh\``);
}

/** Starts the helper's threads once; returns the loop's end of the wake-up socket pair. */
let wakeFd = -1;
export function initNative(): number {
  if (wakeFd >= 0) return wakeFd;
  const rc = N.weft_init();
  if (rc < 0) throw new Error(`native helper failed to start (errno ${-rc})`);
  wakeFd = rc;
  return wakeFd;
}

/** Lets the helper call into the libwasmtime at `path` (the runtime does this once). */
export function bindWasmtime(path: string): void {
  const rc = N.weft_load_wasmtime(ptr(new TextEncoder().encode(path + "\0")));
  if (rc < 0) throw new Error(`native helper cannot use ${path} (errno ${-rc})`);
}

const eventBuf = new Uint8Array(EVENT.size * 256);
const eventView = new DataView(eventBuf.buffer);
/** Drains every queued event (call after each wake-up). */
export function drainEvents(each: (kind: number, id: number) => void): number {
  let total = 0;
  for (;;) {
    const n = Number(N.weft_drain(ptr(eventBuf), 256));
    for (let i = 0; i < n; i++) {
      const o = i * EVENT.size;
      each(eventView.getUint32(o + EVENT.kind, true), eventView.getUint32(o + EVENT.id, true));
    }
    total += n;
    if (n < 256) return total;
  }
}

export const fdWatch = {
  watch: (fd: number, token: number) => N.weft_watch_fd(fd, token),
  rearm: (fd: number, token: number) => N.weft_rearm_fd(fd, token),
  /** Stays in the watch set but reports nothing until rearmed. */
  disarm: (fd: number, token: number) => N.weft_disarm_fd(fd, token),
  unwatch: (fd: number) => N.weft_unwatch_fd(fd),
};

/**
 * wl_surface.frame callbacks held in C (ffi/native/frame_callbacks.c): a
 * list is a native head; the callbacks in it are libwayland resources that
 * unlink themselves when they go, so JS never holds one's pointer.
 */
export const frameCallbacks = {
  /** Binds the helper to the libwayland-server ffi/wayland.ts loaded; call before the rest. */
  init(): void {
    const rc = N.weft_frames_init();
    if (rc < 0) throw new Error(`native helper cannot use libwayland-server (errno ${-rc})`);
  },
  newList(): Pointer {
    const l = N.weft_frames_new();
    if (!l) throw new Error("out of memory for a frame callback list");
    return l;
  },
  /** False when libwayland could not allocate (the client has been told and will be disconnected). */
  add: (list: Pointer, client: Pointer, iface: Pointer, version: number, id: number): boolean => N.weft_frames_add(list, client, iface, version, id) === 0,
  /** Moves `src`'s callbacks to the end of `dst`; true when `dst` holds any. */
  take: (dst: Pointer, src: Pointer): boolean => N.weft_frames_take(dst, src) !== 0,
  /** Answers (done) and destroys every callback in `list`; returns how many there were. */
  done: (list: Pointer, timeMs: number): number => N.weft_frames_done(list, timeMs >>> 0),
  /** Destroys the callbacks still in `list` (never answered) and frees it. */
  free: (list: Pointer): void => N.weft_frames_free(list),
  /** Callbacks alive in every list (tests: none outlive their surface or client). */
  live: (): number => Number(N.weft_frames_live()),
};

export const ticker = {
  addEngine: (engine: Pointer) => {
    if (N.weft_ticker_add_engine(engine) !== 0) throw new Error("too many engines for the epoch ticker");
  },
  setPeriodNs: (ns: number) => N.weft_ticker_set_period_ns(ns),
};

export const guestNative = {
  create: (id: number, store: Pointer, engine: Pointer, outCap: number): Pointer => {
    const g = N.weft_guest_new(id, store, engine, outCap);
    if (!g) throw new Error("out of memory creating guest");
    return g;
  },
  stdoutCallback: (): Pointer => N.weft_stdout_callback()!,
  stderrCallback: (): Pointer => N.weft_stderr_callback()!,
  /** Takes a reference for a custom stream; Wasmtime drops it through streamFinalizer(). */
  retainForStream: (g: Pointer): Pointer => (N.weft_guest_retain(g), N.weft_stream_finalizer()!),
  read: (g: Pointer, which: 0 | 1, into: Uint8Array): number => Number(N.weft_guest_read(g, which, ptr(into), into.length)),
  /**
   * On the guest's own thread: instantiates the module (a
   * wasmtime_instance_pre_t that outlives the guest; start functions run
   * there too), then runs its _start. 0 or -errno.
   */
  start: (g: Pointer, instancePre: Pointer, cpuBudgetNs: number, stackBytes: number): number =>
    N.weft_guest_start(g, instancePre, BigInt(cpuBudgetNs), stackBytes),
  /** The same for a component and the linker it is instantiated with (both outlive the guest): its wasi:cli/run `run`. */
  startComponent: (g: Pointer, linker: Pointer, component: Pointer, cpuBudgetNs: number, stackBytes: number): number =>
    N.weft_guest_start_component(g, linker, component, BigInt(cpuBudgetNs), stackBytes),
  /** How far the guest's thread got: after it ended, see GuestPhase. */
  phase: (g: Pointer): GuestPhase => N.weft_guest_phase(g) as GuestPhase,
  /** The module's instance (wasmtime_instance_t bytes), once instantiated. */
  instance: (g: Pointer): Uint8Array => new Uint8Array(toArrayBuffer(N.weft_guest_instance(g)!, 0, 16).slice(0)),
  /** A component's run returned err(_). */
  runFailed: (g: Pointer): boolean => N.weft_guest_run_failed(g) !== 0,
  /** Queues `bytes` for the guest's ipc.recv; false when its inbox is full. */
  ipcPush: (g: Pointer, bytes: Uint8Array): boolean => N.weft_guest_ipc_push(g, ptr(bytes.length ? bytes : new Uint8Array(1)), bytes.length) === 0,
  /** Takes every message the guest sent with ipc.send. */
  ipcTakeAll: (g: Pointer): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (;;) {
      const len = Number(N.weft_guest_ipc_peek(g));
      if (len < 0) return out;
      const buf = new Uint8Array(Math.max(len, 1));
      const n = Number(N.weft_guest_ipc_take(g, ptr(buf), buf.length));
      if (n >= 0) out.push(buf.subarray(0, n));
    }
  },
  stop: (g: Pointer) => N.weft_guest_stop(g),
  /** Share of one CPU in permille (1000 = a whole core = unthrottled). */
  setCpuQuota: (g: Pointer, permille: number) => N.weft_guest_set_cpu_quota(g, permille),
  /** Charges the guest's CPU to `pool` (and its ancestors); call before start. */
  setCpuPool: (g: Pointer, pool: Pointer) => N.weft_guest_set_cpu_pool(g, pool),
  /** The limit (ns) of the shared pool that stopped the guest; 0 when none did. */
  cpuPoolHitNs: (g: Pointer): number => Number(N.weft_guest_cpu_pool_hit_ns(g)),
  stopReason: (g: Pointer): number => N.weft_guest_stop_reason(g),
  error: (g: Pointer): Pointer | null => N.weft_guest_error(g),
  trap: (g: Pointer): Pointer | null => N.weft_guest_trap(g),
  cpuNs: (g: Pointer): number => Number(N.weft_guest_cpu_ns(g)),
  join: (g: Pointer) => N.weft_guest_join(g),
  free: (g: Pointer) => N.weft_guest_free(g),
  /**
   * Where the shadows (poll_oneoff; the fd functions) find Wasmtime's own
   * WASI functions: a plain-WASI linker, and the trampoline module
   * (src/runtime/wasi-helper.ts) compiled for the guest's engine.
   */
  bindWasi: (g: Pointer, baseLinker: Pointer, helperModule: Pointer): boolean => N.weft_guest_bind_wasi(g, baseLinker, helperModule) === 0,
  /** Marks a preopen's fd revocable (before start); fds opened through it follow it. */
  revocableFd: (g: Pointer, fd: number): boolean => N.weft_guest_revocable_fd(g, fd) === 0,
  /** Every revocable fd fails with ENOTCAPABLE from now on (needs the fd shadows in its linker). */
  revokeDirs: (g: Pointer) => N.weft_guest_revoke_dirs(g),
  /** Calls refused on revoked fds so far. */
  dirsRefused: (g: Pointer): number => N.weft_guest_dirs_refused(g),
};

/**
 * CPU budgets shared by a tree of guests (weft_native.c, "weft_cpu_pool"):
 * every guest given a pool charges its CPU time to it and to its ancestors;
 * when one is past its limit the guests under it stop (cpu limit). Pools are
 * reference counted: the creator releases its reference; guests hold theirs.
 */
export const cpuPools = {
  create: (parent: Pointer | null, limitNs: number): Pointer => {
    const p = N.weft_cpu_pool_new(parent, BigInt(Math.max(0, Math.round(limitNs))));
    if (!p) throw new Error("out of memory creating a CPU pool");
    return p;
  },
  release: (p: Pointer) => N.weft_cpu_pool_release(p),
  /** CPU time (ns) charged so far by every guest under the pool. */
  usedNs: (p: Pointer): number => Number(N.weft_cpu_pool_used(p)),
  reset: (p: Pointer) => N.weft_cpu_pool_reset(p),
  /** This pool or an ancestor is past its limit. */
  exhausted: (p: Pointer): boolean => N.weft_cpu_pool_exhausted(p) !== 0,
};

/** Compile jobs on the helper's threads: start one, then read it after EV_COMPILED(token). */
export const compileJobs = {
  start: (engine: Pointer, wasm: Uint8Array, component: boolean, token: number): Pointer => {
    const job = N.weft_compile_start(engine, ptr(wasm.length ? wasm : new Uint8Array(1)), wasm.length, component ? 1 : 0, token);
    if (!job) throw new Error("cannot start a compile thread");
    return job;
  },
  /** Joins and frees the job: the compiled object, or the wasmtime_error_t* that says why not. */
  result: (job: Pointer): { compiled: Pointer } | { error: Pointer } => {
    const err = new BigUint64Array(1);
    const compiled = N.weft_compile_result(job, ptr(err));
    return compiled ? { compiled } : { error: Number(err[0]) as Pointer };
  },
};

/** Defines weft:app@0.1.0 (native host functions) in a component linker; returns a wasmtime_error_t* or null. */
export function defineWeftApp(componentLinker: Pointer): Pointer | null {
  return N.weft_define_weft_app(componentLinker);
}

/** Shadows poll_oneoff in a linker that has WASI defined; returns a wasmtime_error_t* or null. */
export function defineInterruptiblePoll(linker: Pointer): Pointer | null {
  return N.weft_define_poll_oneoff(linker);
}

/** The WASI functions the helper's trampolines forward to, in its import order (weft_native.c, "WASI trampolines"). */
export function wasiTrampolines(): { name: string; params: string }[] {
  const out = [];
  for (let i = 0, n = Number(N.weft_wasi_orig_count()); i < n; i++)
    out.push({ name: String(N.weft_wasi_orig_name(i)), params: String(N.weft_wasi_orig_params(i)) });
  return out;
}

/**
 * Shadows every Preview 1 function that takes an fd (weft_native.c, "WASI
 * trampolines and revocable directories") in a linker that has WASI defined;
 * returns a wasmtime_error_t* or null.
 */
export function defineFdShadows(linker: Pointer): Pointer | null {
  return N.weft_define_fd_shadows(linker);
}

/** A guest's pending host call, as the loop takes it after EventKind.hostCall. */
export interface HostCallRequest {
  kind: number;
  seq: number;
  /** The encoded arguments (src/runtime/component-values.ts); empty when refused. */
  args: Uint8Array;
  /** Nonzero: the arguments were this many bytes, over HOST_CALL_LIMITS.request, and were not sent. */
  refusedBytes: number;
}

/** Native caps on one host call's encoded arguments and answer. */
export const HOST_CALL_LIMITS = {
  request: Number(N.weft_host_call_max_request()),
  answer: Number(N.weft_host_call_max_answer()),
} as const;

const takeMeta = new BigUint64Array(4);
let takeBuf = new Uint8Array(64 * 1024);
const enc = new TextEncoder();

/** Host calls: a guest's thread waits while the loop computes the answer (weft_native.c, "host calls"). */
export const hostCallNative = {
  /** Defines `funcs` of instance `iface` in a component linker as host calls; a wasmtime_error_t* or null. */
  define(componentLinker: Pointer, iface: string, funcs: readonly { name: string; kind: number }[]): Pointer | null {
    const names = enc.encode(funcs.map((f) => f.name + "\0").join("") + "\0");
    const kinds = new Uint32Array(funcs.map((f) => f.kind));
    return N.weft_define_host_funcs(componentLinker, ptr(enc.encode(iface + "\0")), ptr(names), ptr(kinds.length ? kinds : new Uint32Array(1)));
  },
  /** Takes the guest's pending call; null when it gave up meanwhile (it was stopped). */
  take(g: Pointer): HostCallRequest | null {
    for (;;) {
      const n = Number(N.weft_host_call_take(g, ptr(takeBuf), takeBuf.length, ptr(takeMeta)));
      if (n === -1) return null;
      if (n === -2) {
        takeBuf = new Uint8Array(Number(takeMeta[3]));
        continue;
      }
      return { kind: Number(takeMeta[0]), seq: Number(takeMeta[1]), args: takeBuf.slice(0, n), refusedBytes: Number(takeMeta[2]) };
    }
  },
  /**
   * Answers call `seq` with encoded results (ok) or a failure message that
   * the guest traps with. "stale": the guest no longer waits (dropped).
   */
  answer(g: Pointer, seq: number, ok: boolean, bytes: Uint8Array): "answered" | "stale" | "too-large" {
    const rc = N.weft_host_call_answer(g, BigInt(seq), ok ? 1 : 0, ptr(bytes.length ? bytes : new Uint8Array(1)), bytes.length);
    if (rc === 0) return "answered";
    if (rc === -7 /* E2BIG */) return "too-large";
    if (rc === -116 /* ESTALE */) return "stale";
    throw new Error(`host call answer failed (errno ${-rc})`);
  },
};
