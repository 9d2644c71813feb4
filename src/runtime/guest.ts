// A guest: one WASI command (a Preview 1 module or a 0.2 component) running on
// its own worker thread.
//
// Life cycle: store + WASI config + imports resolved (main) → the helper's
// SCHED_IDLE thread instantiates it (start functions run there) and calls
// `_start` or `run` → output and exit arrive as loop events → join, read the
// result, delete the store (main). A stop sets a flag and bumps the epoch;
// the guest's epoch callback (native) ends the call at its next check.
import type { Pointer } from "bun:ffi";
import { defineFdShadows, defineInterruptiblePoll, defineWeftApp, GuestPhase, guestNative, hostCallNative, StopReason } from "../../ffi/native.ts";
import {
  check,
  Component,
  ComponentLinker,
  exportMemorySize,
  Linker,
  Store,
  takeError,
  takeTrap,
  trapInMessage,
  wasiConfig,
  type InstancePre,
  type Module,
} from "../../ffi/wasmtime.ts";
import { holdLoop, loopEvents } from "../loop/index.ts";
import { GUEST_THREAD_STACK, engineFor } from "./engine.ts";
import type { ExitStatus } from "./exit.ts";
import { hostCalls, serveHostCall, type GuestContext } from "./host-calls.ts";
import { wasiHelperModule } from "./wasi-helper.ts";
import "./weft-app/index.ts"; // registers weft:app's host calls before any linker is made
import "../cell/host.ts"; // weft:cell: outside a cell every call answers that it is not in one

export interface Preopen {
  host: string;
  guest: string;
  readOnly: boolean;
  /**
   * Guest.revokeDirs() makes it (and every fd opened through it) fail with
   * ENOTCAPABLE. Preview 1 modules only: a component's WASI 0.2 file system
   * cannot be interposed on (docs/decisions/0007).
   */
  revocable?: boolean;
}

export type OutputMode = "inherit" | "capture" | "discard";

export interface GuestOptions {
  argv: string[];
  env?: [string, string][];
  preopens?: Preopen[];
  stdin?: "inherit" | "none" | { file: string };
  stdout?: OutputMode;
  stderr?: OutputMode;
  /** Linear memory cap in bytes (default 512 MiB, like WEFT). */
  memoryBytes?: number;
  /** CPU time budget in ms of the guest thread's own CPU time; 0 = none. */
  cpuMs?: number;
  /**
   * A CPU budget shared with other guests (ffi/native.ts cpuPools): this
   * guest's CPU time is charged to it and its ancestors, and it stops when
   * one of them is used up. The guest holds its own reference.
   */
  cpuPool?: Pointer;
  /** Share of one CPU, in percent, like systemd's CPUQuota= (a guest is one thread: ≥ 100 = unthrottled). */
  cpuPercent?: number;
  /** Wall-clock limit in ms; 0 = none. */
  timeoutMs?: number;
  /** Fuel units (module must be compiled with fuel: loadModule(..., {fuel: true})). */
  fuel?: bigint;
  /** Bytes buffered per captured stream before the guest's writes block. */
  outputBuffer?: number;
  onOutput?: (stream: "stdout" | "stderr", bytes: Uint8Array) => void;
  /** A component called weft:app/notify.ready(). */
  onReady?: () => void;
  /** A component called weft:app/ipc.send(payload). */
  onIpc?: (payload: string) => void;
  /** What host calls see of this guest (capabilities, session, …). */
  context?: GuestContext;
}

export const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;
/** The longest delay one timer takes (2^31 - 1 ms, about 24.8 days); beyond it, it fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_OUTPUT_BUFFER = 64 * 1024;

let nextId = 1;

/**
 * Per engine, three WASI linkers shared by all guests (Wasmtime allows this):
 * `guest` has poll_oneoff shadowed by the helper's interruptible version (so a
 * stop reaches a sleeping guest at once); `revocable` also shadows every fd
 * function, for guests with revocable preopens (a cell's [[dir]]s), so only
 * they pay for that indirection; `base` is plain Wasmtime WASI, whose
 * functions the shadows hand calls on to (through src/runtime/wasi-helper.ts).
 */
