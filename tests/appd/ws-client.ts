// A test client of the appd WebSocket, and the adapter that runs the shared
// API contract over it.
import type { Api } from "../../src/appd/api.ts";
import type { Daemon } from "../../src/appd/daemon.ts";
import { serveHttp, type HttpServer } from "../../src/appd/http.ts";
import type { Response } from "../../src/ipc/messages.ts";
import type { ApiClient } from "./contract.ts";

/** Rejects with `what` unless `p` settles within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface Closed {
  code: number;
  reason: string;
}

export interface WsClient {
  ws: WebSocket;
  /** Every message received so far, parsed (or the raw text if it was not JSON). */
  received: unknown[];
  /** The first message not yet taken that matches `pred`, now or when it arrives. */
  take(pred: (m: any) => boolean, ms?: number, what?: string): Promise<any>;
  /** Sends a request and resolves with its answer (answers come in request order; broadcasts are skipped). */
  request(msg: unknown): Promise<Response>;
  send(data: string | Uint8Array): void;
  closed: Promise<Closed>;
  close(): Promise<void>;
}

export interface WsOptions {
  headers?: Record<string, string>;
  /**
   * The API the server broadcasts from. An answer can equal a broadcast
   * (LAUNCH_ACK is both); knowing each broadcast's text lets request() skip
   * exactly that many copies of it — identical frames are interchangeable.
   */
  api?: Api;
}

/** Opens a WebSocket; rejects if the server refuses the upgrade. */
export async function wsConnect(url: string, opts: WsOptions = {}): Promise<WsClient> {
  // Bun's WebSocket takes headers (Authorization, Origin), which browsers' does not.
  const ws = new WebSocket(url, { headers: opts.headers } as unknown as string[]);
  const received: unknown[] = [];
  const taken = new Set<number>();
  const takers: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  const answers: ((r: Response) => void)[] = [];
  const broadcasts = new Map<string, number>();
  let off: (() => void) | undefined;
  let closedResolve!: (c: Closed) => void;
  const closed = new Promise<Closed>((r) => (closedResolve = r));

  ws.onmessage = (e) => {
    const text = String(e.data);
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      m = text;
    }
    const i = received.push(m) - 1;
    const t = takers.findIndex((w) => w.pred(m));
    if (t >= 0) {
      taken.add(i);
      takers.splice(t, 1)[0].resolve(m);
    }
    const n = broadcasts.get(text);
    if (n) broadcasts.set(text, n - 1);
    else answers.shift()?.(m as Response);
  };
  ws.onclose = (e) => {
    off?.();
    closedResolve({ code: e.code, reason: e.reason });
  };
  await within(
    new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`WebSocket ${url} refused`));
    }),
    5000,
    `WebSocket ${url} to open`,
  );
  // Only now: the server subscribes a socket to broadcasts when it opens, so counting starts at the same point.
  off = opts.api?.subscribe((m) => {
    const k = JSON.stringify(m);
    broadcasts.set(k, (broadcasts.get(k) ?? 0) + 1);
  });

  return {
    ws,
    received,
    take(pred, ms = 5000, what = "a message") {
      const i = received.findIndex((m, j) => !taken.has(j) && pred(m));
      if (i >= 0) {
        taken.add(i);
        return Promise.resolve(received[i]);
      }
      return within(new Promise((resolve) => takers.push({ pred, resolve })), ms, what);
    },
    request(msg) {
      const p = new Promise<Response>((resolve) => answers.push(resolve));
      ws.send(JSON.stringify(msg));
      return within(Promise.race([p, closed.then((c) => Promise.reject(new Error(`socket closed (${c.code} ${c.reason}) before the answer`)))]), 10_000, `the answer to ${JSON.stringify(msg).slice(0, 80)}`);
    },
    send: (data) => ws.send(data),
    closed,
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close();
      await within(closed, 5000, "the socket to close");
    },
  };
}

/**
 * Sends an upgrade request by hand and returns the HTTP status the server
 * answers (101 accepted; 401, 403 refused). A browser-like WebSocket only
 * tells us "failed", not why.
 */
export async function upgradeStatus(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${headers.Host ?? `127.0.0.1:${port}`}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).filter(([k]) => k !== "Host").map(([k, v]) => `${k}: ${v}`),
  ];
  let got = "";
  let done!: (s: number) => void;
  const status = new Promise<number>((r) => (done = r));
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(s, chunk) {
        got += chunk.toString();
        const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
        if (m) done(Number(m[1]));
      },
      close() {
        done(0);
      },
    },
  });
  sock.write(lines.join("\r\n") + "\r\n\r\n");
  try {
    return await within(status, 5000, "the upgrade answer");
  } finally {
    sock.end();
  }
}

/** The contract adapter: a token-authenticated WebSocket on the daemon's API. */
export async function wsContractClient(d: Daemon): Promise<ApiClient> {
  // Once the daemon serves HTTP itself, use that server; until then, one of our own on its API.
  const own = (d as Daemon & { http?: HttpServer }).http;
  const http = own ?? (await serveHttp(d.api, { port: 0, runtimeDir: null }));
  const c = await wsConnect(`ws://127.0.0.1:${http.port}/ws`, { headers: { Authorization: `Bearer ${http.token}` }, api: d.api });
  return {
    request: (msg) => c.request(msg),
    async close() {
      await c.close();
      if (!own) await http.close();
    },
  };
}
