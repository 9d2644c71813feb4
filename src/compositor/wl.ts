// The protocol runtime: turns the generated descriptors (./protocol/) into
// native tables once, and gives every Wayland object a JS `Resource` with a
// typed implementation. One dispatcher (a JSCallback set on every resource
// with wl_resource_set_dispatcher) decodes the wl_argument array and calls
// the resource's handler; events go out with wl_resource_post_event_array.
//
// Handlers signal protocol errors by throwing `ProtocolError`; any other
// exception is a weft bug, logged and turned into an implementation error
// for that client only, so one bad path never takes the compositor down.
import {
  buildInterfaces,
  callbacks,
  makeListener,
  monotonicNow,
  ptr,
  readArg,
  setCallbacks,
  staticCString,
  wl,
  WL_ARRAY,
  WL_DISPLAY_ERROR,
  writePtr,
  type Pointer,
} from "../../ffi/wayland.ts";
import { allInterfaces, type Interfaces } from "./protocol/index.ts";

// ---- types derived from the descriptors ----------------------------------------------
export interface ArgSpec {
  readonly name: string;
  readonly type: string;
  readonly iface?: string;
}
export interface MessageSpec {
  readonly name: string;
  readonly since: number;
  readonly destructor?: boolean;
  readonly args: readonly ArgSpec[];
}
export interface Spec {
  readonly name: string;
  readonly version: number;
  readonly requests: readonly MessageSpec[];
  readonly events: readonly MessageSpec[];
  readonly enums: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

// wl_callback (wl_surface.frame) objects are made in C (ffi/native/frame_callbacks.c): handlers get the new id.
type NewIdT<A> = A extends { iface: "wl_callback" } ? number : A extends { iface: infer N } ? (N extends keyof Interfaces ? Resource<Interfaces[N]> : Resource) : number;
/** What a handler receives for one argument. */
type InArg<A> = A extends { type: "i" | "u" | "f" | "h" | "?h" }
  ? number
  : A extends { type: "s" }
    ? string
    : A extends { type: "?s" }
      ? string | null
      : A extends { type: "o" }
        ? Resource
        : A extends { type: "?o" }
          ? Resource | null
          : A extends { type: "n" }
            ? NewIdT<A>
            : A extends { type: "a" | "?a" }
              ? Uint8Array
              : never;
/** What an event sender takes for one argument. */
type OutArg<A> = A extends { type: "i" | "u" | "f" | "h" }
  ? number
  : A extends { type: "s" }
    ? string
    : A extends { type: "?s" }
      ? string | null
      : A extends { type: "o" | "n" }
        ? Resource
        : A extends { type: "?o" }
          ? Resource | null
          : A extends { type: "a" | "?a" }
            ? Uint8Array
            : never;
type InArgs<As extends readonly unknown[]> = { -readonly [K in keyof As]: InArg<As[K]> };
type OutArgs<As extends readonly unknown[]> = { -readonly [K in keyof As]: OutArg<As[K]> };

/** The request handlers of interface I: one function per request. */
export type Impl<I extends Spec, D = unknown> = {
  [M in I["requests"][number] as M["name"]]: (r: Resource<I, D>, ...args: InArgs<M["args"]>) => void;
};
export type EventName<I extends Spec> = I["events"][number]["name"];
type EventArgs<I extends Spec, N> = OutArgs<Extract<I["events"][number], { name: N }>["args"]>;

/** Thrown by a handler: posted to the client as a protocol error (the client is then disconnected). */
export class ProtocolError extends Error {
  constructor(
    readonly resource: Resource,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

// ---- native tables -------------------------------------------------------------------
const specs = allInterfaces as readonly Spec[];
const ifacePtr = buildInterfaces(specs);
const specByName = new Map<string, Spec>(specs.map((s) => [s.name, s]));
export function interfacePointer(name: string): number {
  const p = ifacePtr.get(name);
  if (p === undefined) throw new Error(`unknown interface ${name}`);
  return p;
}

// Per message: how to decode its arguments (precomputed once per interface).
type Decoder = (r: Resource, args: number, i: number) => unknown;
const decoders = new Map<Spec, Decoder[][]>();
function decodersFor(spec: Spec): Decoder[][] {
  let d = decoders.get(spec);
  if (d) return d;
  d = spec.requests.map((m) => m.args.map((a) => decoder(a)));
  decoders.set(spec, d);
  return d;
}
function decoder(a: ArgSpec): Decoder {
  switch (a.type.replace("?", "")) {
    case "i":
      return (_r, args, i) => readArg.i32(args, i);
    case "u":
      return (_r, args, i) => readArg.u32(args, i);
    case "h":
      return (_r, args, i) => readArg.i32(args, i);
    case "f":
      return (_r, args, i) => readArg.i32(args, i) / 256;
    case "s":
      return (_r, args, i) => readArg.string(args, i);
    case "a":
      return (_r, args, i) => readArg.array(args, i);
    case "o": {
      const spec = a.iface ? specByName.get(a.iface) : undefined;
      return (r, args, i) => {
        const p = readArg.ptr(args, i);
        return p ? (r.client.server.resources.get(p) ?? foreignResource(r.client, p, spec)) : null;
      };
    }
    case "n": {
      if (!a.iface || a.iface === "wl_callback") return (_r, args, i) => readArg.u32(args, i);
      const spec = specByName.get(a.iface)!;
      return (r, args, i) => r.client.createResource(spec, r.version, readArg.u32(args, i));
    }
  }
  throw new Error(`bad arg type ${a.type}`);
}

// ---- resources --------------------------------------------------------------------------
export class Resource<I extends Spec = Spec, D = unknown> {
  /** The handlers (an Impl<I, D>; stored untyped so Resource<I> is a Resource). */
  impl: unknown = null;
  /** Per-object state of whoever implements it. */
  data!: D;
  destroyed = false;
  private hooks: (() => void)[] = [];
  /** The interface's events by name (shared by every resource of it; looked up at the first post). */
  private events: Readonly<Record<string, EventInfo>> | null = null;
  /** Its requests' argument decoders (shared likewise; looked up at the first request). */
  decoders: Decoder[][] | null = null;
  constructor(
    readonly ptr: number,
    readonly spec: I,
    readonly client: Client,
    readonly version: number,
    readonly id: number,
    /** Created by libwayland itself (wl_shm's wl_buffer), not by us. */
    readonly foreign = false,
  ) {}

  /** Sets the request handlers and state; call right after creating it. */
  implement(impl: Impl<I, D>, data: D): this {
    this.impl = impl;
    this.data = data;
    return this;
  }

  /** Runs `fn` when the object goes away (client request, disconnect or us). */
  onDestroy(fn: () => void): void {
    this.hooks.push(fn);
  }
  offDestroy(fn: () => void): void {
    const i = this.hooks.indexOf(fn);
    if (i >= 0) this.hooks.splice(i, 1);
  }

  /** Sends an event; events newer than the bound version are skipped (returns false). */
  post<N extends EventName<I>>(name: N, ...args: EventArgs<I, N>): boolean {
    if (this.destroyed) return false;
    const e = (this.events ??= eventsOf(this.spec))[name];
    if (e === undefined) throw new Error(`${this.spec.name} has no event ${name}`);
    if (e.since > this.version) return false;
    postEvent(this, e, args as unknown[]);
    return true;
  }

  is<S extends Spec>(spec: S): this is Resource<S> {
    return this.spec.name === spec.name;
  }

  error(code: number, message: string): void {
    if (this.destroyed) return;
    wl.wl_resource_post_error(this.ptr as unknown as Pointer, code, fmtS, ptr(cbytes(message)));
  }

  /** Destroys the object on our side (runs the destroy hooks now). */
  destroy(): void {
    if (!this.destroyed) wl.wl_resource_destroy(this.ptr as unknown as Pointer);
  }

  /** Called by libwayland's destroy callback (or listener, when foreign). */
  _destroyed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.client.server.resources.delete(this.ptr);
    this.client.resources.delete(this);
    const hooks = this.hooks;
    this.hooks = [];
    for (const h of hooks) {
      try {
        h();
      } catch (err) {
        console.error(`weft compositor: destroy hook of ${this.spec.name}@${this.id} failed:`, err);
      }
    }
  }
}

const fmtS = staticCString("%s") as unknown as Pointer;
const enc = new TextEncoder();
function cbytes(s: string): Uint8Array {
  const b = new Uint8Array(Buffer.byteLength(s) + 1);
  enc.encodeInto(s, b);
  return b;
}

/** An event as posting needs it: opcode, version, argument kinds without the nullable mark. */
interface EventInfo {
  readonly op: number;
  readonly since: number;
  readonly kinds: readonly string[];
}
const eventTables = new Map<Spec, Readonly<Record<string, EventInfo>>>();
function eventsOf(spec: Spec): Readonly<Record<string, EventInfo>> {
  let t = eventTables.get(spec);
  if (!t) {
    const table: Record<string, EventInfo> = Object.create(null);
    spec.events.forEach((e, op) => (table[e.name] = { op, since: e.since, kinds: e.args.map((a) => a.type.replace("?", "")) }));
    eventTables.set(spec, (t = table));
  }
  return t;
}

const argBuf = new Uint8Array(8 * 32);
const argView = new DataView(argBuf.buffer);
function postEvent(r: Resource, e: EventInfo, args: unknown[]): void {
  let keep: Uint8Array[] | null = null; // strings/arrays must outlive the call (marshalled at once)
  const kinds = e.kinds;
  for (let i = 0; i < kinds.length; i++) {
    const v = args[i];
    const o = i * 8;
    switch (kinds[i]) {
      case "i":
      case "h":
        argView.setInt32(o, v as number, true);
        break;
      case "u":
        argView.setUint32(o, (v as number) >>> 0, true);
        break;
      case "f":
        argView.setInt32(o, Math.round((v as number) * 256), true);
        break;
      case "s": {
        if (v === null || v === undefined) writePtr(argView, o, 0);
        else {
          const b = cbytes(v as string);
          (keep ??= []).push(b);
          writePtr(argView, o, ptr(b) as unknown as number);
        }
        break;
      }
      case "o":
      case "n":
        writePtr(argView, o, v ? (v as Resource).ptr : 0);
        break;
      case "a": {
        const data = v as Uint8Array;
        const arr = new Uint8Array(WL_ARRAY.size);
        const av = new DataView(arr.buffer);
        av.setBigUint64(WL_ARRAY.size_, BigInt(data.length), true);
        av.setBigUint64(WL_ARRAY.alloc, BigInt(data.length), true);
        const copy = data.length ? new Uint8Array(data) : new Uint8Array(1);
        writePtr(av, WL_ARRAY.data, ptr(copy) as unknown as number);
        (keep ??= []).push(arr, copy);
        writePtr(argView, o, ptr(arr) as unknown as number);
        break;
      }
    }
  }
  // ptr() at each call: a small typed array's address is not guaranteed to stay put.
  wl.wl_resource_post_event_array(r.ptr as unknown as Pointer, e.op, ptr(argBuf));
  if (keep) keep.length = 0;
}

function foreignResource(client: Client, p: number, spec: Spec | undefined): Resource {
  const s = spec ?? ({ name: "unknown", version: 1, requests: [], events: [], enums: {} } as Spec);
  const r = new Resource(p, s, client, wl.wl_resource_get_version(p as unknown as Pointer), wl.wl_resource_get_id(p as unknown as Pointer), true);
  client.server.resources.set(p, r);
  client.resources.add(r);
  const l = makeListener(() => {
    l.remove(false);
    r._destroyed();
  });
  wl.wl_resource_add_destroy_listener(p as unknown as Pointer, l.ptr as unknown as Pointer);
  return r;
}

// ---- clients -----------------------------------------------------------------------------
export class Client {
  readonly resources = new Set<Resource>();
  destroyed = false;
  readonly pid: number;
  readonly uid: number;
  private hooks: (() => void)[] = [];
  constructor(
    readonly ptr: number,
    readonly server: Server,
  ) {
    const cred = new Int32Array(3);
    wl.wl_client_get_credentials(ptr as unknown as Pointer, ptr_(cred, 0), ptr_(cred, 4), ptr_(cred, 8));
    this.pid = cred[0];
    this.uid = cred[1];
  }
  createResource<S extends Spec>(spec: S, version: number, id: number): Resource<S> {
    const p = wl.wl_resource_create(this.ptr as unknown as Pointer, interfacePointer(spec.name) as unknown as Pointer, version, id);
    if (!p) {
      wl.wl_client_post_no_memory(this.ptr as unknown as Pointer);
      throw new ClientGone();
    }
    const n = p as unknown as number;
    wl.wl_resource_set_dispatcher(p, callbacks.dispatcher(), null, null, callbacks.destroy());
    const r = new Resource<S>(n, spec, this, version, id);
    this.server.resources.set(n, r as unknown as Resource);
    this.resources.add(r as unknown as Resource);
    return r;
  }
  onDestroy(fn: () => void): void {
    this.hooks.push(fn);
  }
  /** Disconnects the client (its resources are destroyed first). */
  destroy(): void {
    if (!this.destroyed) wl.wl_client_destroy(this.ptr as unknown as Pointer);
  }
  _destroyed(): void {
    this.destroyed = true;
    this.server.clients.delete(this.ptr);
    for (const h of this.hooks.splice(0)) h();
  }
}
const ptr_ = (a: Int32Array, off: number) => ptr(a, off);

/** Raised when libwayland could not allocate; the client has been told. */
class ClientGone extends Error {}

// ---- the server --------------------------------------------------------------------------
export interface Global {
  ptr: number;
  spec: Spec;
  destroy(): void;
}

const servers = new Map<number, Server>();
/** The same servers as an array: the per-request routing walks it without an iterator. */
let serverList: Server[] = [];
let nextGlobal = 1;
const globalOwner = new Map<number, Server>();

export class Server {
  readonly display: number;
  readonly loop: number;
  readonly resources = new Map<number, Resource>();
  readonly clients = new Map<number, Client>();
  private readonly binds = new Map<number, { spec: Spec; bind: (r: Resource) => void }>();
  private flushQueued = false;
  /** Counts every request dispatched (benchmarks, tests). */
  requests = 0;
  /** Handler failures that were weft bugs (tests assert this stays 0). */
  internalErrors = 0;

