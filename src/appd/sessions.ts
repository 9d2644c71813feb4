import type { Pointer } from "bun:ffi";
// Sessions: one launched app each, supervised in-process.
//
// starting → running (READY seen) → stopping → stopped, with the exit reason
// kept. A session's guest runs on the runtime's worker threads; everything
// here runs on the loop. Restart policy (opt-in in wapp.toml) relaunches with
// backoff inside the same session; too many failures inside the window is a
// permanent failure, reported and never retried.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Component, type Module } from "../../ffi/wasmtime.ts";
import { compiledInMemory, loadWasmAsync, sha256Hex, wasmKind } from "../runtime/cache.ts";
import { describeExit, type ExitStatus } from "../runtime/exit.ts";
import { Guest, type Preopen } from "../runtime/guest.ts";
import type { GuestContext } from "../runtime/host-calls.ts";
import type { ExitInfo, SessionState } from "../ipc/messages.ts";
import { Listeners } from "../system/listeners.ts";
import { log } from "../system/log.ts";
import { sessionStateRoot } from "../system/paths.ts";
import { STATE_TOKEN_RE } from "./persistence.ts";
import type { ClipboardPort, Notification } from "../runtime/weft-app/context.ts";
import { parseCapability, type Capability } from "./capabilities.ts";
import type { Manifest } from "./manifest.ts";
import { appDataDir, checkLaunch } from "./package-store.ts";

/** Lines kept per session for `weft logs` (the journal gets every line). */
const LOG_LINES = 1000;
/** Longest single line kept; longer output is split. */
const MAX_LINE = 4096;

export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
}

export type SessionEvent =
  | { type: "launched"; session: Session }
  | { type: "ready"; session: Session }
  | { type: "state"; session: Session }
  | { type: "output"; session: Session; line: LogLine }
  | { type: "ipc"; session: Session; payload: string }
  | { type: "notification"; session: Session; notification: Notification };

export interface SessionOptions {
  /** Allow packages that are unsigned (the user said so). */
  allowUnsigned?: boolean;
  /** Overrides for tests; defaults come from the manifest. */
  readyTimeoutMs?: number;
  backoffMs?: (attempt: number) => number;
  /** Where sessions of apps with `persist_state` keep /state; default sessionStateRoot(). */
  stateRoot?: string;
  /** The compositor's clipboard, for apps' weft:app/clipboard (absent: no compositor in this process). */
  clipboard?: ClipboardPort;
  /** Ended sessions kept for QUERY_APP_STATE and QUERY_LOGS; default ENDED_SESSIONS_KEPT. */
  endedKept?: number;
}

/**
 * An ended session stays queryable (its state, exit, last log lines) until
 * this many more have ended; then it is forgotten ("not_found"), so a daemon
 * that launches apps for months does not keep every session it ever ran.
 */
export const ENDED_SESSIONS_KEPT = 256;

export interface LaunchOptions {
  /** Resume the /state of a saved session (a token from last-session.json). */
  state?: string;
}

export class LaunchError extends Error {}

/** What a session started by weft itself (a cell's service) sets instead of the package defaults. */
export interface SessionExtra {
  argv?: string[];
  env?: [string, string][];
  /** Running as soon as the guest starts (no READY handshake). */
  readyOnStart?: boolean;
  timeoutMs?: number;
  cpuMs?: number;
  /** A CPU budget shared with other guests (a cell's service: its parent's pool). */
  cpuPool?: Pointer;
  /** Output stays in `weft logs` (debug level in weft's own log), not on weft's stderr. */
  quiet?: boolean;
  /** Names the session's /state directory (persist_state). */
  stateToken?: string;
  /** What the guest's host calls see (a cell's service: its weft:cell process). */
  context?: GuestContext;
}

function exitInfo(s: ExitStatus): ExitInfo {
  const message = describeExit(s) ?? undefined;
  return s.kind === "exit" ? { kind: "exit", code: s.code } : { kind: s.kind, message };
}

export class Session {
  state: SessionState = "starting";
  exit: ExitInfo | null = null;
  restarts = 0;
  /** Names this session's /state directory (apps with persist_state), kept across a weft restart. */
  stateToken?: string;
  /** Set by a shutdown that saves sessions: the /state directory outlives this session. */
  keepState = false;
  failed = false;
  readonly log: LogLine[] = [];
  guest: Guest | null = null;
  private failures: number[] = [];
  private partial: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
  private readyTimer: ReturnType<typeof setTimeout> | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private stopRequested = false;
  private readyTimedOut = false;
  private readonly gone: Promise<void>;
  private markGone!: () => void;

