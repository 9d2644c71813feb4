// The appd over HTTP and WebSocket (spec §1, §3): hono routes on Bun.serve.
//
// - `/ws` (and `/` with an Upgrade header): JSON text frames carrying the
//   spec's messages, answered in order by the one dispatcher (api.ts);
//   authenticated clients also get every broadcast.
// - `/api/*`: a REST mirror of the queries, also through api.handle.
// - `/`: the system UI (ui/, docs/ui.md); `/?token=` turns the token into
//   an HttpOnly cookie so the page can open the WebSocket.
// - `s<session>.localhost`: each session's own UI page and its weftIpc
//   bridge (app-ui.ts) — routed there before anything else, so an app origin
//   never reaches the system API.
// Who may connect is auth.ts's business; docs/api.md is the client's view.
import type { Server, ServerWebSocket } from "bun";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { join } from "node:path";
import { ErrorCode, type Response as ApiResponse } from "../ipc/messages.ts";
import { assetDir } from "../system/assets.ts";
import { log } from "../system/log.ts";
import type { Api } from "./api.ts";
import { AppUi, appHostSession, safeAssetPath, type AppConn } from "./app-ui.ts";
import { COOKIE, PORT_FILE, TOKEN_FILE, bearerToken, hostAllowed, newToken, ownOrigins, removeIfOurs, tokenMatches, writeFileAtomic } from "./auth.ts";

export const DEFAULT_PORT = 7410;
/** Same cap as the Unix socket's frames; Bun closes larger messages with 1009. */
export const MAX_MESSAGE = 1 << 20;
/** Requests a client may have waiting for an answer; past it we close (it is not reading, or flooding). */
const MAX_QUEUED = 1024;
/** Bytes we buffer for a client that does not read; past it we close rather than grow. */
const MAX_BACKLOG = 4 << 20;
/**
 * The spec's messages nest 2 levels deep. Deeper JSON is refused unparsed:
 * JSC spends seconds on a 100k-deep value (parsing it, or any later
 * JSON.stringify of it overflowing the stack), all of it on the loop.
 */
export const MAX_DEPTH = 32;
/** Broadcasts go to this Bun pub/sub topic; only authenticated sockets subscribe. */
const TOPIC = "system";

export interface HttpServer {
  port: number;
  token: string;
  /** The base URL (no token); a browser opens `${url}?token=${token}` once to get the cookie. */
  url: string;
  close(): Promise<void>;
}

export interface HttpOptions {
  host?: string;
  /** 0 = any free port (tests). Default: WEFT_APPD_WS_PORT, else 7410. */
  port?: number;
  /** Where appd.token and appd.wsport go; null = keep them in memory only. */
  runtimeDir: string | null;
  /** How long a client without a token may take to send AUTH (default 5 s). */
  authTimeoutMs?: number;
}

interface Conn {
  kind: "system";
  authed: boolean;
  /** Answers go out in request order: the spec's messages carry no request ids. */
  chain: Promise<void>;
  queued: number;
  closed: boolean;
  authTimer: ReturnType<typeof setTimeout> | null;
}
type WS = ServerWebSocket<Conn>;
type AnyConn = Conn | AppConn;
type Env = { Bindings: { server: Server<AnyConn> } };

const errorOf = (code: number, message: string): ApiResponse => ({ type: "ERROR", code, message });

/** REST status for an API answer; docs/api.md has the table. */
export function statusOf(r: ApiResponse): 200 | 400 | 401 | 404 | 413 | 422 | 500 | 501 {
  if (r.type === "APP_STATE" && r.state === "not_found") return 404;
  if (r.type !== "ERROR") return 200;
  switch (r.code) {
    case ErrorCode.badRequest: return 400;
    case ErrorCode.notFound: return 404;
    case ErrorCode.launchFailed: return 422;
    case ErrorCode.frameTooLarge: return 413;
    case ErrorCode.unsupported: return 501;
    case ErrorCode.unauthorized: return 401;
    default: return 500;
  }
}

function portFromEnv(): number | undefined {
  const v = process.env.WEFT_APPD_WS_PORT;
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new Error(`WEFT_APPD_WS_PORT=${JSON.stringify(v)} is not a port number (0-65535)`);
  return Number(v);
}

/** True if `text`, read as JSON, opens more than `max` arrays/objects at once. A scan, ~2.5 ms per MiB. */
export function tooDeep(text: string, max = MAX_DEPTH): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** JSON.parse behind the depth guard; throws on either. */
function parseJson(text: string): unknown {
  if (tooDeep(text)) throw new Error(`JSON nested deeper than ${MAX_DEPTH} levels`);
  return JSON.parse(text);
}

