// App UIs (spec §5): each session's UI page on its own origin,
// `http://s<session>.localhost:<port>/`, served from its package's
// `[ui].entry`, with a bridge script that gives the page `window.weftIpc`
// over a WebSocket scoped to that one session.
//
// Why an origin per session: the browser then keeps pages of different apps
// apart (no shared DOM, storage or cookies), and a request's Host says which
// session it is for. Chromium resolves every *.localhost name to loopback.
//
// Who may open a session's page: only someone the system UI sent there.
// A system client asks for the app's URL (QUERY_APP_UI); that URL carries a
// one-time ticket (60 s). Opening it sets a per-session secret as a cookie
// on that origin only (HttpOnly; `SameSite=None; Secure; Partitioned`, the
// one kind a browser sends from an iframe under another site — Chromium
// counts http://*.localhost as secure) and redirects to the page. Every
// request to the origin — assets, the bridge socket — needs that cookie.
// The system token is never accepted here, and this secret is never accepted
// by the system API: app hosts are routed here before anything else.
import { realpathSync, statSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import type { Server, ServerWebSocket } from "bun";
import { log } from "../system/log.ts";
import { newToken, tokenMatches } from "./auth.ts";
import { resolveApp } from "./package-store.ts";
import type { Session, SessionManager } from "./sessions.ts";

export const APP_COOKIE = "weft_app";
/** How long a ticket from QUERY_APP_UI may wait before the page is opened with it. */
const TICKET_MS = 60_000;
/** Paths weft itself answers on an app origin; a package cannot have them (dot segments are refused). */
const BRIDGE_JS = "/.weft/bridge.js";
const BRIDGE_WS = "/.weft/ipc";
const OPEN = "/.weft/open";

/** Data of a bridge WebSocket (http.ts keeps system sockets apart by `kind`). */
export interface AppConn {
  kind: "app";
  sessionId: number;
}

/** `s<id>.localhost` (any port) → the session id; anything else → null. */
export function appHostSession(hostHeader: string | null | undefined): number | null {
  if (!hostHeader) return null;
  let name: string;
  try {
    name = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return null;
  }
  const m = /^s([1-9]\d{0,9})\.localhost$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Every value of cookie `name` in a Cookie header (a page can plant same-named cookies for a parent domain; any one may be ours). */
export function cookieValues(header: string | null, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * A URL path → the file under `root` it names, or null when it must not be
 * served: a segment that is empty, `.`/`..`, starts with a dot, or holds a
 * slash, backslash or NUL once decoded; or a path that leaves `root` through
 * a symlink. `hidden` names top-level entries never served (the app's data).
 */
export function safeAssetPath(root: string, urlPath: string, hidden: readonly string[] = []): string | null {
  const segs = urlPath.split("/").slice(1);
  const parts: string[] = [];
  for (const raw of segs) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (s === "" || s.startsWith(".") || /[\\/\0]/.test(s)) return null;
    parts.push(s);
  }
  if (!parts.length || hidden.includes(parts[0])) return null;
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(join(root, ...parts));
  } catch {
    return null;
  }
  if (!real.startsWith(realRoot + sep)) return null;
  try {
    if (!statSync(real).isFile()) return null;
  } catch {
    return null;
  }
  return real;
}

/** Where a session's UI files are: the entry's directory in the package, and the entry's file name. */
interface UiFiles {
  root: string;
  entry: string;
  /** Top-level names under root that are not UI (the package's data dir when the UI sits at the package's top). */
  hidden: string[];
}

type WS = ServerWebSocket<AppConn>;

export class AppUi {
  private secrets = new Map<number, string>();
  private tickets = new Map<string, { sessionId: number; expires: number }>();
  private files = new Map<number, Promise<UiFiles | null>>();
  private server: Server<unknown> | null = null;
  private readonly off: () => void;

  /** `frameAncestors`: the system UI's origins, the only pages that may embed an app. */
  constructor(
    private readonly sessions: SessionManager,
    private readonly frameAncestors: () => string[],
  ) {
    this.off = sessions.on((e) => {
      if (e.type === "launched") this.filesOf(e.session);
      else if (e.type === "ipc") this.publish(e.session.id, { type: "IPC_MESSAGE", payload: e.payload });
      else if (e.type === "state") this.publish(e.session.id, this.stateOf(e.session));
    });
  }

  attach(server: Server<unknown>): void {
    this.server = server;
  }

  close(): void {
    this.off();
  }

  /** The address that opens session `id`'s UI (one use, 60 s), or null if there is no such session. */
  openUrl(id: number, port: number): string | null {
    const s = this.sessions.sessions.get(id);
    if (!s) return null;
    const now = Date.now();
    for (const [t, v] of this.tickets) if (v.expires < now) this.tickets.delete(t);
    const ticket = newToken();
    this.tickets.set(ticket, { sessionId: id, expires: now + TICKET_MS });
    return `http://s${id}.localhost:${port}${OPEN}?ticket=${ticket}`;
  }

  private origin(id: number, port: number): string {
    return `http://s${id}.localhost:${port}`;
  }

  private topic(id: number): string {
    return `app:${id}`;
  }

  private publish(id: number, msg: unknown): void {
    this.server?.publish(this.topic(id), JSON.stringify(msg));
  }

  private stateOf(s: Session): Record<string, unknown> {
    return { type: "APP_STATE", state: s.state, ...(s.exit ? { exit: s.exit } : {}), ...(s.failed ? { failed: true } : {}) };
  }

  private filesOf(s: Session): Promise<UiFiles | null> {
    let p = this.files.get(s.id);
    if (!p) {
      p = resolveApp(s.appId).then(
        (app) => {
          if (!app) return null;
          const entry = s.manifest.ui.entry;
          const root = join(app.dir, dirname(entry));
          return { root, entry: entry.split("/").pop()!, hidden: dirname(entry) === "." ? ["data"] : [] };
        },
        (e) => {
          log.warn(`app ui: session ${s.id} (${s.appId}): ${(e as Error).message}`);
          return null;
        },
      );
      this.files.set(s.id, p);
    }
    return p;
  }

  private page(status: number, text: string): Response {
    return new Response(`<!doctype html><meta charset="utf-8"><title>weft</title><p>${text}</p>\n`, {
      status,
      headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" },
    });
  }

  private csp(id: number, port: number): string {
    const ws = `ws://s${id}.localhost:${port}`;
    return [
      "default-src 'self'",
      "script-src 'self' 'unsafe-inline'",
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data: blob:",
      "media-src 'self' data: blob:",
      "font-src 'self' data:",
      // The page's only way out is its own origin: its assets and its bridge socket.
      `connect-src 'self' ${ws}`,
      "frame-src 'none'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      `frame-ancestors ${this.frameAncestors().join(" ") || "'none'"}`,
    ].join("; ");
  }

  /** Answers a request whose Host is `s<id>.localhost`. Nothing else is reachable from an app origin. */
  async fetch(req: Request, id: number, port: number): Promise<Response | undefined> {
    const url = new URL(req.url);
    const origin = req.headers.get("origin");
    // Browsers send Origin on WebSocket upgrades and cross-origin requests: only the app's own page may talk to it.
    if (origin !== null && origin !== this.origin(id, port)) {
      log.warn(`app ui: refused ${req.method} ${url.pathname} on session ${id} from origin ${origin.slice(0, 100)}`);
      return this.page(403, "Cross-origin requests to an app are refused.");
    }
    if (req.method !== "GET" && req.method !== "HEAD") return this.page(405, "App pages are read-only.");
    const session = this.sessions.sessions.get(id);
    if (!session) return this.page(404, `There is no session ${id}.`);

    if (url.pathname === OPEN) {
      const t = url.searchParams.get("ticket") ?? "";
      const v = this.tickets.get(t);
      this.tickets.delete(t);
      if (!v || v.sessionId !== id || v.expires < Date.now()) return this.page(401, "This link is used up or expired: open the app again from weft's system UI.");
      let secret = this.secrets.get(id);
      if (!secret) this.secrets.set(id, (secret = newToken()));
      return new Response(null, {
        status: 303,
        headers: {
          Location: "/",
          "Set-Cookie": `${APP_COOKIE}=${secret}; Path=/; HttpOnly; SameSite=None; Secure; Partitioned`,
          "Cache-Control": "no-store",
          "Referrer-Policy": "no-referrer",
        },
      });
    }

    const secret = this.secrets.get(id);
    if (!secret || !cookieValues(req.headers.get("cookie"), APP_COOKIE).some((v) => tokenMatches(secret, v)))
      return this.page(401, "Open this app from weft's system UI.");

    if (url.pathname === BRIDGE_WS) {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return this.page(426, "This is the app's WebSocket.");
      if (this.server?.upgrade(req, { data: { kind: "app", sessionId: id } satisfies AppConn })) return undefined;
      return this.page(400, "Expected a WebSocket upgrade.");
    }
    const headers: Record<string, string> = {
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
      "Cross-Origin-Resource-Policy": "same-origin",
    };
    if (url.pathname === BRIDGE_JS) return new Response(BRIDGE, { headers: { ...headers, "Content-Type": "text/javascript; charset=utf-8" } });

    const files = await this.filesOf(session);
    if (!files) return this.page(404, "This app's package is no longer installed.");
    const path = url.pathname === "/" ? join(files.root, files.entry) : safeAssetPath(files.root, url.pathname, files.hidden);
    if (!path) return this.page(404, "No such file in this app's UI.");
    const file = Bun.file(path);
    const type = file.type || "application/octet-stream";
    headers["Content-Type"] = type;
    if (type.startsWith("text/html")) {
      headers["Content-Security-Policy"] = this.csp(id, port);
      return new Response(injectBridge(await file.text().catch(() => "")), { headers });
    }
    return new Response(file, { headers });
  }

  // --- the bridge socket ----------------------------------------------------------

  open(ws: WS): void {
    const s = this.sessions.sessions.get(ws.data.sessionId);
    ws.subscribe(this.topic(ws.data.sessionId));
    if (s) ws.send(JSON.stringify(this.stateOf(s)));
  }

  /** A text frame from the page is one weftIpc.send(text): it goes to the guest's ipc.recv(). */
  message(ws: WS, text: string | Buffer): void {
    const s = this.sessions.sessions.get(ws.data.sessionId);
    const fail = (message: string): void => void ws.send(JSON.stringify({ type: "ERROR", message }));
    if (typeof text !== "string") return fail("binary frames are not accepted");
    if (!s || !s.alive) return fail(`the app is not running`);
    if (!s.isComponent) return fail("this app is a Preview 1 module: it has no weft:app/ipc to receive messages");
    const why = s.ipcForward(text);
    if (why) fail(why);
  }
}

/** Puts the bridge before any of the page's own scripts: first thing in <head> (or <html>, or the document). */
export function injectBridge(html: string): string {
  const tag = `<script src="${BRIDGE_JS}"></script>`;
  const m = /<head\b[^>]*>/i.exec(html) ?? /<html\b[^>]*>/i.exec(html);
  if (m) return html.slice(0, m.index + m[0].length) + tag + html.slice(m.index + m[0].length);
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html);
  return doctype ? doctype[0] + tag + html.slice(doctype[0].length) : tag + html;
}

// window.weftIpc exactly as spec §5 says, over this origin's bridge socket.
// Messages sent before the socket is open are queued; the guest's end (or
// weft going away) is reported once, to weftIpc.onended and as the window
// event "weftipc:ended".
const BRIDGE = `"use strict";
(() => {
  const queue = [];
  let ended = false;
  const ipc = { onmessage: null, onended: null, state: "connecting", send(text) { text = String(text); if (ws.readyState === 1) ws.send(text); else if (ws.readyState === 0) queue.push(text); } };
  const end = (info) => {
    if (ended) return;
    ended = true;
    ipc.state = "stopped";
    if (typeof ipc.onended === "function") ipc.onended(info);
    window.dispatchEvent(new CustomEvent("weftipc:ended", { detail: info }));
  };
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + ${JSON.stringify(BRIDGE_WS)});
  ws.onopen = () => { for (const t of queue.splice(0)) ws.send(t); };
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    if (m.type === "IPC_MESSAGE") { if (typeof ipc.onmessage === "function") ipc.onmessage(m.payload); }
    else if (m.type === "APP_STATE") {
      ipc.state = m.state;
      if (m.state === "stopped") end({ reason: m.exit ? (m.exit.message || (m.exit.kind === "exit" ? "exit " + m.exit.code : m.exit.kind)) : "stopped", exit: m.exit || null });
    } else if (m.type === "ERROR") console.warn("weftIpc: " + m.message);
  };
  ws.onclose = () => end({ reason: "the connection to weft was closed", exit: null });
  Object.defineProperty(window, "weftIpc", { value: ipc, enumerable: true });
})();
`;