// `helper` is held here because the native guest keeps only its pointer.
const linkers = new Map<Pointer, { guest: Linker; revocable: Linker; base: Linker; helper: Module }>();
function wasiLinkers(fuel: boolean) {
  const engine = engineFor(fuel);
  let l = linkers.get(engine.ptr);
  if (!l) {
    const base = new Linker(engine);
    base.defineWasi();
    const guest = new Linker(engine);
    guest.defineWasi();
    check(defineInterruptiblePoll(guest.ptr), "define poll_oneoff");
    const revocable = new Linker(engine);
    revocable.defineWasi();
    check(defineInterruptiblePoll(revocable.ptr), "define poll_oneoff");
    check(defineFdShadows(revocable.ptr), "define the fd shadows");
    l = { guest, revocable, base, helper: wasiHelperModule(engine) };
    linkers.set(engine.ptr, l);
  }
  return l;
}

/** Starts the guest's thread: 0 or -errno. */
type Start = (cpuBudgetNs: number) => number;

/** Wasmtime's errors carry a backtrace and a "Caused by:" chain; a person wants the cause, on one line. */
function rootCause(message: string): string {
  const caused = message.split("Caused by:")[1];
  const text = (caused ?? message).trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return (caused ? text.at(-1) : text[0]) ?? message;
}

/**
 * One component linker per engine: synchronous WASI 0.2, weft:app's native
 * notify/ipc, and every registered host call. Remade when a host call was
 * registered after it; a replaced one is deleted once no guest's thread can
 * still be instantiating with it (`users`).
 */
interface LinkerUse {
  linker: ComponentLinker;
  generation: number;
  users: number;
  replaced: boolean;
}
const componentLinkers = new Map<Pointer, LinkerUse>();
function componentLinker(fuel: boolean): LinkerUse {
  const engine = engineFor(fuel);
  const old = componentLinkers.get(engine.ptr);
  if (old && old.generation === hostCalls.generation) return old;
  // The new one first: if defining it fails, the old one stays as it was.
  const linker = new ComponentLinker(engine);
  try {
    linker.addWasip2();
    check(defineWeftApp(linker.ptr), "define weft:app");
    hostCalls.defineAll(linker.ptr);
  } catch (e) {
    linker.delete();
    throw e;
  }
  if (old) {
    old.replaced = true;
    if (old.users === 0) old.linker.delete();
  }
  const l = { linker, generation: hostCalls.generation, users: 0, replaced: false };
  componentLinkers.set(engine.ptr, l);
  return l;
}
function releaseLinker(l: LinkerUse): void {
  if (--l.users === 0 && l.replaced) l.linker.delete();
}

/** Imports resolved once per compiled module and linker (the linkers of an engine never change). */
const pres = new WeakMap<Linker, WeakMap<Module, InstancePre>>();
function instancePre(module: Module, linker: Linker): InstancePre {
  let byModule = pres.get(linker);
  if (!byModule) pres.set(linker, (byModule = new WeakMap()));
  let pre = byModule.get(module);
  if (!pre) {
    pre = linker.instantiatePre(module);
    byModule.set(module, pre);
  }
  return pre;
}

export class Guest {
  readonly id = nextId++;
  readonly exited: Promise<ExitStatus>;
  private resolveExit!: (s: ExitStatus) => void;
  private native: Pointer | null = null;
  private store: Store | null = null;
  private instance: Uint8Array | null = null;
  /** The component linker this guest's thread instantiates with, held until the thread has ended. */
  private linkerUse: LinkerUse | null = null;
  /** The instance-pre its thread instantiates (a module's): its native handle lives as long as this object (ffi/wasmtime.ts). */
  private pre: InstancePre | null = null;
  private readonly startedAt = performance.now();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopCause: "stopped" | "timeout" | null = null;
  private readonly readBuf: Uint8Array;
  private done = false;
  /** The process stays alive (and its loop blocks instead of polling) while the guest runs. */
  private readonly releaseLoop = holdLoop();
  /** Aborted when the guest is stopped or ends: host calls still running stop waiting. */
  private readonly hostCallsAbort = new AbortController();