  constructor() {
    const d = wl.wl_display_create();
    if (!d) throw new Error("wl_display_create failed");
    this.display = d as unknown as number;
    this.loop = wl.wl_display_get_event_loop(d) as unknown as number;
    servers.set(this.display, this);
    serverList = [...servers.values()];
    // Track every client, including those that never bind a global.
    const created = makeListener((client) => this.client(client));
    wl.wl_display_add_client_created_listener(d, created.ptr as unknown as Pointer);
  }

  client(p: number): Client {
    let c = this.clients.get(p);
    if (!c) {
      c = new Client(p, this);
      this.clients.set(p, c);
      const cl = c;
      const l = makeListener(() => {
        l.remove(false);
        cl._destroyed();
      });
      wl.wl_client_add_destroy_listener(p as unknown as Pointer, l.ptr as unknown as Pointer);
    }
    return c;
  }

  /** Creates a global; `bind` gets each client's new resource to implement. */
  global<S extends Spec>(spec: S, version: number, bind: (r: Resource<S>) => void): Global {
    const key = nextGlobal++;
    globalOwner.set(key, this);
    this.binds.set(key, { spec, bind: bind as unknown as (r: Resource) => void });
    const g = wl.wl_global_create(this.display as unknown as Pointer, interfacePointer(spec.name) as unknown as Pointer, version, key as unknown as Pointer, callbacks.bind());
    if (!g) throw new Error(`wl_global_create(${spec.name}) failed`);
    return { ptr: g as unknown as number, spec, destroy: () => wl.wl_global_destroy(g) };
  }