  constructor(
    readonly id: number,
    readonly appId: string,
    readonly manifest: Manifest,
    private compiled: Module | Component | null,
    private readonly preopens: Preopen[],
    private readonly mgr: SessionManager,
    private readonly extra: SessionExtra = {},
  ) {
    this.gone = new Promise((r) => (this.markGone = r));
    this.isComponent = compiled instanceof Component;
  }

  /** A component (weft:app, ipc) rather than a Preview 1 module (READY on stdout). */
  readonly isComponent: boolean;

  /** The manifest's capabilities, parsed (they were validated at install and launch). */
  get capabilities(): Capability[] {
    return this.manifest.capabilities.map(parseCapability).filter((c): c is Capability => !(c instanceof Error));
  }

  get alive(): boolean {
    return this.state === "starting" || this.state === "running" || this.state === "stopping";
  }

  /** Starts (or restarts) the guest. */
  start(): void {
    this.state = "starting";
    this.partial = { stdout: "", stderr: "" };
    const rt = this.manifest.runtime;
    const guest = new Guest(this.compiled!, {
      argv: this.extra.argv ?? [rt.module],
      env: [...(this.extra.env ?? []), ["WEFT_APP_ID", this.appId], ["WEFT_SESSION_ID", String(this.id)]],
      preopens: this.preopens,
      timeoutMs: this.extra.timeoutMs,
      cpuMs: this.extra.cpuMs,
      cpuPool: this.extra.cpuPool,
      stdout: "capture",
      stderr: "capture",
      memoryBytes: rt.memoryMib * 1048576,
      cpuPercent: rt.cpuPercent,
      onOutput: (stream, bytes) => this.onOutput(stream, bytes),
      // Components signal readiness with weft:app/notify.ready() (spec §4).
      onReady: () => {
        if (this.state === "starting" && this.guest === guest) this.becomeReady();
      },
      onIpc: (payload) => this.mgr.emit({ type: "ipc", session: this, payload }),
      // What weft:app's host calls (fetch, notifications, clipboard) may do for this app;
      // a cell's service is no app: it has its weft:cell process instead.
      context: this.extra.context ?? {
        app: {
          sessionId: this.id,
          appId: this.appId,
          capabilities: this.capabilities,
          notify: (notification) => this.mgr.emit({ type: "notification", session: this, notification }),
          clipboard: this.mgr.options.clipboard,
        },
      },
    });
    this.guest = guest;
    guest.exited.then((status) => this.onExit(guest, status));
    if (this.extra.readyOnStart) return this.becomeReady();
    const readyMs = this.mgr.options.readyTimeoutMs ?? rt.readyTimeoutS * 1000;
    this.readyTimer = setTimeout(() => {
      if (this.state !== "starting" || this.guest !== guest) return;
      this.readyTimedOut = true;
      log.warn(`session ${this.id} (${this.appId}): no READY within ${readyMs / 1000} s; stopping it`);
      guest.stop();
    }, readyMs);
  }

