// A cell's process tree for weft:cell: pid0, the services and the children
// processes spawn (from wasm bytes or a file). Each process holds
// capabilities (caps.ts), a memory pool its children draw from — a child's
// own memory cap plus the pool it gets for its own children come out of its
// parent's pool, and the cell counts live children against
// [limits].max_children, so a fork bomb ends in a clear spawn error, not in
// an exhausted host — and a CPU budget, a child of its parent's, that every
// guest under it charges its CPU time to. Children run on guest threads
// like every guest; their stdin is a pipe, their stdout/stderr are buffered
// here until the parent reads them.
import type { Pointer } from "bun:ffi";
import { closeFd, EAGAIN, pipe, setNonBlocking, writeFd } from "../../ffi/libc.ts";
import { cpuPools } from "../../ffi/native.ts";
import { loadWasmAsync, wasmKind } from "../runtime/cache.ts";
import { describeExit, exitCode, type ExitStatus } from "../runtime/exit.ts";
import { Guest } from "../runtime/guest.ts";
import { CapError, CapHolder, type Attenuation } from "./caps.ts";

/** Unread output kept per child stream; a child that outruns its parent's reads this far is stopped. */
export const CHILD_OUTPUT_LIMIT = 4 << 20;
const EPIPE = 32;

export interface CellLike {
  readonly epoch: number;
  maxChildren: number;
  liveChildren: number;
}

export interface GrantRequest extends Attenuation {
  cap: number;
  name: string;
}

/** weft:cell's `limits` record. */
export interface SpawnLimits {
  memoryMib: number;
  poolMib: number;
  /** CPU budget of the child and its subtree; 0 = only the budgets above it. */
  cpuMs: number;
  /** Wall-clock limit; 0 = none. */
  timeoutMs: number;
}

export interface SpawnRequest extends SpawnLimits {
  wasm: Uint8Array;
  args: string[];
  env: [string, string][];
  grants: GrantRequest[];
}

export class CellProcess {
  readonly caps: CapHolder;
  guest: Guest | null = null;
  poolUsedMib = 0;
  readonly children = new Map<number, Child>();
  private nextChild = 1;
  /** The host directory of this process's own image (pid0's, a service's); a child has none. */
  imageRoot: string | null = null;
  ended = false;
  /** Counts the runs that ended (a service's, at killChildren): a spawn begun in an earlier run is refused. */
  private runsEnded = 0;

  constructor(
    readonly cell: CellLike,
    readonly label: string,
    readonly parent: CellProcess | null,
    /** Memory (MiB) this process's children may take together, with their own pools. */
    readonly poolMib: number,
    readonly cpuPercent: number,
    /**
     * This process's CPU budget (ffi/native.ts cpuPools), a child of its
     * parent's: what it and everything it spawns use is charged up the tree.
     * Its reference is released when the process ends.
     */
    readonly cpuPool: Pointer,
  ) {
    this.caps = new CapHolder(() => cell.epoch, label);
  }

  /** Starts a child; resolves to its handle. Throws CapError with the reason when refused. */
  async spawn(req: SpawnRequest): Promise<number> {
    if (this.ended) throw new CapError(`${this.label} has ended`);
    const run = this.runsEnded;
    const kind = wasmKind(req.wasm);
    if (!kind) throw new CapError("the bytes are not a WebAssembly module or component");
    if (!Number.isInteger(req.memoryMib) || req.memoryMib < 1) throw new CapError("memory-mib must be at least 1");
    const want = req.memoryMib + req.poolMib;
    const free = this.poolMib - this.poolUsedMib;
    if (want > free)
      throw new CapError(`memory budget: the child asks ${req.memoryMib} MiB + ${req.poolMib} MiB for its own children; ${this.label} has ${free} of ${this.poolMib} MiB left`);
    if (this.cell.liveChildren >= this.cell.maxChildren) throw new CapError(`fork limit: the cell already runs ${this.cell.liveChildren} children ([limits].max_children = ${this.cell.maxChildren})`);
    if (cpuPools.exhausted(this.cpuPool)) throw new CapError(`cpu budget: the CPU budget of ${this.label} (or of one above it) is used up`);
    const handle = this.nextChild++;
    const proc = new CellProcess(this.cell, `${this.label}/${handle}`, this, req.poolMib, this.cpuPercent, cpuPools.create(this.cpuPool, req.cpuMs * 1e6));
    const names = new Set<string>();
    try {
      for (const g of req.grants) {
        if (names.has(g.name)) throw new CapError(`grant name "${g.name}" given twice`);
        names.add(g.name);
        this.caps.delegate(g.cap, proc.caps, g.name, g); // throws on stale handles and widening
      }
    } catch (e) {
      proc.end();
      throw e;
    }
    // Reserve before the (possibly slow) compile, so concurrent spawns cannot overdraw.
    this.poolUsedMib += want;
    this.cell.liveChildren++;
    let release = () => {
      release = () => {};
      this.poolUsedMib -= want;
      this.cell.liveChildren--;
      proc.end(); // releases its CPU pool (a child that never ran, or one that ended)
    };
    let module;
    try {
      module = await loadWasmAsync(req.wasm);
    } catch (e) {
      release();
      throw new CapError(`invalid ${kind}: ${(e as Error).message.replace(/^compile: /, "").split("\n")[0]}`);
    }
    // Ended while the child compiled: its parent is gone (a service's run too, though the process stays).
    if (this.ended || this.runsEnded !== run) {
      release();
      throw new CapError(`${this.label} has ended`);
    }
    const child = new Child(handle, proc);
    const [r, w] = pipe();
    try {
      setNonBlocking(w); // the loop never blocks on a child that does not read
      const guest = new Guest(module, {
        argv: ["child", ...req.args],
        env: req.env,
        stdin: { file: `/proc/self/fd/${r}` }, // a fresh, blocking open of the pipe
        stdout: "capture",
        stderr: "capture",
        memoryBytes: req.memoryMib * 1048576,
        cpuPercent: this.cpuPercent,
        cpuPool: proc.cpuPool,
        timeoutMs: req.timeoutMs,
        onOutput: (s, b) => child.output(s, b),
        context: { cell: proc },
      });
      proc.guest = guest;
      child.stdinFd = w;
      guest.exited.then((st) => {
        release();
        child.end(st);
      });
    } catch (e) {
      closeFd(w);
      release();
      throw e;
    } finally {
      closeFd(r);
    }
    this.children.set(handle, child);
    return handle;
  }