  constructor(
    readonly module: Module | Component,
    private readonly opts: GuestOptions,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
    this.readBuf = new Uint8Array(opts.outputBuffer ?? DEFAULT_OUTPUT_BUFFER);
    try {
      this.launch();
    } catch (err) {
      this.cleanup();
      this.finish({ kind: "error", message: err instanceof Error ? err.message : String(err) });
    }
  }

  private launch(): void {
    const o = this.opts;
    const fuel = o.fuel !== undefined;
    const engine = engineFor(fuel);
    const memoryBytes = o.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    const store = (this.store = new Store(engine, { memoryBytes, tableElements: 1_000_000, instances: 16, tables: 16, memories: 4 }));
    if (fuel) store.setFuel(o.fuel!);
    const native = (this.native = guestNative.create(this.id, store.ptr, engine.ptr, o.outputBuffer ?? DEFAULT_OUTPUT_BUFFER));
    const out = (mode: OutputMode | undefined, which: 0 | 1) =>
      mode === "capture"
        ? ({
            kind: "custom",
            callback: which === 0 ? guestNative.stdoutCallback() : guestNative.stderrCallback(),
            data: native,
            finalizer: guestNative.retainForStream(native),
          } as const)
        : mode === "discard"
          ? ({ kind: "none" } as const)
          : ({ kind: "inherit" } as const);
    store.setWasi(
      wasiConfig({
        argv: o.argv,
        env: o.env ?? [],
        preopens: (o.preopens ?? []).map((p) => ({ host: p.host, guest: p.guest, writable: !p.readOnly })),
        stdin: o.stdin === "inherit" ? { kind: "inherit" } : o.stdin && typeof o.stdin === "object" ? { kind: "file", path: o.stdin.file } : { kind: "none" },
        stdout: out(o.stdout, 0),
        stderr: out(o.stderr, 1),
      }),
    );
    loopEvents.onGuest(this.id, {
      exit: () => this.onExit(),
      output: () => this.drainOutput(),
      ready: () => this.opts.onReady?.(),
      ipc: () => this.drainIpc(),
      hostCall: () => this.onHostCall(),
    });
    if (o.cpuPool) guestNative.setCpuPool(native, o.cpuPool); // before instantiation: start functions are charged too
    const start = this.module instanceof Component ? this.prepareComponent(fuel) : this.prepareModule(native, fuel);
    if (o.cpuPercent !== undefined && o.cpuPercent < 100) guestNative.setCpuQuota(native, Math.max(1, Math.round(o.cpuPercent * 10)));
    const rc = start(o.cpuMs ? o.cpuMs * 1e6 : 0);
    if (rc < 0) return this.endEarly({ kind: "error", message: `cannot start guest thread (errno ${-rc})` });
    if (o.timeoutMs) this.armTimeout(o.timeoutMs);
  }

  /**
   * A core module: its imports are resolved here (once per module; a missing
   * one throws, naming it); the guest's thread instantiates it — start
   * functions run there, under the guest's limits, never on the loop — then
   * runs `_start`.
   */
  private prepareModule(native: Pointer, fuel: boolean): Start {
    const linker = wasiLinkers(fuel);
    guestNative.bindWasi(native, linker.base.ptr, linker.helper.ptr);
    // Preopens take fds from 3 on, in order (after stdin, stdout, stderr).
    const revocable = (this.opts.preopens ?? []).flatMap((p, i) => (p.revocable ? [3 + i] : []));
    for (const fd of revocable) if (!guestNative.revocableFd(native, fd)) throw new Error("out of memory");
    this.revocableDirs = revocable.length > 0;
    const pre = (this.pre = instancePre(this.module as Module, revocable.length ? linker.revocable : linker.guest));
    return (cpuNs) => guestNative.start(native, pre.ptr, cpuNs, GUEST_THREAD_STACK);
  }

