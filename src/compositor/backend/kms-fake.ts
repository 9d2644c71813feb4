// A scriptable KMS device for tests, keeping the same contract as a real
// card (tests/compositor/drm-contract.ts). It follows the kernel's rules
// where the backend depends on them — one pending flip per CRTC (EBUSY),
// modesetting and flips only as DRM master (EACCES), modes from the
// connector's list, a framebuffer large enough for the mode — and delivers
// what a card delivers through real fds in the kernel's formats: flip
// completions as struct drm_event_vblank on a socket, hotplug as a kernel
// uevent on another. The backend cannot tell it from ffi/drm.ts + netlink.
//
// The script side (plug, completeFlips, takeMaster, …) is what a test drives.
import { writeSync } from "node:fs";
import { encodeFlipEvent, parseDrmEvents } from "../../../ffi/drm.ts";
import { closeFd, readSome, socketPair } from "../../../ffi/libc.ts";
import { monotonicNow } from "../../../ffi/wayland.ts";
import { DrmError, EACCES, EBUSY, EINVAL, type KmsBuffer, type KmsConnector, type KmsDevice, type KmsEvent, type KmsMode, type SavedCrtc } from "./kms.ts";
import { drainUevents, encodeUevent, isDrmHotplug } from "./uevent.ts";

const ENOENT = 2;
const ENOSPC = 28;
const ENXIO = 6;

export interface FakeModeSpec {
  width: number;
  height: number;
  /** Hz */
  refresh: number;
  preferred?: boolean;
}

export interface FakeConnectorSpec {
  name: string;
  connected?: boolean;
  modes: FakeModeSpec[];
  mm?: { width: number; height: number };
}

export interface FakeKmsOptions {
  connectors: FakeConnectorSpec[];
  /** Number of CRTCs (default: one per connector). */
  crtcs?: number;
  /** Cursor plane size, or null for none (default 64×64). */
  cursor?: { width: number; height: number } | null;
  /** "vblank": flips complete on a timer at the mode's refresh; "manual": only on completeFlips(). */
  flips?: "vblank" | "manual";
  path?: string;
}

interface Conn {
  id: number;
  name: string;
  connected: boolean;
  mm: { width: number; height: number };
  modes: KmsMode[];
}

interface Crtc {
  id: number;
  mode: KmsMode | null;
  connector: number;
  shown: KmsBuffer | null;
  pending: KmsBuffer | null;
  timer: ReturnType<typeof setTimeout> | null;
  sequence: number;
  cursor: KmsBuffer | null;
  cursorAt: { x: number; y: number };
}

const mode = (m: FakeModeSpec): KmsMode => ({ width: m.width, height: m.height, refreshMHz: Math.round(m.refresh * 1000), preferred: !!m.preferred, name: `${m.width}x${m.height}` });

export class FakeKmsDevice implements KmsDevice {
  readonly path: string;
  readonly fds: number[];
  readonly cursorSize: { width: number; height: number } | null;
  /** Every call that changed device state, in order (tests read it). */
  readonly calls: string[] = [];
  private readonly conns = new Map<number, Conn>();
  private readonly crtcList: Crtc[] = [];
  private readonly buffers = new Map<number, KmsBuffer>();
  private readonly drmEv: [number, number];
  private readonly uev: [number, number];
  private readonly flipMode: "vblank" | "manual";
  private nextId = 1;
  private master = false;
  private otherMaster = false;
  private closed = false;

  constructor(opts: FakeKmsOptions) {
    this.path = opts.path ?? "fake:card0";
    this.cursorSize = opts.cursor === undefined ? { width: 64, height: 64 } : opts.cursor;
    this.flipMode = opts.flips ?? "vblank";
    for (let i = 0; i < (opts.crtcs ?? opts.connectors.length); i++)
      this.crtcList.push({ id: 100 + i, mode: null, connector: 0, shown: null, pending: null, timer: null, sequence: 0, cursor: null, cursorAt: { x: 0, y: 0 } });
    opts.connectors.forEach((c, i) => this.conns.set(200 + i, this.conn(200 + i, c)));
    // The DRM fd is a byte stream of events (a stream socket); uevents are datagrams.
    this.drmEv = socketPair("stream");
    this.uev = socketPair("seqpacket");
    this.fds = [this.drmEv[0], this.uev[0]];
    // A freshly opened card makes its first opener master, as the kernel does.
    this.master = true;
  }

  private conn(id: number, c: FakeConnectorSpec): Conn {
    return { id, name: c.name, connected: c.connected ?? true, mm: c.mm ?? { width: 0, height: 0 }, modes: c.modes.map(mode) };
  }

  private err(call: string, errno: number): never {
    throw new DrmError(call, this.path, errno);
  }