  child(handle: number): Child {
    const c = this.children.get(handle);
    if (!c) throw new CapError(`no child ${handle}`);
    return c;
  }

  /** This process ended: its handles die and its children are stopped (like a process group). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.caps.clear();
    cpuPools.release(this.cpuPool); // its guests and its children's pools hold their own references
    for (const c of this.children.values()) c.kill();
  }

  /** CPU time (ms) charged to this process's budget: its own and all its descendants'. */
  get cpuUsedMs(): number {
    return this.ended ? NaN : cpuPools.usedNs(this.cpuPool) / 1e6;
  }

  /** Stops the children, keeping the process (a service between restarts). */
  killChildren(): void {
    this.runsEnded++;
    for (const c of this.children.values()) c.kill();
  }

  /** Stops every descendant; resolves when they are gone. */
  async stopTree(): Promise<void> {
    this.end();
    await Promise.all([...this.children.values()].map((c) => c.exited));
  }
}

type Stream = "stdout" | "stderr";

/** Resolves when `register`'s callback is called or `signal` aborts, leaving no listener behind. */
function untilOr(signal: AbortSignal, register: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    register(done);
  });
}

export class Child {
  stdinFd: number | null = null;
  status: ExitStatus | null = null;
  private readonly buffered: Record<Stream, Uint8Array[]> = { stdout: [], stderr: [] };
  private readonly size: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private readonly readers: Record<Stream, (() => void)[]> = { stdout: [], stderr: [] };
  private overflow: Stream | null = null;
  readonly exited: Promise<ExitStatus>;
  private markExited!: (s: ExitStatus) => void;

  constructor(
    readonly handle: number,
    readonly proc: CellProcess,
  ) {
    this.exited = new Promise((r) => (this.markExited = r));
  }

  output(s: Stream, bytes: Uint8Array): void {
    this.buffered[s].push(bytes);
    this.size[s] += bytes.length;
    if (this.size[s] > CHILD_OUTPUT_LIMIT && !this.overflow) {
      this.overflow = s;
      this.proc.guest?.stop();
    }
    this.wake(s);
  }

  private wake(s: Stream): void {
    for (const r of this.readers[s].splice(0)) r();
  }

  end(status: ExitStatus): void {
    this.status = status;
    this.closeStdin();
    this.proc.end();
    this.markExited(status);
    this.wake("stdout");
    this.wake("stderr");
  }

  /** Up to `max` bytes; waits for some; empty once the child has ended and everything was read. */
  async read(s: Stream, max: number, signal: AbortSignal): Promise<Uint8Array> {
    while (this.size[s] === 0 && !this.status) {
      if (signal.aborted) return new Uint8Array();
      await untilOr(signal, (wake) => this.readers[s].push(wake));
    }
    const out = new Uint8Array(Math.min(max, this.size[s]));
    let n = 0;
    while (n < out.length) {
      const head = this.buffered[s][0];
      const take = Math.min(head.length, out.length - n);
      out.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.buffered[s].shift();
      else this.buffered[s][0] = head.subarray(take);
    }
    this.size[s] -= n;
    return out;
  }

  /** Writes what fits in the pipe now; returns how many bytes that was (0 = full, try later). */
  writeStdin(data: Uint8Array): number {
    if (this.stdinFd === null) throw new CapError(`child ${this.handle}'s stdin is closed`);
    const n = writeFd(this.stdinFd, data);
    if (n === -EAGAIN) return 0;
    if (n === -EPIPE) throw new CapError(`child ${this.handle} no longer reads its stdin`);
    if (n < 0) throw new CapError(`writing to child ${this.handle}'s stdin failed (errno ${-n})`);
    return n;
  }

  closeStdin(): void {
    if (this.stdinFd !== null) closeFd(this.stdinFd);
    this.stdinFd = null;
  }

  kill(): void {
    this.closeStdin(); // a child blocked reading stdin wakes up (EOF) and sees the stop
    this.proc.guest?.stop();
  }

  /** The exit code the parent sees: the child's own, or weft's code for how it was ended. */
  async wait(signal: AbortSignal): Promise<{ code: number; message: string | null }> {
    if (!this.status) await untilOr(signal, (wake) => void this.exited.then(wake));
    const st = this.status;
    if (!st) return { code: -1, message: "aborted" };
    if (this.overflow) return { code: exitCode({ kind: "stopped" }), message: `stopped: its ${this.overflow} was not read (more than ${CHILD_OUTPUT_LIMIT} bytes buffered)` };
    return { code: exitCode(st), message: describeExit(st) };
  }
}