/** A request id the client may put on a map-form request; echoed on its answer only. */
function requestIdOf(msg: unknown): string | number | undefined {
  if (!msg || typeof msg !== "object" || Array.isArray(msg)) return undefined;
  const id = (msg as Record<string, unknown>).request_id;
  if (typeof id === "string" && id.length <= 128) return id;
  if (typeof id === "number" && Number.isSafeInteger(id)) return id;
  return undefined;
}

export async function serveHttp(api: Api, opts: HttpOptions): Promise<HttpServer> {
  const host = opts.host ?? "127.0.0.1";
  const token = newToken();
  const authTimeoutMs = opts.authTimeoutMs ?? 5000;
  let origins = new Set<string>(); // known once we know our port
  let port = 0;
  // Only the system UI may frame an app page (IPv6 literals cannot be written in CSP sources).
  const appUi = new AppUi(api.sessions, () => [...origins].filter((o) => !o.includes("[")));
  const app = new Hono<Env>();

  // Every request: a rebinding Host or a foreign browser Origin is refused
  // before anything else runs. No Origin means a non-browser client: fine, it
  // still needs the token.
  app.use("*", async (c, next) => {
    if (!hostAllowed(c.req.header("host"))) return c.json(errorOf(ErrorCode.unauthorized, "Host must be localhost or an IP address"), 403);
    const origin = c.req.header("origin");
    if (origin !== undefined && !origins.has(origin)) {
      log.warn(`appd http: refused ${c.req.method} ${c.req.path} from origin ${origin.slice(0, 100)}`);
      return c.json(errorOf(ErrorCode.unauthorized, "cross-origin requests are refused"), 403);
    }
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    await next();
  });

  /** The token this request carries (header first, then query, then cookie), or undefined. */
  const givenToken = (c: Context<Env>, allowQuery: boolean) =>
    bearerToken(c.req.header("authorization")) ?? (allowQuery ? c.req.query("token") : undefined) ?? getCookie(c, COOKIE);

  // A WebSocket upgrade. A token on the upgrade authenticates at once; a wrong
  // one is refused (401); none leaves the socket waiting for an AUTH message.
  const upgrade = (c: Context<Env>) => {
    const given = givenToken(c, true);
    if (given !== undefined && !tokenMatches(token, given)) return c.json(errorOf(ErrorCode.unauthorized, "wrong token"), 401);
    const data: Conn = { kind: "system", authed: given !== undefined, chain: Promise.resolve(), queued: 0, closed: false, authTimer: null };
    if (c.env.server.upgrade(c.req.raw, { data })) return new Response(null); // Bun ignores it; hono wants a value
    return c.json(errorOf(ErrorCode.badRequest, "expected a WebSocket upgrade"), 400);
  };
  const isUpgrade = (c: Context) => c.req.header("upgrade")?.toLowerCase() === "websocket";

  app.get("/ws", (c) => (isUpgrade(c) ? upgrade(c) : c.json(errorOf(ErrorCode.badRequest, "this is a WebSocket endpoint"), 426)));

  // The system UI (ui/). Without the cookie: a sign-in page and nothing else.
  const uiDir = (() => {
    try {
      return assetDir("ui");
    } catch (e) {
      log.warn(`appd http: no system UI: ${(e as Error).message}`);
      return null;
    }
  })();
  const systemCsp = (c: Context<Env>) =>
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws://${c.req.header("host") ?? ""}; ` +
    `frame-src http://*.localhost:${port}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
  app.get("/", async (c) => {
    if (isUpgrade(c)) return upgrade(c);
    c.header("Cache-Control", "no-store");
    const q = c.req.query("token");
    if (q !== undefined) {
      if (!tokenMatches(token, q)) return c.html(page("That token is not (or no longer) valid: weft makes a new one at each start."), 401);
      // Strict: the browser never sends it on a request another site started.
      setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("/", 303); // drop the token from the address bar and history
    }
    c.header("Content-Security-Policy", systemCsp(c));
    if (!tokenMatches(token, getCookie(c, COOKIE))) return c.html(page("Not signed in. Open the address weft logged, with ?token= and the token from $XDG_RUNTIME_DIR/weft/appd.token."), 401);
    if (!uiDir) return c.html(page("This weft has no system UI."), 500);
    return c.body(await Bun.file(join(uiDir, "index.html")).text(), 200, { "Content-Type": "text/html; charset=utf-8" });
  });
  app.get("/ui/*", (c) => {
    if (!tokenMatches(token, getCookie(c, COOKIE))) return c.json(errorOf(ErrorCode.unauthorized, "sign in first"), 401);
    const path = uiDir && safeAssetPath(uiDir, c.req.path.slice("/ui".length));
    if (!path) return c.json(errorOf(ErrorCode.notFound, `no file ${c.req.path}`), 404);
    const file = Bun.file(path);
    c.header("Cache-Control", "no-cache");
    return c.body(file.stream(), 200, { "Content-Type": file.type || "application/octet-stream" });
  });

  // REST: Bearer or cookie (never ?token=: URLs end up in logs and history).
  app.use("/api/*", async (c, next) => {
    if (!tokenMatches(token, givenToken(c, false))) {
      c.header("WWW-Authenticate", "Bearer");
      return c.json(errorOf(ErrorCode.unauthorized, "missing or wrong token"), 401);
    }
    await next();
  });
  const rest = async (c: Context<Env>, req: unknown) => {
    const r = await api.handle(req);
    return c.json(r, statusOf(r));
  };
  // Path ids are passed as numbers when they look like one; anything else reaches api.handle as is and is refused there.
  const sid = (s: string) => (/^\d{1,10}$/.test(s) ? Number(s) : s);
  app.get("/api/running", (c) => rest(c, { type: "QUERY_RUNNING" }));
  app.get("/api/installed", (c) => rest(c, { type: "QUERY_INSTALLED_APPS" }));
  app.get("/api/sessions/:id", (c) => rest(c, { type: "QUERY_APP_STATE", session_id: sid(c.req.param("id")) }));
  app.get("/api/sessions/:id/logs", (c) => {
    const lines = c.req.query("lines");
    return rest(c, { type: "QUERY_LOGS", session_id: sid(c.req.param("id")), ...(lines !== undefined ? { lines: sid(lines) } : {}) });
  });
  app.get("/api/sessions/:id/ui", (c) => c.json(...appUiAnswer(sid(c.req.param("id")))));
  app.post("/api/sessions/:id/terminate", (c) => rest(c, { type: "TERMINATE_APP", session_id: sid(c.req.param("id")) }));
  app.post("/api/launch", async (c) => {
    let body: { app_id?: unknown; surface_id?: unknown } | undefined;
    try {
      body = parseJson(await c.req.text()) as typeof body;
    } catch {}
    if (!body || typeof body !== "object" || Array.isArray(body)) return c.json(errorOf(ErrorCode.badRequest, 'expected a JSON object {"app_id": "…"}'), 400);
    const r = await api.handle({ type: "LAUNCH_APP", app_id: body.app_id, surface_id: body.surface_id ?? 0 });
    if (r.type === "LAUNCH_ACK") c.header("Location", `/api/sessions/${r.session_id}`);
    return c.json(r, r.type === "LAUNCH_ACK" ? 201 : statusOf(r));
  });

  app.notFound((c) => c.json(errorOf(ErrorCode.notFound, `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((e, c) => {
    log.error(`appd http: ${c.req.method} ${c.req.path}: ${e.stack ?? e}`);
    return c.json(errorOf(ErrorCode.internal, "internal error"), 500);
  });

  // --- WebSocket connections ------------------------------------------------

  /** QUERY_APP_UI (this transport only): the one-time address that opens a session's UI. */
  const appUiAnswer = (id: unknown): [ApiResponse | AppUiResponse, 200 | 400 | 404] => {
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) return [errorOf(ErrorCode.badRequest, "QUERY_APP_UI.session_id must be an unsigned integer"), 400];
    const url = appUi.openUrl(id, port);
    return url ? [{ type: "APP_UI", session_id: id, url }, 200] : [errorOf(ErrorCode.notFound, `no session ${id}`), 404];
  };

  const send = (ws: WS, r: ApiResponse | AppUiResponse | { type: "AUTH_OK" }, id?: string | number) => {
    if (!ws.data.closed) ws.send(JSON.stringify(id === undefined ? r : { ...r, request_id: id }));
  };

  const authenticate = (ws: WS) => {
    ws.data.authed = true;
    if (ws.data.authTimer) clearTimeout(ws.data.authTimer);
    ws.data.authTimer = null;
    ws.subscribe(TOPIC);
  };

  /** One message, decided in order. Never throws: api.handle does not, and the rest is ours. */
  async function answer(ws: WS, text: string | Buffer): Promise<void> {
    if (typeof text !== "string") return send(ws, errorOf(ErrorCode.badRequest, "binary frames are not accepted; send JSON text frames"));
    let msg: unknown;
    try {
      msg = parseJson(text);
    } catch (e) {
      return send(ws, errorOf(ErrorCode.badRequest, e instanceof SyntaxError ? "invalid JSON" : (e as Error).message));
    }
    const id = requestIdOf(msg);
    const auth = authMessage(msg);
    if (auth !== null) {
      if (tokenMatches(token, auth)) {
        authenticate(ws);
        return send(ws, { type: "AUTH_OK" }, id);
      }
      send(ws, errorOf(ErrorCode.unauthorized, "wrong token"), id);
      ws.close(1008, "wrong token");
      return;
    }
    if (!ws.data.authed) return send(ws, errorOf(ErrorCode.unauthorized, 'authenticate first: {"type":"AUTH","token":"…"}'), id);
    const uiOf = appUiRequest(msg);
    if (uiOf !== undefined) return send(ws, appUiAnswer(uiOf)[0], id);
    send(ws, await api.handle(msg), id);
  }

  let server: Server<AnyConn>;
  try {
    server = Bun.serve<AnyConn>({
      hostname: host,
      port: opts.port ?? portFromEnv() ?? DEFAULT_PORT,
      maxRequestBodySize: MAX_MESSAGE,
      // An app origin gets its own page and bridge, and nothing else.
      fetch: (req, srv) => {
        const sessionId = appHostSession(req.headers.get("host"));
        return sessionId !== null ? appUi.fetch(req, sessionId, port) : app.fetch(req, { server: srv });
      },
      websocket: {
        maxPayloadLength: MAX_MESSAGE,
        backpressureLimit: MAX_BACKLOG,
        closeOnBackpressureLimit: true,
        open(ws) {
          if (ws.data.kind === "app") return appUi.open(ws as ServerWebSocket<AppConn>);
          if (ws.data.authed) ws.subscribe(TOPIC);
          else ws.data.authTimer = setTimeout(() => ws.close(1008, "authentication timeout"), authTimeoutMs);
        },
        message(ws, text) {
          if (ws.data.kind === "app") return appUi.message(ws as ServerWebSocket<AppConn>, text);
          const c = ws.data;
          if (++c.queued > MAX_QUEUED) {
            c.closed = true;
            ws.close(1008, "too many requests waiting for an answer");
            return;
          }
          c.chain = c.chain
            .then(() => (c.closed ? undefined : answer(ws as WS, text)))
            .catch((e) => log.error(`appd ws: ${(e as Error).stack ?? e}`))
            .finally(() => c.queued--);
        },
        close(ws) {
          if (ws.data.kind === "app") return;
          ws.data.closed = true;
          if (ws.data.authTimer) clearTimeout(ws.data.authTimer);
        },
      },
    });
  } catch (e) {
    throw new Error(`appd http: cannot listen on ${host}:${opts.port ?? portFromEnv() ?? DEFAULT_PORT} (set WEFT_APPD_WS_PORT to choose another port): ${(e as Error).message}`);
  }
  port = server.port!;
  origins = ownOrigins(host, port);
  appUi.attach(server as Server<unknown>);
  const unsubscribe = api.subscribe((msg) => server.publish(TOPIC, JSON.stringify(msg)));

  const files: [string, string][] = [];
  if (opts.runtimeDir) {
    files.push([writeFileAtomic(opts.runtimeDir, TOKEN_FILE, token), token]);
    files.push([writeFileAtomic(opts.runtimeDir, PORT_FILE, String(port), 0o644), String(port)]);
  }
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}/`;
  log.info(`appd http listening on ${url}`);

  return {
    port,
    token,
    url,
    async close() {
      unsubscribe();
      appUi.close();
      await server.stop(true);
      for (const [path, text] of files) removeIfOurs(path, text);
    },
  };
}

/** The token of an AUTH message (`{"type":"AUTH","token":…}` or `["AUTH", token]`), else null. */
function authMessage(msg: unknown): string | null {
  if (Array.isArray(msg)) return msg[0] === "AUTH" ? String(msg[1] ?? "") : null;
  if (msg && typeof msg === "object" && (msg as Record<string, unknown>).type === "AUTH") {
    const t = (msg as Record<string, unknown>).token;
    return typeof t === "string" ? t : "";
  }
  return null;
}

const page = (text: string) => `<!doctype html>
<meta charset="utf-8"><title>weft</title>
<h1>weft</h1>
<p id="status">${text}</p>
`;

/** The answer to QUERY_APP_UI {session_id}: open `url` (once, within 60 s) to show that session's UI. */
export interface AppUiResponse {
  type: "APP_UI";
  session_id: number;
  url: string;
}

/** The session id of a QUERY_APP_UI request (map or array form), else undefined. */
function appUiRequest(msg: unknown): unknown {
  if (Array.isArray(msg)) return msg[0] === "QUERY_APP_UI" ? (msg[1] ?? null) : undefined;
  if (msg && typeof msg === "object" && (msg as Record<string, unknown>).type === "QUERY_APP_UI") return (msg as Record<string, unknown>).session_id ?? null;
  return undefined;
}