  /**
   * A component: instantiated on the guest's thread, then `run` of its
   * wasi:cli/run export, with Wasmtime's synchronous WASI 0.2. Limitation: a
   * component blocked in a WASI 0.2 sleep notices a stop only when the sleep
   * returns (no interruptible poll yet).
   */
  private prepareComponent(fuel: boolean): Start {
    const use = (this.linkerUse = componentLinker(fuel));
    use.users++;
    return (cpuNs) => guestNative.startComponent(this.native!, use.linker.ptr, (this.module as Component).ptr, cpuNs, GUEST_THREAD_STACK);
  }

  private endEarly(status: ExitStatus): void {
    this.drainOutput();
    this.cleanup();
    this.finish(status);
  }

  /**
   * Asks the guest to stop. A guest running wasm or sleeping in Preview 1
   * ends at once; one blocked in another WASI call (a stdin read, a WASI 0.2
   * sleep) ends when that call returns.
   */
  stop(cause: "stopped" | "timeout" = "stopped"): void {
    if (this.done || !this.native) return;
    this.stopCause ??= cause;
    guestNative.stop(this.native);
    this.hostCallsAbort.abort();
  }

  get running(): boolean {
    return !this.done;
  }

  /** Stops the guest after `ms`, in steps a timer can take (a longer delay would fire at once). */
  private armTimeout(ms: number): void {
    this.timer = ms > MAX_TIMER_MS ? setTimeout(() => this.armTimeout(ms - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(() => this.stop("timeout"), ms);
  }

  /** A Preview 1 module with revocable preopens (Preopen.revocable). */
  private revocableDirs = false;

  /**
   * Revokes the revocable preopens: from now on every WASI call on them, or
   * on an fd opened through them, fails with ENOTCAPABLE. False when there is
   * nothing this guest could revoke (none, or a component: docs/decisions/0007).
   */
  revokeDirs(): boolean {
    if (this.done || !this.native || !this.revocableDirs) return false;
    guestNative.revokeDirs(this.native);
    return true;
  }

  /** WASI calls refused on revoked directories so far. */
  get dirsRefused(): number {
    return this.native ? guestNative.dirsRefused(this.native) : 0;
  }

  /**
   * Delivers `payload` to the guest's weft:app/ipc.recv. False when the guest
   * has ended or its inbox is full (it is not reading).
   */
  ipcSend(payload: string): boolean {
    if (this.done || !this.native) return false;
    return guestNative.ipcPush(this.native, new TextEncoder().encode(payload));
  }

  /** A host call is waiting: answer it (now or when its handler resolves), unless the guest is gone by then. */
  private onHostCall(): void {
    const native = this.native;
    if (!native) return;
    const req = hostCallNative.take(native);
    if (!req) return; // it gave up (stopped) before we got to it
    const guest = { guestId: this.id, context: this.opts.context ?? {}, signal: this.hostCallsAbort.signal };
    serveHostCall(req, guest, (ok, bytes) => {
      if (this.native !== native) return; // ended meanwhile: the answer is dropped
      let r: ReturnType<typeof hostCallNative.answer>;
      try {
        r = hostCallNative.answer(native, req.seq, ok, bytes); // "stale" (stopped meanwhile) is dropped too
      } catch {
        r = "too-large"; // any other failure: the guest must not wait forever either
      }
      // The guest still waits: end its call with a failure (it traps) rather than leave it hanging.
      if (r === "too-large") hostCallNative.answer(native, req.seq, false, new TextEncoder().encode("host call answer failed"));
    });
  }

  private drainIpc(): void {
    if (!this.native) return;
    const dec = new TextDecoder();
    for (const m of guestNative.ipcTakeAll(this.native)) this.opts.onIpc?.(dec.decode(m));
  }

  private drainOutput(): void {
    const native = this.native;
    if (!native) return;
    for (const which of [0, 1] as const) {
      for (;;) {
        const n = guestNative.read(native, which, this.readBuf);
        if (n === 0) break;
        this.opts.onOutput?.(which === 0 ? "stdout" : "stderr", this.readBuf.slice(0, n));
      }
    }
  }

  private onExit(): void {
    const native = this.native!;
    guestNative.join(native);
    try {
      this.drainOutput();
      this.drainIpc();
    } catch (e) {
      // A throwing onOutput/onIpc must not leak the guest or leave `exited` pending.
      console.error(`weft: guest ${this.id} output handler failed: ${(e as Error).message}`);
    }
    const err = guestNative.error(native);
    const trap = guestNative.trap(native);
    const reason = guestNative.stopReason(native);
    const cpuMs = guestNative.cpuNs(native) / 1e6;
    const phase = guestNative.phase(native);
    const component = this.module instanceof Component;
    if (!component && phase >= GuestPhase.noEntry) this.instance = guestNative.instance(native);
    let status: ExitStatus;
    if (reason === StopReason.host) {
      // Ended by us: through the epoch callback (an error) or an interrupted sleep (a trap).
      if (trap) takeTrap(trap);
      if (err) takeError(err);
      status = this.stopCause === "timeout" ? { kind: "timeout", limitMs: this.opts.timeoutMs ?? 0 } : { kind: "stopped" };
    } else if (trap) {
      const t = takeTrap(trap);
      status = { kind: "trap", trap: t.kind, message: t.message, frames: t.frames };
    } else if (err) {
      const e = takeError(err);
      const trapped = trapInMessage(e.message); // components report traps as errors
      if (e.exitStatus !== null) status = { kind: "exit", code: e.exitStatus };
      else if (reason === StopReason.cpu) {
        const shared = guestNative.cpuPoolHitNs(native);
        status = shared ? { kind: "cpu-limit", limitMs: shared / 1e6, shared: true } : { kind: "cpu-limit", limitMs: this.opts.cpuMs ?? 0 };
      }
      else if (trapped) status = { kind: "trap", trap: trapped, message: e.message, frames: e.frames };
      else if (phase === GuestPhase.instantiate) status = { kind: "error", message: `instantiate: ${rootCause(e.message)}` };
      else status = { kind: "error", message: e.message };
    } else if (phase === GuestPhase.noEntry) {
      status = { kind: "error", message: component ? "component has no wasi:cli/run export (not a command)" : "module has no _start export (not a WASI command)" };
    } else status = { kind: "exit", code: guestNative.runFailed(native) ? 1 : 0 };
    if (status.kind === "trap" || (status.kind === "exit" && status.code !== 0)) status = this.classifyOom(status);
    if (status.kind === "trap" && status.trap === "out of fuel") status = { kind: "out-of-fuel" };
    this.cleanup();
    this.finish({ ...status, cpuMs });
  }

  /**
   * The store limiter makes memory.grow fail (malloc returns NULL); the guest
   * then aborts or exits on its own. We call that out-of-memory when its
   * memory ended within 1 MiB of the cap. Limitation: a single huge request
   * refused while memory is small is reported as the guest's own trap/exit.
   */
  private classifyOom(status: ExitStatus): ExitStatus {
    const limit = this.opts.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    if (!this.store || !this.instance) return status;
    const size = exportMemorySize(this.store, this.instance);
    if (size !== null && size > limit - (1 << 20)) return { kind: "out-of-memory", limitBytes: limit, detail: status };
    return status;
  }

  private cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    this.hostCallsAbort.abort();
    loopEvents.offGuest(this.id);
    // The store first: it drops the output streams, whose references keep the
    // native guest alive until Wasmtime's writer threads are done with it.
    this.store?.delete();
    this.store = null;
    if (this.native) guestNative.free(this.native);
    this.native = null;
    this.instance = null;
    if (this.linkerUse) releaseLinker(this.linkerUse);
    this.linkerUse = null;
    this.pre = null;
  }

  private finish(status: ExitStatus): void {
    if (this.done) return;
    this.done = true;
    this.releaseLoop();
    this.resolveExit({ ...status, wallMs: performance.now() - this.startedAt });
  }
}
