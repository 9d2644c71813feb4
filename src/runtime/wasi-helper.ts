// The WASI trampoline module (ffi/native/weft_native.c, "WASI trampolines").
//
// A host function that hands a Preview 1 call on to Wasmtime's own WASI
// function cannot call it directly: Wasmtime's function reads the guest's
// memory through its caller's "memory" export, and a host-to-host call has
// no caller instance. So each guest that needs it gets a helper instance of
// this module: it imports the guest's memory (env.memory) and the WASI
// functions, and exports the memory again plus `t<i>`, a function that just
// calls import i with its arguments. Called through `t<i>`, Wasmtime's
// function has a caller whose "memory" is the guest's.
//
// The module is written here, byte by byte, from the native helper's table
// (names and signatures), so both sides agree by construction.
import { wasiTrampolines } from "../../ffi/native.ts";
import { Module, type Engine } from "../../ffi/wasmtime.ts";

const I32 = 0x7f;
const I64 = 0x7e;

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const name = (s: string) => {
  const b = [...new TextEncoder().encode(s)];
  return [...leb(b.length), ...b];
};
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];

/** The trampoline module's bytes. */
export function wasiHelperWasm(): Uint8Array {
  const funcs = wasiTrampolines();
  const sigs = [...new Set(funcs.map((f) => f.params))];
  const types = sigs.map((p) => [0x60, ...vec([...p].map((c) => [c === "I" ? I64 : I32])), ...vec([[I32]])]);
  const imports = [
    [...name("env"), ...name("memory"), 0x02, 0x00, 0x00], // memory, min 0, no max: any memory fits
    ...funcs.map((f) => [...name("wasi_snapshot_preview1"), ...name(f.name), 0x00, ...leb(sigs.indexOf(f.params))]),
  ];
  const defined = funcs.map((f) => leb(sigs.indexOf(f.params)));
  const exports = [[...name("memory"), 0x02, 0x00], ...funcs.map((_, i) => [...name(`t${i}`), 0x00, ...leb(funcs.length + i)])];
  const bodies = funcs.map((f, i) => {
    const code = [0x00 /* no locals */, ...[...f.params].flatMap((_, k) => [0x20, ...leb(k)]), 0x10, ...leb(i), 0x0b];
    return [...leb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(defined)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

const compiled = new Map<Engine, Module>();
/** The trampoline module compiled for `engine` (once). */
export function wasiHelperModule(engine: Engine): Module {
  let m = compiled.get(engine);
  if (!m) compiled.set(engine, (m = Module.compile(engine, wasiHelperWasm())));
  return m;
}