  _bind(clientPtr: number, key: number, version: number, id: number): void {
    const b = this.binds.get(key);
    if (!b) return;
    const client = this.client(clientPtr);
    try {
      const r = client.createResource(b.spec, version, id);
      b.bind(r);
    } catch (err) {
      if (!(err instanceof ClientGone)) this.internal(client, err);
    }
  }

  _dispatch(r: Resource, opcode: number, args: number): void {
    this.requests++;
    const m = r.spec.requests[opcode];
    const impl = r.impl as Record<string, (...a: unknown[]) => void> | null;
    try {
      if (!impl) throw new Error(`${r.spec.name}@${r.id} has no implementation`);
      const dec = (r.decoders ??= decodersFor(r.spec))[opcode];
      const f = impl[m.name];
      // Fixed arities called directly: a spread call goes through JSC's
      // varargs path, measurable at several requests per frame.
      switch (dec.length) {
        case 0:
          f.call(impl, r);
          break;
        case 1:
          f.call(impl, r, dec[0](r, args, 0));
          break;
        case 2:
          f.call(impl, r, dec[0](r, args, 0), dec[1](r, args, 1));
          break;
        case 3:
          f.call(impl, r, dec[0](r, args, 0), dec[1](r, args, 1), dec[2](r, args, 2));
          break;
        case 4:
          f.call(impl, r, dec[0](r, args, 0), dec[1](r, args, 1), dec[2](r, args, 2), dec[3](r, args, 3));
          break;
        default: {
          const values: unknown[] = [r];
          for (let i = 0; i < dec.length; i++) values.push(dec[i](r, args, i));
          f.apply(impl, values);
        }
      }
      if (m.destructor) r.destroy();
    } catch (err) {
      if (err instanceof ProtocolError) err.resource.error(err.code, err.message);
      else if (!(err instanceof ClientGone)) this.internal(r.client, err, r);
    }
  }