  private onOutput(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    let text = this.partial[stream] + new TextDecoder().decode(bytes, { stream: true });
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0 || text.length > MAX_LINE) {
      const cut = nl >= 0 && nl <= MAX_LINE ? nl : MAX_LINE;
      this.line(stream, text.slice(0, cut));
      text = text.slice(nl === cut ? cut + 1 : cut);
    }
    this.partial[stream] = text;
  }

  private line(stream: "stdout" | "stderr", text: string): void {
    const line = { stream, text };
    this.log.push(line);
    if (this.log.length > LOG_LINES) this.log.splice(0, this.log.length - LOG_LINES);
    if (stream === "stderr" && !this.extra.quiet) log.warn(`session ${this.id} (${this.appId}) stderr: ${text}`);
    else log.debug(`session ${this.id} (${this.appId}): ${text}`);
    // Preview 1 readiness (spec §4): the line READY on stdout.
    if (stream === "stdout" && text.trim() === "READY" && this.state === "starting") this.becomeReady();
    this.mgr.emit({ type: "output", session: this, line });
  }

  private becomeReady(): void {
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.state = "running";
    log.info(`session ${this.id} (${this.appId}) ready`);
    this.mgr.emit({ type: "ready", session: this });
    this.mgr.emit({ type: "state", session: this });
  }

  private onExit(guest: Guest, status: ExitStatus): void {
    if (this.guest !== guest) return;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    for (const s of ["stdout", "stderr"] as const) if (this.partial[s]) this.line(s, this.partial[s]);
    this.partial = { stdout: "", stderr: "" };
    this.exit = this.readyTimedOut ? { kind: "ready-timeout", message: "no READY within the launch timeout" } : exitInfo(status);
    this.readyTimedOut = false;
    const failedRun = !(status.kind === "exit" && status.code === 0);
    const policy = this.manifest.runtime.restart;
    const wantRestart = !this.stopRequested && (policy === "always" || (policy === "on-failure" && failedRun));
    log.info(`session ${this.id} (${this.appId}) ended: ${describeExit(status) ?? `exit ${this.exit.code}`}`);
    if (wantRestart) {
      const now = performance.now();
      const windowMs = this.manifest.runtime.restartWindowS * 1000;
      this.failures = [...this.failures.filter((t) => now - t < windowMs), now];
      if (this.failures.length > this.manifest.runtime.maxRestarts) {
        this.failed = true;
        log.error(`session ${this.id} (${this.appId}) failed ${this.failures.length} times within ${windowMs / 1000} s; giving up`);
      } else {
        this.restarts++;
        const delay = (this.mgr.options.backoffMs ?? ((n: number) => Math.min(100 * 2 ** (n - 1), 5000)))(this.failures.length);
        this.state = "starting";
        this.mgr.emit({ type: "state", session: this });
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (!this.stopRequested) this.start();
          else this.finish();
        }, delay);
        return;
      }
    }
    this.finish();
  }

  private finish(): void {
    this.state = "stopped";
    this.guest = null;
    this.compiled = null; // a stopped session never starts again: its code can go
    if (this.stateToken && !this.keepState) this.mgr.dropState(this.appId, this.stateToken);
    this.markGone();
    this.mgr.emit({ type: "state", session: this });
    this.mgr.retire(this);
  }

  /**
   * Delivers a message from this session's UI to the guest's ipc.recv.
   * Returns why not, or null when delivered.
   */
  ipcForward(payload: string): string | null {
    if (!this.guest || !this.alive) return `session ${this.id} is not running`;
    if (!this.guest.ipcSend(payload)) return `session ${this.id} is not reading its messages (inbox full)`;
    return null;
  }

  /** Stops the guest; resolves once it is really gone. */
  async terminate(): Promise<void> {
    this.stopRequested = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
      this.finish();
    }
    if (this.state === "stopped") return;
    this.state = "stopping";
    this.mgr.emit({ type: "state", session: this });
    this.guest?.stop();
    await this.gone;
  }
}

