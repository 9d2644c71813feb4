// Typing shared by the ffi/ bindings (no library of its own).
import type { Pointer } from "bun:ffi";

/**
 * Bun's types give pointer returns as `Pointer | bigint | null`; at runtime
 * they are numbers or null. This narrows every pointer-returning symbol.
 */
export type PointerReturns<S> = {
  [K in keyof S]: S[K] extends (...args: infer A) => infer R ? (...args: A) => null extends R ? Pointer | null : R : S[K];
};