  private internal(client: Client, err: unknown, r?: Resource): void {
    this.internalErrors++;
    console.error(`weft compositor: internal error (client pid ${client.pid}):`, err);
    if (r && !r.destroyed) r.error(WL_DISPLAY_ERROR.implementation, `weft internal error: ${err instanceof Error ? err.message : String(err)}`);
    else client.destroy();
  }

  /**
   * Listens on a Wayland socket and returns the WAYLAND_DISPLAY value for
   * clients. `name` is relative to $XDG_RUNTIME_DIR or absolute; without it
   * the first free wayland-N. We resolve the directory ourselves: libwayland
   * reads XDG_RUNTIME_DIR with getenv(), which does not see a value set from
   * JS (Bun's process.env does not write libc's environment).
   */
  addSocket(name?: string): string {
    const tryPath = (path: string) => wl.wl_display_add_socket(this.display as unknown as Pointer, ptr(cbytes(path))) === 0;
    if (name?.startsWith("/")) {
      if (!tryPath(name)) throw new Error(`cannot listen on Wayland socket ${name} (in use?)`);
      return name;
    }
    const dir = process.env.XDG_RUNTIME_DIR;
    if (!dir) throw new Error("XDG_RUNTIME_DIR is not set (needed for the Wayland socket)");
    if (name) {
      if (!tryPath(`${dir}/${name}`)) throw new Error(`cannot listen on Wayland socket ${dir}/${name} (in use?)`);
      return name;
    }
    for (let n = 0; n < 32; n++) if (tryPath(`${dir}/wayland-${n}`)) return `wayland-${n}`;
    throw new Error(`no free Wayland socket name in ${dir} (wayland-0 … wayland-31 all in use)`);
  }