/** Host directories a manifest's capabilities grant (spec §1–2); nothing else is visible. */
export function preopensFor(manifest: Manifest): Preopen[] {
  const out: Preopen[] = [];
  const caps = new Set(manifest.capabilities);
  if (caps.has("fs:rw:app-data") || caps.has("fs:read:app-data")) {
    const dir = appDataDir(manifest.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    out.push({ host: dir, guest: "/data", readOnly: !caps.has("fs:rw:app-data") });
  }
  if (caps.has("fs:rw:xdg-documents") || caps.has("fs:read:xdg-documents")) {
    const docs = join(process.env.HOME || homedir(), "Documents");
    if (existsSync(docs)) out.push({ host: docs, guest: "/xdg/documents", readOnly: !caps.has("fs:rw:xdg-documents") });
  }
  return out;
}

export class SessionManager {
  private nextId = 1;
  readonly sessions = new Map<number, Session>();
  private listeners = new Listeners<SessionEvent>("session listener", "error");

  constructor(readonly options: SessionOptions = {}) {}

  on(fn: (e: SessionEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  emit(e: SessionEvent): void {
    this.listeners.emit(e);
  }

  /** Resolves, verifies and starts an app; throws LaunchError with the reason. */
  async launch(appId: string, opts: LaunchOptions = {}): Promise<Session> {
    let check;
    try {
      check = await checkLaunch(appId, { allowUnsigned: this.options.allowUnsigned });
    } catch (err) {
      throw new LaunchError((err as Error).message);
    }
    const { app } = check;
    const module = app.manifest.runtime.module;
    const verified = check.verification.hashes?.get(module);
    // The check verified the module's hash: if those bytes were compiled before, run that.
    let compiled = verified ? compiledInMemory(verified) : null;
    if (!compiled) {
      const wasm = new Uint8Array(await Bun.file(join(app.dir, module)).arrayBuffer());
      if (!wasmKind(wasm)) throw new LaunchError(`${appId}: ${module} is not a WebAssembly module or component`);
      // The bytes we run must be the bytes the check verified (the file could be replaced in between).
      const sha256 = sha256Hex(wasm);
      if (verified !== sha256) throw new LaunchError(`${appId}: ${module} changed while it was being launched; try again`);
      try {
        compiled = await loadWasmAsync(wasm, { sha256 }); // compiled off the loop
      } catch (err) {
        throw new LaunchError(`${appId}: invalid module: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    const preopens = preopensFor(app.manifest);
    let stateToken: string | undefined;
    if (app.manifest.runtime.persistState) {
      stateToken = opts.state && STATE_TOKEN_RE.test(opts.state) ? opts.state : Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
      const dir = this.stateDir(appId, stateToken);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      preopens.push({ host: dir, guest: "/state", readOnly: false });
    }
    const session = this.startSession(appId, app.manifest, compiled, preopens, { stateToken });
    log.info(`session ${session.id}: launched ${appId} ${app.manifest.version} (${check.verification.status})`);
    return session;
  }

  /** Starts a session for already-checked, already-compiled wasm (an app after launch's checks, or a cell's service). */
  startSession(appId: string, manifest: Manifest, compiled: Module | Component, preopens: Preopen[], extra?: SessionExtra): Session {
    const session = new Session(this.nextId++, appId, manifest, compiled, preopens, this, extra);
    session.stateToken = extra?.stateToken;
    this.sessions.set(session.id, session);
    session.start();
    this.emit({ type: "launched", session });
    return session;
  }

  private get stateRoot(): string {
    return this.options.stateRoot ?? sessionStateRoot();
  }

  /** A session's /state on the host: <state root>/<app id>/<token>. */
  stateDir(appId: string, token: string): string {
    return join(this.stateRoot, appId, token);
  }

  /** Removes a session's state (it ended for good). */
  dropState(appId: string, token: string): void {
    try {
      rmSync(this.stateDir(appId, token), { recursive: true, force: true });
    } catch (e) {
      log.warn(`could not remove the state of ${appId} (${this.stateDir(appId, token)}): ${(e as Error).message}`);
    }
  }

  /**
   * Removes state directories that no session owns and none of `keep` names:
   * what a crash (no clean shutdown, so nothing was saved) leaves behind.
   * Called once at start, after the saved sessions were read.
   */
  sweepState(keep: { app_id: string; state?: string }[]): string[] {
    const owned = new Set([...keep.map((k) => `${k.app_id}/${k.state}`), ...[...this.sessions.values()].map((s) => `${s.appId}/${s.stateToken}`)]);
    const list = (dir: string): string[] => {
      try {
        return readdirSync(dir);
      } catch {
        return []; // no state yet (or unreadable): nothing to sweep
      }
    };
    const removed: string[] = [];
    for (const app of list(this.stateRoot))
      for (const token of list(join(this.stateRoot, app))) {
        if (!STATE_TOKEN_RE.test(token) || owned.has(`${app}/${token}`)) continue;
        this.dropState(app, token);
        removed.push(`${app}/${token}`);
      }
    return removed;
  }


  running(): Session[] {
    return [...this.sessions.values()].filter((s) => s.alive);
  }

  private readonly ended: number[] = [];
  /** A session has ended for good: the oldest ended ones beyond `endedKept` are forgotten. */
  retire(s: Session): void {
    if (this.ended.includes(s.id)) return;
    this.ended.push(s.id);
    const kept = this.options.endedKept ?? ENDED_SESSIONS_KEPT;
    while (this.ended.length > kept) this.sessions.delete(this.ended.shift()!);
  }

  /** Stops every session (shutdown); resolves when all are gone. */
  async terminateAll(): Promise<void> {
    await Promise.all(this.running().map((s) => s.terminate()));
  }
}