  private refusals: { call: string; errno: number; left: number }[] = [];
  /** The next `times` calls named `call` (e.g. "drmModePageFlip") fail with `errno`, as a sick driver's would. */
  refuse(call: string, errno: number, times = 1): void {
    this.refusals.push({ call, errno, left: times });
  }
  private maybeRefuse(call: string): void {
    const r = this.refusals.find((x) => call.startsWith(x.call) && x.left > 0);
    if (!r) return;
    r.left--;
    this.err(call, r.errno);
  }

  private needMaster(call: string): void {
    if (!this.master) this.err(call, EACCES);
  }

  private crtc(call: string, id: number): Crtc {
    const c = this.crtcList.find((x) => x.id === id);
    if (!c) this.err(call, ENOENT);
    return c;
  }

  // ---- the port ------------------------------------------------------------------------
  connectors(): KmsConnector[] {
    return [...this.conns.values()].map((c) => ({
      id: c.id,
      name: c.name,
      connected: c.connected,
      mmWidth: c.mm.width,
      mmHeight: c.mm.height,
      modes: c.connected ? c.modes : [],
      crtcs: this.crtcList.map((x) => x.id),
      crtc: this.crtcList.find((x) => x.connector === c.id && x.mode)?.id ?? 0,
    }));
  }

  saveCrtc(id: number): SavedCrtc {
    const c = this.crtc("drmModeGetCrtc", id);
    return { crtc: id, fb: c.shown?.fb ?? 0, x: 0, y: 0, mode: c.mode, connectors: c.connector ? [c.connector] : [] };
  }

  restoreCrtc(s: SavedCrtc): void {
    const c = this.crtc("drmModeSetCrtc", s.crtc);
    this.needMaster("drmModeSetCrtc");
    this.calls.push(`restore ${s.crtc}`);
    c.mode = s.mode;
    c.connector = s.connectors[0] ?? 0;
    c.shown = s.fb ? (this.buffers.get(s.fb) ?? { fb: s.fb, width: 0, height: 0, stride: 0, pixels: new Uint8Array(0) }) : null;
  }

  createBuffer(width: number, height: number): KmsBuffer {
    if (!(width > 0 && height > 0 && width <= 16384 && height <= 16384)) this.err(`drmModeCreateDumbBuffer(${width}x${height})`, EINVAL);
    // Real drivers pad rows; so does the fake, so nobody assumes stride = width × 4.
    const stride = Math.ceil((width * 4) / 256) * 256;
    const b: KmsBuffer = { fb: this.nextId++, width, height, stride, pixels: new Uint8Array(stride * height) };
    this.buffers.set(b.fb, b);
    return b;
  }

  createCursorBuffer(): KmsBuffer {
    if (!this.cursorSize) this.err("drmModeCreateDumbBuffer(cursor)", ENXIO);
    return this.createBuffer(this.cursorSize.width, this.cursorSize.height);
  }

  destroyBuffer(b: KmsBuffer): void {
    if (!this.buffers.delete(b.fb)) this.err(`drmModeRmFB(${b.fb})`, ENOENT);
    // Removing a framebuffer that is being scanned out turns its CRTC off (as the kernel does).
    for (const c of this.crtcList) {
      if (c.shown === b) this.off(c);
      if (c.cursor === b) c.cursor = null;
    }
  }

  private off(c: Crtc): void {
    c.mode = null;
    c.connector = 0;
    c.shown = null;
  }

  setCrtc(id: number, connector: number, m: KmsMode, b: KmsBuffer): void {
    const call = `drmModeSetCrtc(${id})`;
    const c = this.crtc(call, id);
    this.needMaster(call);
    this.maybeRefuse(call);
    const k = this.conns.get(connector);
    if (!k || !k.connected || !k.modes.includes(m)) this.err(call, EINVAL);
    if (!this.buffers.has(b.fb)) this.err(call, ENOENT);
    if (b.width < m.width || b.height < m.height) this.err(call, ENOSPC);
    // A connector is driven by one CRTC: a modeset steals it.
    for (const o of this.crtcList) if (o !== c && o.connector === connector) this.off(o);
    c.mode = m;
    c.connector = connector;
    c.shown = b;
    this.calls.push(`setCrtc ${id} ${k.name} ${m.name} fb${b.fb}`);
  }

  disableCrtc(id: number): void {
    const call = `drmModeSetCrtc(${id})`;
    const c = this.crtc(call, id);
    this.needMaster(call);
    this.off(c);
    this.calls.push(`disable ${id}`);
  }

