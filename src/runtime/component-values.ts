// Component-model values as host calls carry them between a guest's thread
// and the loop. The byte format is the one ffi/native/component_values.c
// writes and checks (its header comment is the reference); this is its JS
// half: decode a call's arguments, encode its results.

export type CVal =
  | { kind: "bool"; value: boolean }
  | { kind: "s8" | "u8" | "s16" | "u16" | "s32" | "u32" | "f32" | "f64" | "char"; value: number }
  | { kind: "s64" | "u64"; value: bigint }
  | { kind: "string" | "enum"; value: string }
  /** A list<u8> (an empty one may arrive as `list`). */
  | { kind: "bytes"; value: Uint8Array }
  | { kind: "list" | "tuple"; value: CVal[] }
  | { kind: "record"; value: [string, CVal][] }
  | { kind: "variant"; case: string; value: CVal | null }
  | { kind: "option"; value: CVal | null }
  | { kind: "result"; ok: boolean; value: CVal | null }
  | { kind: "flags"; value: string[] }
  | { kind: "map"; value: [CVal, CVal][] };

const K = {
  bool: 0, s8: 1, u8: 2, s16: 3, u16: 4, s32: 5, u32: 6, s64: 7, u64: 8, f32: 9, f64: 10, char: 11,
  string: 12, list: 13, record: 14, tuple: 15, variant: 16, enum: 17, option: 18, result: 19, flags: 20, map: 22, bytes: 64,
} as const;
const NAMES = new Map<number, keyof typeof K>(Object.entries(K).map(([k, v]) => [v, k as keyof typeof K]));
const MAX_DEPTH = 64;

/** Constructors for results. */
export const cv = {
  string: (value: string): CVal => ({ kind: "string", value }),
  bytes: (value: Uint8Array): CVal => ({ kind: "bytes", value }),
  u16: (value: number): CVal => ({ kind: "u16", value }),
  u32: (value: number): CVal => ({ kind: "u32", value }),
  bool: (value: boolean): CVal => ({ kind: "bool", value }),
  option: (value: CVal | null): CVal => ({ kind: "option", value }),
  list: (value: CVal[]): CVal => ({ kind: "list", value }),
  /** Fields in WIT order, named as in the WIT (kebab-case). */
  record: (fields: Record<string, CVal>): CVal => ({ kind: "record", value: Object.entries(fields) }),
  ok: (value: CVal | null = null): CVal => ({ kind: "result", ok: true, value }),
  err: (message: string): CVal => ({ kind: "result", ok: false, value: { kind: "string", value: message } }),
};

/** A value of the wrong shape: the guest imported the function with another signature. */
export class ArgumentError extends Error {}

/** Readers for arguments; each throws ArgumentError naming `what` when the shape is wrong. */
export const read = {
  /** u32 (or u8). */
  u32(v: CVal | undefined, what: string): number {
    if (v?.kind !== "u32" && v?.kind !== "u8") throw new ArgumentError(`${what}: expected an unsigned integer`);
    return v.value;
  },
  bool(v: CVal | undefined, what: string): boolean {
    if (v?.kind !== "bool") throw new ArgumentError(`${what}: expected a bool`);
    return v.value;
  },
  /** A record's fields by name. */
  record(v: CVal | undefined, what: string): Map<string, CVal> {
    if (v?.kind !== "record") throw new ArgumentError(`${what}: expected a record`);
    return new Map(v.value);
  },
  string(v: CVal | undefined, what: string): string {
    if (v?.kind !== "string") throw new ArgumentError(`${what}: expected a string`);
    return v.value;
  },
  bytes(v: CVal | undefined, what: string): Uint8Array {
    if (v?.kind === "bytes") return v.value;
    if (v?.kind === "list" && v.value.length === 0) return new Uint8Array(0);
    throw new ArgumentError(`${what}: expected a list<u8>`);
  },
  /** option<T>: null for none. */
  option<T>(v: CVal | undefined, what: string, inner: (v: CVal, what: string) => T): T | null {
    if (v?.kind !== "option") throw new ArgumentError(`${what}: expected an option`);
    return v.value === null ? null : inner(v.value, what);
  },
  list<T>(v: CVal | undefined, what: string, item: (v: CVal, what: string) => T): T[] {
    if (v?.kind !== "list") throw new ArgumentError(`${what}: expected a list`);
    return v.value.map((x, i) => item(x, `${what}[${i}]`));
  },
  tuple(v: CVal | undefined, what: string, length: number): CVal[] {
    if (v?.kind !== "tuple" || v.value.length !== length) throw new ArgumentError(`${what}: expected a tuple of ${length}`);
    return v.value;
  },
};

// ---- encode ----------------------------------------------------------------------------
class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  len = 0;
  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number) {
    const at = this.room(1); // before reading this.buf: room() may replace it
    this.buf[at] = v;
  }
  /** Reserves `n` bytes, then lets `set` write them (the view is taken after any growth). */
  put(n: number, set: (view: DataView, at: number) => void) {
    const at = this.room(n);
    set(this.view, at);
  }
  u32(v: number) {
    this.view.setUint32(this.room(4), v, true);
  }
  raw(b: Uint8Array) {
    this.u32(b.length);
    const at = this.room(b.length);
    this.buf.set(b, at);
  }
  name(s: string) {
    this.raw(new TextEncoder().encode(s));
  }
}

