// ffi/wayland.ts — libwayland-server through bun:ffi: the calls weft's
// compositor needs and nothing else. Struct layouts are written once below.
//
// Threading: every callback here (dispatcher, destroy, bind, listener
// notify) is a JSCallback that libwayland invokes from inside
// wl_event_loop_dispatch / wl_resource_destroy / wl_client_destroy, which
// weft only ever calls on the main thread (ARCHITECTURE.md, "one loop").
import type { PointerReturns } from "./types.ts";
import { CString, dlopen, FFIType, JSCallback, ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";

const { ptr: P, i32, u32, void: v } = FFIType;

const lib = dlopen("libwayland-server.so.0", {
  // display and its loop
  wl_display_create: { args: [], returns: P },
  wl_display_destroy: { args: [P], returns: v },
  wl_display_destroy_clients: { args: [P], returns: v },
  wl_display_add_socket: { args: [P, P], returns: i32 },
  wl_display_add_socket_auto: { args: [P], returns: P },
  wl_display_get_event_loop: { args: [P], returns: P },
  wl_display_flush_clients: { args: [P], returns: v },
  wl_display_next_serial: { args: [P], returns: u32 },
  wl_display_add_client_created_listener: { args: [P, P], returns: v },
  wl_display_init_shm: { args: [P], returns: i32 },
  wl_display_add_shm_format: { args: [P, u32], returns: P },
  wl_event_loop_get_fd: { args: [P], returns: i32 },
  wl_event_loop_dispatch: { args: [P, i32], returns: i32 },
  // globals
  wl_global_create: { args: [P, P, i32, P, P], returns: P },
  wl_global_destroy: { args: [P], returns: v },
  // clients
  wl_client_get_credentials: { args: [P, P, P, P], returns: v },
  wl_client_add_destroy_listener: { args: [P, P], returns: v },
  wl_client_destroy: { args: [P], returns: v },
  wl_client_flush: { args: [P], returns: v },
  wl_client_post_no_memory: { args: [P], returns: v },
  // resources
  wl_resource_create: { args: [P, P, i32, u32], returns: P },
  wl_resource_set_dispatcher: { args: [P, P, P, P, P], returns: v },
  wl_resource_post_event_array: { args: [P, u32, P], returns: v },
  // variadic in C; we always pass ("%s", message), which is ABI-safe on
  // x86-64/aarch64 for integer/pointer arguments.
  wl_resource_post_error: { args: [P, u32, P, P], returns: v },
  wl_resource_destroy: { args: [P], returns: v },
  wl_resource_get_id: { args: [P], returns: u32 },
  wl_resource_get_client: { args: [P], returns: P },
  wl_resource_get_version: { args: [P], returns: i32 },
  wl_resource_add_destroy_listener: { args: [P, P], returns: v },
  wl_list_remove: { args: [P], returns: v },
  // libwayland's own wl_shm implementation (validates pools, fds, bounds)
  wl_shm_buffer_get: { args: [P], returns: P },
  wl_shm_buffer_get_data: { args: [P], returns: P },
  wl_shm_buffer_get_stride: { args: [P], returns: i32 },
  wl_shm_buffer_get_format: { args: [P], returns: u32 },
  wl_shm_buffer_get_width: { args: [P], returns: i32 },
  wl_shm_buffer_get_height: { args: [P], returns: i32 },
  wl_shm_buffer_begin_access: { args: [P], returns: v },
  wl_shm_buffer_end_access: { args: [P], returns: v },
  // clock_gettime is libc's; dlsym on this handle finds it through
  // libwayland's own dependency on libc. Move to ffi/libc.ts when that exists.
  clock_gettime: { args: [i32, P], returns: i32 },
});
const W = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;
export const wl = W;

// ---- struct layouts (x86-64/aarch64 LP64) ------------------------------------
/** struct wl_interface { const char *name; int version; int method_count;
 *  const struct wl_message *methods; int event_count; const struct wl_message *events; } */
export const WL_INTERFACE = { size: 40, name: 0, version: 8, method_count: 12, methods: 16, event_count: 24, events: 32 } as const;
/** struct wl_message { const char *name; const char *signature; const struct wl_interface **types; } */
export const WL_MESSAGE = { size: 24, name: 0, signature: 8, types: 16 } as const;
/** union wl_argument: 8 bytes per argument. */
export const WL_ARGUMENT_SIZE = 8;
/** struct wl_array { size_t size; size_t alloc; void *data; } */
export const WL_ARRAY = { size: 24, size_: 0, alloc: 8, data: 16 } as const;
/** struct wl_listener { struct wl_list link (prev, next); wl_notify_func_t notify; } */
export const WL_LISTENER = { size: 24, link: 0, notify: 16 } as const;


export const WL_DISPLAY_ERROR = { invalid_object: 0, invalid_method: 1, no_memory: 2, implementation: 3 } as const;
export const WL_SHM_FORMAT = { argb8888: 0, xrgb8888: 1 } as const;
export const CLOCK_MONOTONIC = 1;

// ---- native memory that lives as long as the process --------------------------
// Interface tables, strings and listeners are handed to libwayland, which
// keeps the pointers; we allocate them from slabs we never free. JSC's GC does
// not move ArrayBuffer storage, and the slabs stay referenced here.
const slabs: Uint8Array[] = [];
let slab = new Uint8Array(0);
let slabUsed = 0;
/** Allocates `size` zeroed, 8-aligned bytes of permanent native memory. */
export function staticAlloc(size: number): { bytes: Uint8Array; ptr: number } {
  size = (size + 7) & ~7;
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(Math.max(64 * 1024, size));
    slabs.push(slab);
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return { bytes, ptr: ptr(bytes) as unknown as number };
}
const cstrings = new Map<string, number>();
/** A permanent NUL-terminated copy of `s` (deduplicated). */
export function staticCString(s: string): number {
  let p = cstrings.get(s);
  if (p === undefined) {
    const enc = new TextEncoder().encode(s);
    const m = staticAlloc(enc.length + 1);
    m.bytes.set(enc);
    p = m.ptr;
    cstrings.set(s, p);
  }
  return p;
}

export function writePtr(view: DataView, off: number, p: number): void {
  view.setUint32(off, p >>> 0, true);
  view.setUint32(off + 4, Math.floor(p / 0x1_0000_0000), true);
}

// ---- interface tables -----------------------------------------------------------
export interface MessageSpec {
  name: string;
  since: number;
  args: readonly { type: string; iface?: string }[];
}
export interface InterfaceSpec {
  name: string;
  version: number;
  requests: readonly MessageSpec[];
  events: readonly MessageSpec[];
}

/** libwayland's signature string: since-version prefix, "?" for nullable, one letter per arg. */
export function signature(m: MessageSpec): string {
  return (m.since > 1 ? String(m.since) : "") + m.args.map((a) => a.type).join("");
}

/**
 * Builds native wl_interface tables for every spec, resolving interface
 * references among them (a reference to an interface weft does not know
 * becomes NULL: libwayland then accepts any object there, so handlers of such
 * arguments must check). Returns name → wl_interface pointer.
 */
export function buildInterfaces(specs: readonly InterfaceSpec[]): Map<string, number> {
  const ptrs = new Map<string, number>();
  const blocks = new Map<string, { bytes: Uint8Array; ptr: number }>();
  for (const s of specs) {
    const b = staticAlloc(WL_INTERFACE.size);
    blocks.set(s.name, b);
    ptrs.set(s.name, b.ptr);
  }
  const messages = (ms: readonly MessageSpec[]): number => {
    if (ms.length === 0) return 0;
    const t = staticAlloc(WL_MESSAGE.size * ms.length);
    const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    ms.forEach((m, i) => {
      const types = staticAlloc(8 * Math.max(1, m.args.length));
      const tv = new DataView(types.bytes.buffer, types.bytes.byteOffset, types.bytes.byteLength);
      m.args.forEach((a, j) => writePtr(tv, 8 * j, a.iface ? (ptrs.get(a.iface) ?? 0) : 0));
      const o = i * WL_MESSAGE.size;
      writePtr(view, o + WL_MESSAGE.name, staticCString(m.name));
      writePtr(view, o + WL_MESSAGE.signature, staticCString(signature(m)));
      writePtr(view, o + WL_MESSAGE.types, types.ptr);
    });
    return t.ptr;
  };
  for (const s of specs) {
    const b = blocks.get(s.name)!;
    const view = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    writePtr(view, WL_INTERFACE.name, staticCString(s.name));
    view.setInt32(WL_INTERFACE.version, s.version, true);
    view.setInt32(WL_INTERFACE.method_count, s.requests.length, true);
    writePtr(view, WL_INTERFACE.methods, messages(s.requests));
    view.setInt32(WL_INTERFACE.event_count, s.events.length, true);
    writePtr(view, WL_INTERFACE.events, messages(s.events));
  }
  return ptrs;
}

// ---- callbacks -------------------------------------------------------------------
// One JSCallback per C callback type for the whole process; the first
// argument (resource, listener, global data) says whom it is for.
export type DispatchFn = (resource: number, opcode: number, args: number) => number;
export type DestroyFn = (resource: number) => void;
export type BindFn = (client: number, data: number, version: number, id: number) => void;
export type NotifyFn = (listener: number, data: number) => void;

let dispatchTarget: DispatchFn = () => -1;
let destroyTarget: DestroyFn = () => {};
let bindTarget: BindFn = () => {};
const listeners = new Map<number, (data: number) => void>();

const p2n = (p: Pointer | null): number => (p === null ? 0 : (p as unknown as number));

// int (*wl_dispatcher_func_t)(const void *impl, void *resource, uint32_t opcode,
//                             const struct wl_message *msg, union wl_argument *args)
const dispatcherCb = new JSCallback((_impl: Pointer, res: Pointer, opcode: number, _msg: Pointer, args: Pointer) => dispatchTarget(p2n(res), opcode, p2n(args)), {
  args: [P, P, u32, P, P],
  returns: i32,
});
// void (*wl_resource_destroy_func_t)(struct wl_resource *resource)
const destroyCb = new JSCallback((res: Pointer) => destroyTarget(p2n(res)), { args: [P], returns: v });
// void (*wl_global_bind_func_t)(struct wl_client *client, void *data, uint32_t version, uint32_t id)
const bindCb = new JSCallback((client: Pointer, data: Pointer, version: number, id: number) => bindTarget(p2n(client), p2n(data), version, id), {
  args: [P, P, u32, u32],
  returns: v,
});
// void (*wl_notify_func_t)(struct wl_listener *listener, void *data)
const notifyCb = new JSCallback(
  (listener: Pointer, data: Pointer) => {
    const l = p2n(listener);
    const fn = listeners.get(l);
    if (fn) fn(p2n(data));
  },
  { args: [P, P], returns: v },
);

/** Routes libwayland's callbacks into the compositor (set once). */
export function setCallbacks(c: { dispatch: DispatchFn; destroy: DestroyFn; bind: BindFn }): void {
  dispatchTarget = c.dispatch;
  destroyTarget = c.destroy;
  bindTarget = c.bind;
}

const freeListeners: { bytes: Uint8Array; ptr: number }[] = [];
/**
 * A wl_listener whose notify calls `fn`. Add it with one of the
 * *_add_*_listener functions; `remove()` unlinks it and recycles the memory
 * (call it once the signal has fired or when no longer interested).
 */
export function makeListener(fn: (data: number) => void): { ptr: number; remove(unlink: boolean): void } {
  const m = freeListeners.pop() ?? staticAlloc(WL_LISTENER.size);
  m.bytes.fill(0);
  const view = new DataView(m.bytes.buffer, m.bytes.byteOffset, WL_LISTENER.size);
  writePtr(view, WL_LISTENER.notify, p2n(notifyCb.ptr));
  listeners.set(m.ptr, fn);
  let live = true;
  return {
    ptr: m.ptr,
    remove(unlink: boolean) {
      if (!live) return;
      live = false;
      if (unlink) W.wl_list_remove(m.ptr as unknown as Pointer);
      listeners.delete(m.ptr);
      freeListeners.push(m);
    },
  };
}

export const callbacks = {
  dispatcher: () => dispatcherCb.ptr!,
  destroy: () => destroyCb.ptr!,
  bind: () => bindCb.ptr!,
};

// ---- argument reading/writing ------------------------------------------------------
export const readArg = {
  i32: (args: number, i: number) => read.i32(args as unknown as Pointer, i * 8),
  u32: (args: number, i: number) => read.u32(args as unknown as Pointer, i * 8),
  ptr: (args: number, i: number) => read.ptr(args as unknown as Pointer, i * 8) as number,
  string: (args: number, i: number): string | null => {
    const p = read.ptr(args as unknown as Pointer, i * 8) as number;
    return p ? new CString(p as unknown as Pointer).toString() : null;
  },
  array: (args: number, i: number): Uint8Array => {
    const a = read.ptr(args as unknown as Pointer, i * 8) as number;
    const size = Number(read.u64(a as unknown as Pointer, WL_ARRAY.size_));
    const data = read.ptr(a as unknown as Pointer, WL_ARRAY.data) as number;
    return readBytes(data, size);
  },
};

/** Reads `n` bytes at native address `p` (a copy). */
export function readBytes(p: number, n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  return new Uint8Array(toArrayBuffer(p as unknown as Pointer, 0, n).slice(0));
}

export function cstring(p: number): string {
  return new CString(p as unknown as Pointer).toString();
}

/**
 * CLOCK_MONOTONIC now; struct timespec { time_t tv_sec; long tv_nsec; }, two
 * little-endian i64 read as 32-bit halves: a BigInt per read cost this
 * per-frame call microseconds (allocation, runtime calls) on a cold cache.
 */
const ts = new Uint32Array(4);
export function monotonicNow(): { sec: number; nsec: number } {
  W.clock_gettime(CLOCK_MONOTONIC, ptr(ts));
  return { sec: ts[0] + ts[1] * 0x1_0000_0000, nsec: ts[2] };
}

export { ptr };
export type { Pointer };
