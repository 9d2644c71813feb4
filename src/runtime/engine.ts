// The process's Wasmtime engines. One engine (and its compiled code) is shared
// by every guest; fuel metering changes the generated code, so guests that ask
// for fuel get a second engine, made only when first needed.
import { Engine, OptLevel, WASMTIME_VERSION, type EngineOptions } from "../../ffi/wasmtime.ts";
import { bindWasmtime, ticker } from "../../ffi/native.ts";
import { LIBWASMTIME_PATH } from "../../ffi/wasmtime.ts";
import { startLoop } from "../loop/index.ts";

/** Wasm stack limit. The guest thread's stack is larger (see GUEST_THREAD_STACK). */
export const MAX_WASM_STACK = 1 << 20;
/**
 * Guest worker thread stack: above MAX_WASM_STACK plus room for WASI host
 * calls, so deep recursion ends in a clean "call stack exhausted" trap and
 * never overflows the native thread (ARCHITECTURE.md).
 */
export const GUEST_THREAD_STACK = 8 << 20;

const engines = new Map<string, Engine>();

function options(fuel: boolean): EngineOptions {
  return { epochs: true, fuel, maxWasmStack: MAX_WASM_STACK, optLevel: OptLevel.speed };
}

export function engineFor(fuel = false): Engine {
  const key = fuel ? "fuel" : "plain";
  let e = engines.get(key);
  if (!e) {
    startLoop();
    bindWasmtime(LIBWASMTIME_PATH);
    e = new Engine(options(fuel));
    ticker.addEngine(e.ptr);
    engines.set(key, e);
  }
  return e;
}

/** Everything that changes compiled code; part of every cache key. */
export function engineFingerprint(fuel: boolean): string {
  return JSON.stringify({ wasmtime: WASMTIME_VERSION, arch: process.arch, ...options(fuel) });
}