  pageFlip(id: number, b: KmsBuffer): void {
    const call = `drmModePageFlip(${id})`;
    const c = this.crtc(call, id);
    this.needMaster(call);
    this.maybeRefuse(call);
    if (!c.mode) this.err(call, EINVAL);
    if (c.pending) this.err(call, EBUSY);
    if (!this.buffers.has(b.fb)) this.err(call, ENOENT);
    if (b.width !== c.shown?.width || b.height !== c.shown?.height) this.err(call, EINVAL);
    c.pending = b;
    this.calls.push(`flip ${id} fb${b.fb}`);
    if (this.flipMode === "vblank") c.timer = setTimeout(() => this.complete(c), 1000 / (c.mode.refreshMHz / 1000));
  }

  readEvents(): KmsEvent[] {
    const out: KmsEvent[] = [];
    for (let m = readSome(this.drmEv[0], 4096); m && m.length; m = readSome(this.drmEv[0], 4096))
      for (const e of parseDrmEvents(m)) out.push({ type: "flip", crtc: e.crtcId, sequence: e.sequence, sec: e.sec, usec: e.usec });
    let hotplug = false;
    drainUevents(this.uev[0], (u) => (hotplug ||= isDrmHotplug(u)));
    if (hotplug) out.push({ type: "hotplug" });
    return out;
  }

  setCursor(id: number, b: KmsBuffer | null): void {
    const call = `drmModeSetCursor(${id})`;
    const c = this.crtc(call, id);
    if (!this.cursorSize) this.err(call, ENXIO);
    this.needMaster(call);
    this.maybeRefuse(call);
    c.cursor = b;
  }

  moveCursor(id: number, x: number, y: number): void {
    const call = `drmModeMoveCursor(${id})`;
    const c = this.crtc(call, id);
    if (!this.cursorSize) this.err(call, ENXIO);
    this.needMaster(call);
    this.maybeRefuse(call);
    c.cursorAt = { x, y };
  }

  setMaster(): void {
    if (this.otherMaster) this.err("drmSetMaster", EBUSY);
    this.master = true;
    this.calls.push("setMaster");
  }

  dropMaster(): void {
    if (!this.master) this.err("drmDropMaster", EINVAL);
    this.master = false;
    this.calls.push("dropMaster");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.crtcList) if (c.timer) clearTimeout(c.timer);
    for (const fd of [...this.drmEv, ...this.uev]) closeFd(fd);
  }

  // ---- the script side -----------------------------------------------------------------
  /** Completes every pending flip now (one event each, through the fd). */
  completeFlips(): number {
    let n = 0;
    for (const c of this.crtcList)
      if (c.pending) {
        this.complete(c);
        n++;
      }
    return n;
  }

  private complete(c: Crtc): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    if (!c.pending || this.closed) return;
    c.shown = c.pending;
    c.pending = null;
    const t = monotonicNow();
    writeSync(this.drmEv[1], encodeFlipEvent({ crtcId: c.id, userData: BigInt(c.id), sec: t.sec, usec: Math.floor(t.nsec / 1000), sequence: ++c.sequence }));
  }

  get pendingFlips(): number {
    return this.crtcList.filter((c) => c.pending).length;
  }

  /** Connects, disconnects or changes a connector (a new name adds one) and sends the kernel's hotplug uevent. */
  plug(spec: FakeConnectorSpec): void {
    const old = [...this.conns.values()].find((c) => c.name === spec.name);
    const id = old?.id ?? 200 + this.conns.size;
    this.conns.set(id, this.conn(id, spec));
    writeSync(this.uev[1], encodeUevent({ action: "change", devpath: "/devices/fake/drm/card0", env: { SUBSYSTEM: "drm", HOTPLUG: "1", DEVNAME: "dri/card0" } }));
  }

  /** Another process becomes DRM master (a VT switch to another session): our modesets and flips now fail. */
  takeMaster(): void {
    this.master = false;
    this.otherMaster = true;
  }

  /**
   * The kernel's console takes the display while nobody is master (a switch
   * to a text VT): fbcon's modeset turns every plane but the primary off,
   * so the cursor planes are empty when we come back.
   */
  consoleTakesDisplay(): void {
    if (this.master || this.otherMaster) throw new Error("the console takes the display only while nobody is DRM master");
    for (const c of this.crtcList) c.cursor = null;
  }

  /** The other process lets go; drmSetMaster succeeds again. */
  releaseMaster(): void {
    this.otherMaster = false;
  }

  get isMaster(): boolean {
    return this.master;
  }

  /** What a CRTC scans out now. */
  scanout(id: number): { buffer: KmsBuffer | null; mode: KmsMode | null; connector: string | null; cursor: KmsBuffer | null; cursorAt: { x: number; y: number } } {
    const c = this.crtc("scanout", id);
    return { buffer: c.shown, mode: c.mode, connector: c.connector ? (this.conns.get(c.connector)?.name ?? null) : null, cursor: c.cursor, cursorAt: c.cursorAt };
  }

  get crtcIds(): number[] {
    return this.crtcList.map((c) => c.id);
  }
}