function encodeVal(w: Writer, v: CVal, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error("value nested too deeply");
  w.u8(K[v.kind]);
  switch (v.kind) {
    case "bool": return w.u8(v.value ? 1 : 0);
    case "s8": return w.put(1, (d, o) => d.setInt8(o, v.value));
    case "u8": return w.u8(v.value);
    case "s16": return w.put(2, (d, o) => d.setInt16(o, v.value, true));
    case "u16": return w.put(2, (d, o) => d.setUint16(o, v.value, true));
    case "s32": return w.put(4, (d, o) => d.setInt32(o, v.value, true));
    case "u32": case "char": return w.put(4, (d, o) => d.setUint32(o, v.value, true));
    case "f32": return w.put(4, (d, o) => d.setFloat32(o, v.value, true));
    case "s64": return w.put(8, (d, o) => d.setBigInt64(o, v.value, true));
    case "u64": return w.put(8, (d, o) => d.setBigUint64(o, v.value, true));
    case "f64": return w.put(8, (d, o) => d.setFloat64(o, v.value, true));
    case "string": case "enum": return w.name(v.value);
    case "bytes": return w.raw(v.value);
    case "list": case "tuple":
      w.u32(v.value.length);
      for (const x of v.value) encodeVal(w, x, depth + 1);
      return;
    case "record":
      w.u32(v.value.length);
      for (const [name, x] of v.value) (w.name(name), encodeVal(w, x, depth + 1));
      return;
    case "variant":
      w.name(v.case);
      w.u8(v.value ? 1 : 0);
      if (v.value) encodeVal(w, v.value, depth + 1);
      return;
    case "option":
      w.u8(v.value ? 1 : 0);
      if (v.value) encodeVal(w, v.value, depth + 1);
      return;
    case "result":
      w.u8(v.ok ? 1 : 0);
      w.u8(v.value ? 1 : 0);
      if (v.value) encodeVal(w, v.value, depth + 1);
      return;
    case "flags":
      w.u32(v.value.length);
      for (const f of v.value) w.name(f);
      return;
    case "map":
      w.u32(v.value.length);
      for (const [k, x] of v.value) (encodeVal(w, k, depth + 1), encodeVal(w, x, depth + 1));
      return;
  }
}

/** Encodes a function's results (or arguments) as the native side reads them. */
export function encodeValues(vals: readonly CVal[]): Uint8Array {
  const w = new Writer();
  w.u32(vals.length);
  for (const v of vals) encodeVal(w, v, 0);
  return w.buf.subarray(0, w.len);
}

// ---- decode ----------------------------------------------------------------------------
class Reader {
  private view: DataView;
  at = 0;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): number {
    if (this.at + n > this.buf.length) throw new Error("truncated value encoding");
    const o = this.at;
    this.at += n;
    return o;
  }
  u8 = () => this.view.getUint8(this.need(1));
  u32 = () => this.view.getUint32(this.need(4), true);
  raw(): Uint8Array {
    const n = this.u32();
    const o = this.need(n);
    return this.buf.slice(o, o + n);
  }
  name = () => new TextDecoder().decode(this.raw());
  get v() {
    return this.view;
  }
}

function decodeVal(r: Reader, depth: number): CVal {
  if (depth > MAX_DEPTH) throw new Error("value nested too deeply");
  const code = r.u8();
  const kind = NAMES.get(code);
  const opt = (): CVal | null => (r.u8() ? decodeVal(r, depth + 1) : null);
  switch (kind) {
    case "bool": return { kind, value: r.u8() !== 0 };
    case "s8": return { kind, value: r.v.getInt8(r.need(1)) };
    case "u8": return { kind, value: r.v.getUint8(r.need(1)) };
    case "s16": return { kind, value: r.v.getInt16(r.need(2), true) };
    case "u16": return { kind, value: r.v.getUint16(r.need(2), true) };
    case "s32": return { kind, value: r.v.getInt32(r.need(4), true) };
    case "u32": case "char": return { kind, value: r.v.getUint32(r.need(4), true) };
    case "f32": return { kind, value: r.v.getFloat32(r.need(4), true) };
    case "s64": return { kind, value: r.v.getBigInt64(r.need(8), true) };
    case "u64": return { kind, value: r.v.getBigUint64(r.need(8), true) };
    case "f64": return { kind, value: r.v.getFloat64(r.need(8), true) };
    case "string": case "enum": return { kind, value: r.name() };
    case "bytes": return { kind, value: r.raw() };
    case "list": case "tuple": {
      const n = r.u32();
      const value: CVal[] = [];
      for (let i = 0; i < n; i++) value.push(decodeVal(r, depth + 1));
      return { kind, value };
    }
    case "record": {
      const n = r.u32();
      const value: [string, CVal][] = [];
      for (let i = 0; i < n; i++) value.push([r.name(), decodeVal(r, depth + 1)]);
      return { kind, value };
    }
    case "variant": {
      const c = r.name();
      return { kind, case: c, value: opt() };
    }
    case "option": return { kind, value: opt() };
    case "result": {
      const ok = r.u8() !== 0;
      return { kind, ok, value: opt() };
    }
    case "flags": {
      const n = r.u32();
      const value: string[] = [];
      for (let i = 0; i < n; i++) value.push(r.name());
      return { kind, value };
    }
    case "map": {
      const n = r.u32();
      const value: [CVal, CVal][] = [];
      for (let i = 0; i < n; i++) value.push([decodeVal(r, depth + 1), decodeVal(r, depth + 1)]);
      return { kind, value };
    }
  }
  throw new Error(`unknown value kind ${code}`);
}

/** Decodes a call's arguments. */
export function decodeValues(bytes: Uint8Array): CVal[] {
  const r = new Reader(bytes);
  const n = r.u32();
  const out: CVal[] = [];
  for (let i = 0; i < n; i++) out.push(decodeVal(r, 0));
  if (r.at !== bytes.length) throw new Error("trailing bytes after the values");
  return out;
}
