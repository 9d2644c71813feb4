// xdg_wm_base.ping/pong: is the client still answering?
//
// A client that stops reading its socket (a hung main loop, a debugger, a
// deadlock) still has windows on screen, and the user deserves to know why
// they do not react. We ping a client when its window gets keyboard focus,
// when the user presses a key or button on it (at most once per second), and
// every `intervalMs` while it has windows mapped. A ping not answered within
// `timeoutMs` marks the client unresponsive: logged, emitted as the
// compositor's "unresponsive" event and shown in the control socket's window
// list. A late pong marks it responsive again. Only one ping per wm_base is
// outstanding at a time, so a hung client costs nothing while it stays hung.
import { log } from "../../system/log.ts";
import type { Client, Resource } from "../wl.ts";
import type { xdg_shell } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";

export interface PingOptions {
  /** How long a client has to answer a ping (ms). */
  timeoutMs: number;
  /** How often clients with mapped windows are pinged (ms); 0 = only on focus and input. */
  intervalMs: number;
  /** Input pings closer together than this are skipped (typing must not ping per key). */
  inputGapMs: number;
}
export const DEFAULT_PING: PingOptions = { timeoutMs: 5000, intervalMs: 10_000, inputGapMs: 1000 };

interface PingState {
  serial: number;
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | null;
  lastSent: number;
}

type WmBase = Resource<typeof xdg_shell.xdg_wm_base>;

export class PingTracker {
  private bases = new Map<number, Map<WmBase, PingState>>();
  private unresponsiveClients = new Set<number>();
  private interval: ReturnType<typeof setInterval> | null = null;
  /** Pongs received (tests and diagnostics). */
  pongs = 0;

  constructor(
    private readonly comp: Compositor,
    readonly opts: PingOptions,
  ) {}

  /** A client bound xdg_wm_base: it can be pinged from now on. */
  add(base: WmBase): void {
    const ptr = base.client.ptr;
    let m = this.bases.get(ptr);
    if (!m) this.bases.set(ptr, (m = new Map()));
    const mine = m;
    mine.set(base, { serial: 0, sentAt: 0, timer: null, lastSent: 0 });
    base.onDestroy(() => {
      const st = mine.get(base);
      if (st?.timer) clearTimeout(st.timer);
      mine.delete(base);
      if (mine.size === 0) {
        this.bases.delete(ptr);
        this.unresponsiveClients.delete(ptr);
      }
      if (this.bases.size === 0) this.stopInterval();
    });
    if (this.opts.intervalMs > 0 && !this.interval) {
      this.interval = setInterval(() => this.pingMapped(), this.opts.intervalMs);
      this.interval.unref?.();
    }
  }

  isUnresponsive(client: Client): boolean {
    return this.unresponsiveClients.has(client.ptr);
  }

  /** Keyboard focus moved to one of this client's surfaces. */
  focused(client: Client): void {
    this.ping(client, 0);
  }

  /** The user pressed a key or button on this client's surface. */
  input(client: Client): void {
    this.ping(client, this.opts.inputGapMs);
  }

  /** Sends a ping to each of the client's wm_bases that has none outstanding (and none sent in the last `gapMs`). */
  ping(client: Client, gapMs = 0): void {
    const m = this.bases.get(client.ptr);
    if (!m) return;
    const now = performance.now();
    for (const [base, st] of m) {
      if (st.serial !== 0 || base.destroyed || now - st.lastSent < gapMs) continue;
      st.serial = this.comp.server.nextSerial();
      st.sentAt = st.lastSent = now;
      base.post("ping", st.serial);
      st.timer = setTimeout(() => this.expired(base, st), this.opts.timeoutMs);
    }
    this.comp.server.scheduleFlush();
  }

  /** xdg_wm_base.pong: a stale or unknown serial is ignored (it may answer a ping we gave up on). */
  pong(base: WmBase, serial: number): void {
    const st = this.bases.get(base.client.ptr)?.get(base);
    if (!st || st.serial === 0 || serial !== st.serial) return;
    this.pongs++;
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    st.serial = 0;
    const ptr = base.client.ptr;
    if (this.unresponsiveClients.delete(ptr)) {
      log.info(`compositor: client pid ${base.client.pid} answers again after ${Math.round(performance.now() - st.sentAt)} ms`);
      this.comp.events.emit("responsive", base.client);
    }
  }

  private expired(base: WmBase, st: PingState): void {
    st.timer = null;
    if (base.destroyed || st.serial === 0) return;
    const ptr = base.client.ptr;
    if (this.unresponsiveClients.has(ptr)) return;
    this.unresponsiveClients.add(ptr);
    log.warn(`compositor: client pid ${base.client.pid} did not answer a ping within ${this.opts.timeoutMs} ms: unresponsive`);
    this.comp.events.emit("unresponsive", base.client);
  }

  /** The periodic round: every client with a window on screen. */
  private pingMapped(): void {
    const seen = new Set<Client>();
    for (const v of this.comp.scene.views) {
      if (!v.mapped || v.kind !== "toplevel") continue;
      const c = v.surface.client;
      if (seen.has(c)) continue;
      seen.add(c);
      this.ping(c);
    }
  }

  private stopInterval(): void {
    if (this.interval) clearInterval(this.interval);
    this.interval = null;
  }

  destroy(): void {
    this.stopInterval();
    for (const m of this.bases.values()) for (const st of m.values()) if (st.timer) clearTimeout(st.timer);
    this.bases.clear();
  }
}
