// Host calls: component host functions whose work happens on the loop.
//
// A guest's thread may not run JS (ARCHITECTURE.md, "the one rule"), so a
// host function that needs JS — fetch, notifications, the compositor's
// clipboard, spawning a cell — is a generic native function
// (ffi/native/weft_native.c, "host calls") that encodes its arguments, posts
// them to the loop and blocks its thread until the loop answers. Here the
// loop finds the handler, runs it (it may be async), and sends the encoded
// results back. A stop ends the guest's wait at once; the handler's `signal`
// aborts then, and whatever it still answers is dropped.
//
// Adding a host function (e.g. for weft:cell):
//
//   hostCalls.register({
//     iface: "weft:cell/process@0.1.0",
//     name: "spawn",
//     // spawn returns result<u32, string>: a throw, oversized arguments or a
//     // wrongly-typed import become err("spawn: <message>") instead of a trap
//     errors: "result-string",
//     handler: async (call) => {
//       const wasm = read.bytes(call.args[0], "spawn: wasm");
//       return [cv.ok(cv.u32(await spawn(call.context.cell!, wasm)))]; // one CVal per WIT result
//     },
//   });
//
// Register before guests are instantiated (module load time is best); a
// registration after that rebuilds the component linker for later guests.
// Guests get their `context` from GuestOptions.context.
import type { Pointer } from "bun:ffi";
import { HOST_CALL_LIMITS, type HostCallRequest, hostCallNative } from "../../ffi/native.ts";
import { check } from "../../ffi/wasmtime.ts";
import { log } from "../system/log.ts";
import { cv, decodeValues, encodeValues, type CVal } from "./component-values.ts";
import type { AppContext } from "./weft-app/context.ts";
import type { CellProcess } from "../cell/procs.ts";

/** What the embedder attaches to a guest for its host functions; each interface family has its own field. */
export interface GuestContext {
  /** weft:app (app sessions). */
  app?: AppContext;
  /** weft:cell (a process of a cell: src/cell/procs.ts). */
  cell?: CellProcess;
}

export interface HostCall {
  /** "iface#name" */
  readonly func: string;
  readonly args: CVal[];
  readonly guestId: number;
  readonly context: GuestContext;
  /** Aborted when the guest is stopped or ends: stop waiting, nobody reads the answer. */
  readonly signal: AbortSignal;
}

export interface HostFunction {
  /** The instance it is defined in, with version: "weft:app/fetch@0.1.0". */
  iface: string;
  name: string;
  /** The function's results, one CVal per WIT result (zero or one). */
  handler: (call: HostCall) => CVal[] | Promise<CVal[]>;
  /**
   * How a failure the handler did not turn into a result is reported:
   * "result-string" (the function returns result<_, string>): as err("<name>: <message>");
   * "trap" (default): the guest traps with the message.
   */
  errors?: "result-string" | "trap";
  /** How err messages start ("<label>: …"); default `name`. */
  label?: string;
}

interface Registered extends HostFunction {
  kind: number;
  func: string;
}

const byKind = new Map<number, Registered>();
const byFunc = new Map<string, Registered>();
let generation = 0;

export const hostCalls = {
  register(fn: HostFunction): void {
    const func = `${fn.iface}#${fn.name}`;
    if (byFunc.has(func)) throw new Error(`host function ${func} is already registered`);
    const r: Registered = { ...fn, func, kind: byKind.size + 1 };
    byKind.set(r.kind, r);
    byFunc.set(func, r);
    generation++;
  },
  /** Changes with every registration: a linker defined before is missing functions. */
  get generation(): number {
    return generation;
  },
  /** Defines every registered function in a component linker. */
  defineAll(componentLinker: Pointer): void {
    const byIface = new Map<string, Registered[]>();
    for (const r of byKind.values()) byIface.set(r.iface, [...(byIface.get(r.iface) ?? []), r]);
    for (const [iface, fns] of byIface) check(hostCallNative.define(componentLinker, iface, fns), `define ${iface}`);
  },
};

const utf8 = new TextEncoder();

export interface HostCallGuest {
  guestId: number;
  context: GuestContext;
  signal: AbortSignal;
}

/**
 * Runs the handler for `req` and calls `reply` once with the native answer:
 * encoded results (ok) or a message the guest traps with. Synchronous
 * handlers reply before this returns (no promise hop on the round trip).
 */
export function serveHostCall(req: HostCallRequest, guest: HostCallGuest, reply: (ok: boolean, bytes: Uint8Array) => void): void {
  const fn = byKind.get(req.kind);
  if (!fn) return reply(false, utf8.encode(`no host function has kind ${req.kind}`));
  const fail = (message: string) =>
    fn.errors === "result-string"
      ? reply(true, encodeValues([cv.err(`${fn.label ?? fn.name}: ${message}`)]))
      : reply(false, utf8.encode(message));
  if (req.refusedBytes) return fail(`its arguments take ${req.refusedBytes} bytes; the limit is ${HOST_CALL_LIMITS.request}`);
  let args: CVal[];
  try {
    args = decodeValues(req.args);
  } catch (e) {
    return fail(`cannot read its arguments: ${(e as Error).message}`);
  }
  const finish = (results: CVal[]) => {
    let bytes: Uint8Array;
    try {
      bytes = encodeValues(results);
    } catch (e) {
      return fail(`cannot encode its results: ${(e as Error).message}`);
    }
    if (bytes.length > HOST_CALL_LIMITS.answer) return fail(`its answer takes ${bytes.length} bytes; the limit is ${HOST_CALL_LIMITS.answer}`);
    reply(true, bytes);
  };
  const failed = (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    log.debug(`guest ${guest.guestId}: ${fn.func} failed: ${message}`);
    fail(message);
  };
  let out: CVal[] | Promise<CVal[]>;
  try {
    out = fn.handler({ func: fn.func, args, guestId: guest.guestId, context: guest.context, signal: guest.signal });
  } catch (e) {
    return failed(e);
  }
  if (out instanceof Promise) out.then(finish, failed);
  else finish(out);
}