  eventLoopFd(): number {
    return wl.wl_event_loop_get_fd(this.loop as unknown as Pointer);
  }

  /** Dispatches everything pending on the display's sockets (waiting up to `timeoutMs` for some), then flushes. */
  dispatch(timeoutMs = 0): void {
    wl.wl_event_loop_dispatch(this.loop as unknown as Pointer, timeoutMs);
    this.flush();
  }

  flush(): void {
    wl.wl_display_flush_clients(this.display as unknown as Pointer);
  }

  /** Flushes once at the end of this turn of the loop (after timers post events). */
  scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (servers.has(this.display)) this.flush();
    });
  }

  nextSerial(): number {
    return wl.wl_display_next_serial(this.display as unknown as Pointer);
  }

  now(): { sec: number; nsec: number } {
    return monotonicNow();
  }

  destroy(): void {
    if (!servers.has(this.display)) return;
    wl.wl_display_destroy_clients(this.display as unknown as Pointer);
    servers.delete(this.display);
    serverList = [...servers.values()];
    wl.wl_display_destroy(this.display as unknown as Pointer);
    for (const [k, s] of globalOwner) if (s === this) globalOwner.delete(k);
  }
}


// libwayland's callbacks carry only native pointers; route them to the server
// that owns the object (resources and clients are unique across displays).
setCallbacks({
  dispatch(res, opcode, args) {
    for (let i = 0; i < serverList.length; i++) {
      const s = serverList[i];
      const r = s.resources.get(res);
      if (r) {
        s._dispatch(r, opcode, args);
        return 0;
      }
    }
    return -1;
  },
  destroy(res) {
    for (let i = 0; i < serverList.length; i++) {
      const r = serverList[i].resources.get(res);
      if (r) return r._destroyed();
    }
  },
  bind(client, key, version, id) {
    globalOwner.get(key)?._bind(client, key, version, id);
  },
});
