// The KMS port over a real card (ffi/drm.ts): legacy modesetting, dumb
// buffers, page flips read from the card's fd, hotplug from kernel uevents.
import { DRM_FORMAT_XRGB8888, DrmCard, type DrmModeInfo, type DumbMapping } from "../../../ffi/drm.ts";
import { closeFd, ueventSocket } from "../../../ffi/libc.ts";
import type { KmsBuffer, KmsConnector, KmsDevice, KmsEvent, KmsMode, SavedCrtc } from "./kms.ts";
import { drainUevents, isDrmHotplug } from "./uevent.ts";

interface Buffer extends KmsBuffer {
  dumb: DumbMapping;
}

export class DrmDevice implements KmsDevice {
  readonly fds: number[];
  readonly cursorSize: { width: number; height: number } | null;
  private readonly raw = new WeakMap<KmsMode, Uint8Array>();
  private readonly uevents: number | null;
  private closed = false;

  private constructor(private readonly card: DrmCard) {
    if (!card.hasDumbBuffers()) throw new Error(`${card.path} has no dumb buffers (DRM_CAP_DUMB_BUFFER); weft renders in software and needs them`);
    this.cursorSize = card.cursorSize();
    let uev: number | null = null;
    try {
      uev = ueventSocket();
    } catch {
      // No netlink (some containers): hotplug then needs a re-probe trigger.
    }
    this.uevents = uev;
    this.fds = uev === null ? [card.fd] : [card.fd, uev];
  }

  static open(path: string): DrmDevice {
    const card = DrmCard.open(path);
    try {
      return new DrmDevice(card);
    } catch (e) {
      card.close();
      throw e;
    }
  }

  get path(): string {
    return this.card.path;
  }

  private mode(m: DrmModeInfo): KmsMode {
    const k: KmsMode = { width: m.width, height: m.height, refreshMHz: m.refreshMHz, preferred: m.preferred, name: m.name };
    this.raw.set(k, m.raw);
    return k;
  }

  private rawMode(m: KmsMode): Uint8Array {
    const r = this.raw.get(m);
    if (!r) throw new Error(`mode ${m.name} does not come from ${this.path}`);
    return r;
  }

  connectors(): KmsConnector[] {
    const res = this.card.resources();
    const encoders = new Map(res.encoders.map((id) => [id, this.card.encoder(id)]));
    return res.connectors.map((id) => {
      const c = this.card.connector(id);
      const crtcs = new Set<number>();
      for (const e of c.encoderIds) {
        const enc = encoders.get(e);
        if (enc) res.crtcs.forEach((crtc, i) => enc.possibleCrtcs & (1 << i) && crtcs.add(crtc));
      }
      return {
        id: c.id,
        name: c.name,
        connected: c.connected,
        mmWidth: c.mmWidth,
        mmHeight: c.mmHeight,
        modes: c.modes.map((m) => this.mode(m)),
        crtcs: [...crtcs],
        crtc: encoders.get(c.encoderId)?.crtcId ?? 0,
      };
    });
  }

  saveCrtc(crtc: number): SavedCrtc {
    const c = this.card.crtc(crtc);
    const connectors = this.connectors()
      .filter((k) => k.crtc === crtc)
      .map((k) => k.id);
    return { crtc, fb: c.fb, x: c.x, y: c.y, mode: c.mode ? this.mode(c.mode) : null, connectors };
  }

  restoreCrtc(s: SavedCrtc): void {
    if (s.mode && s.fb) this.card.setCrtc(s.crtc, s.fb, s.x, s.y, [...s.connectors], this.rawMode(s.mode));
    else this.card.setCrtc(s.crtc, 0, 0, 0, [], null);
  }

  createBuffer(width: number, height: number): KmsBuffer {
    const dumb = this.card.createDumb(width, height);
    try {
      const fb = this.card.addFb(width, height, DRM_FORMAT_XRGB8888, dumb.handle, dumb.pitch);
      const b: Buffer = { fb, width, height, stride: dumb.pitch, pixels: dumb.pixels, dumb };
      return b;
    } catch (e) {
      this.card.destroyDumb(dumb);
      throw e;
    }
  }

  createCursorBuffer(): KmsBuffer {
    if (!this.cursorSize) throw new Error(`${this.path} has no cursor plane`);
    const { width, height } = this.cursorSize;
    const dumb = this.card.createDumb(width, height);
    const b: Buffer = { fb: 0, width, height, stride: dumb.pitch, pixels: dumb.pixels, dumb };
    return b;
  }

  destroyBuffer(b: KmsBuffer): void {
    const buf = b as Buffer;
    if (buf.fb) this.card.rmFb(buf.fb);
    this.card.destroyDumb(buf.dumb);
  }

  setCrtc(crtc: number, connector: number, mode: KmsMode, b: KmsBuffer): void {
    this.card.setCrtc(crtc, b.fb, 0, 0, [connector], this.rawMode(mode));
  }

  disableCrtc(crtc: number): void {
    this.card.setCrtc(crtc, 0, 0, 0, [], null);
  }

  pageFlip(crtc: number, b: KmsBuffer): void {
    this.card.pageFlip(crtc, b.fb, BigInt(crtc));
  }

  readEvents(): KmsEvent[] {
    const out: KmsEvent[] = this.card.readEvents().map((e) => ({ type: "flip" as const, crtc: e.crtcId || Number(e.userData), sequence: e.sequence, sec: e.sec, usec: e.usec }));
    if (this.uevents !== null) {
      let hotplug = false;
      drainUevents(this.uevents, (u) => (hotplug ||= isDrmHotplug(u)));
      if (hotplug) out.push({ type: "hotplug" });
    }
    return out;
  }

  setCursor(crtc: number, b: KmsBuffer | null): void {
    if (b) this.card.setCursor(crtc, (b as Buffer).dumb.handle, b.width, b.height);
    else this.card.setCursor(crtc, 0, 0, 0);
  }

  moveCursor(crtc: number, x: number, y: number): void {
    this.card.moveCursor(crtc, x, y);
  }

  setMaster(): void {
    this.card.setMaster();
  }

  dropMaster(): void {
    this.card.dropMaster();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.uevents !== null) closeFd(this.uevents);
    this.card.close();
  }
}
