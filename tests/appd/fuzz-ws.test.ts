// 10,000 random and mutated WebSocket messages against the appd transport.
// For each message we predict what the server must do — answer once, answer
// and broadcast (a valid PANEL_GESTURE), answer and close (a wrong AUTH), or
// close (over 1 MiB) — and check it did exactly that, batch by batch: a
// sentinel request after each batch proves every earlier message was handled
// (answers come in order). Then: the server still serves, memory stayed flat.
// Reproduce a failure with WEFT_FUZZ_SEED=<the seed printed>.
import { expect, test } from "bun:test";
import { Api } from "../../src/appd/api.ts";
import { MAX_MESSAGE, serveHttp, tooDeep } from "../../src/appd/http.ts";
import { SessionManager } from "../../src/appd/sessions.ts";
import { parseRequest } from "../../src/ipc/messages.ts";
import { tempDir } from "../helpers.ts";
import { within, wsConnect, type WsClient } from "./ws-client.ts";

const TOTAL = 10_000;
const BATCH = 50;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)], chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

const SEEDS: unknown[] = [
  { type: "LAUNCH_APP", app_id: "org.weft.fuzz.none", surface_id: 0 },
  ["LAUNCH_APP", "org.weft.fuzz.none", 0],
  { type: "TERMINATE_APP", session_id: 1 },
  ["TERMINATE_APP", 3],
  { type: "QUERY_RUNNING" },
  ["QUERY_RUNNING"],
  { type: "QUERY_APP_STATE", session_id: 1 },
  ["QUERY_INSTALLED_APPS"],
  { type: "IPC_FORWARD", session_id: 1, payload: "{}" },
  { type: "PANEL_GESTURE", gesture_type: 0, fingers: 3, dx: 1.5, dy: -2 },
  ["PANEL_GESTURE", 1, 4, 0, 0],
  { type: "QUERY_LOGS", session_id: 1, lines: 10 },
  { type: "AUTH", token: "0".repeat(64) },
];

/** Random text without lone surrogates (so what we parse is what the server parses). */
function text(r: Rng, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) {
    const c = r.chance(0.7) ? 0x20 + r.int(95) : r.chance(0.5) ? r.int(0x20) : r.pick([0xe9, 0x4e2d, 0xfffd, 0x1f600]);
    s += String.fromCodePoint(c);
  }
  return s;
}

function value(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 6 : 8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, 1, -1, 2 ** 32, 2 ** 53 + 2, 1e308, -0.5, 3.25, 4294967295]);
    case 3: return text(r, r.int(20));
    case 4: return r.int(1000);
    case 5: return r.pick(["LAUNCH_APP", "QUERY_RUNNING", "PANEL_GESTURE", "AUTH", "", "__proto__", "constructor"]);
    case 6: return Array.from({ length: r.int(4) }, () => value(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(["type", "app_id", "session_id", "x", "__proto__", "request_id"]), value(r, depth + 1)]));
  }
}

/** A structurally mutated seed: fields replaced, dropped, added; tags changed. */
function mutate(r: Rng, seed: unknown): unknown {
  const m = structuredClone(seed) as Record<string, unknown> | unknown[];
  const keys = Object.keys(m);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const k = r.pick(keys);
    const op = r.int(4);
    if (op === 0) (m as Record<string, unknown>)[k] = value(r);
    else if (op === 1) delete (m as Record<string, unknown>)[k];
    else if (op === 2) (m as Record<string, unknown>)[r.pick(["extra", "request_id", "lines", "0", "9"])] = value(r);
    // op 3: left alone, so some stay valid
  }
  return m;
}

/** Byte-level damage to a valid message's JSON. */
function damage(r: Rng, s: string): string {
  switch (r.int(4)) {
    case 0: return s.slice(0, r.int(s.length)); // truncated
    case 1: { const i = r.int(s.length); return s.slice(0, i) + text(r, 1 + r.int(3)) + s.slice(i + 1); }
    case 2: { const i = r.int(s.length); return s.slice(0, i) + s.slice(i, i + r.int(10)).repeat(2) + s.slice(i); }
    default: return s.replace(/[{}\[\]":,]/, () => r.pick(["", "{", "]", "'", "\\"]));
  }
}

function message(r: Rng): string | Uint8Array {
  const k = r.next();
  if (k < 0.05) return crypto.getRandomValues(new Uint8Array(r.int(r.chance(0.1) ? 60000 : 2000))); // binary
  if (k < 0.1) return text(r, r.int(200)); // random text
  if (k < 0.11) { const n = 1 + (r.chance(0.5) ? r.int(64) : r.int(200_000)); return r.chance(0.5) ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n); } // deep
  if (k < 0.115) return JSON.stringify({ type: "LAUNCH_APP", app_id: "x".repeat(200_000 + r.int(MAX_MESSAGE)), surface_id: 0 }); // huge, maybe over the cap
  if (k < 0.4) return damage(r, JSON.stringify(r.pick(SEEDS)));
  if (k < 0.8) return JSON.stringify(mutate(r, r.pick(SEEDS)));
  return JSON.stringify(r.chance(0.5) ? value(r) : r.pick(SEEDS));
}

type Outcome = "answer" | "answer+broadcast" | "answer+close" | "close";

/** What the server must do with `m`, from the same parsers it uses. */
function predict(m: string | Uint8Array, authed: boolean): Outcome {
  if (typeof m !== "string") return m.length > MAX_MESSAGE ? "close" : "answer";
  if (Buffer.byteLength(m) > MAX_MESSAGE) return "close";
  if (tooDeep(m)) return "answer"; // refused before parsing
  let v: unknown;
  try {
    v = JSON.parse(m);
  } catch {
    return "answer";
  }
  if (Array.isArray(v) ? v[0] === "AUTH" : (v as { type?: unknown } | null)?.type === "AUTH") return "answer+close";
  if (!authed) return "answer";
  try {
    return parseRequest(v).type === "PANEL_GESTURE" ? "answer+broadcast" : "answer";
  } catch {
    return "answer";
  }
}

test("10,000 random and mutated messages: each answered or closed cleanly; the server keeps serving in flat memory", async () => {
  using store = tempDir("weft-fuzz-store-");
  const savedStore = process.env.WEFT_APP_STORE;
  process.env.WEFT_APP_STORE = store.path; // empty: no fuzzed launch can start a guest
  const seed = Number(process.env.WEFT_FUZZ_SEED ?? 20_240_601);
  const r = rng(seed);
  const api = new Api(new SessionManager());
  const http = await serveHttp(api, { port: 0, runtimeDir: null, authTimeoutMs: 600_000 });
  const url = `ws://127.0.0.1:${http.port}/ws`;
  const connect = (authed: boolean) => wsConnect(url, { headers: authed ? { Authorization: `Bearer ${http.token}` } : {} });
  const stats = { sent: 0, answered: 0, closes: {} as Record<number, number>, batches: 0 };
  let client: WsClient | null = null;
  let authed = true;
  let rssBefore = 0;
  try {
    while (stats.sent < TOTAL) {
      if (stats.batches === 20) {
        Bun.gc(true);
        rssBefore = process.memoryUsage.rss(); // after warm-up: pools and JIT have settled
      }
      if (!client) {
        authed = r.chance(0.8);
        client = await connect(authed);
      }
      const c = client;
      const start = c.received.length;
      let expected = 0;
      let ending: Outcome | null = null;
      for (let i = 0; i < BATCH && stats.sent < TOTAL && !ending; i++) {
        const m = message(r);
        const o = predict(m, authed);
        c.send(m);
        stats.sent++;
        if (o === "answer+broadcast") expected += 2;
        else if (o !== "close") expected += 1;
        if (o === "answer+close" || o === "close") ending = o;
      }
      const where = `seed ${seed}, batch ${stats.batches}`;
      if (ending) {
        const closed = await within(c.closed, 10_000, `the close (${where})`);
        const got = c.received.length - start;
        // A wrong AUTH is answered, in order, before the close. Over the cap, Bun closes
        // as it reads the frame, which may drop answers still being written.
        expect([where, closed.code, ending === "close" ? got <= expected : got === expected]).toEqual([where, ending === "close" ? 1009 : 1008, true]);
        stats.closes[closed.code] = (stats.closes[closed.code] ?? 0) + 1;
        client = null;
      } else {
        const id = `sentinel-${stats.batches}`;
        c.send(JSON.stringify({ type: "QUERY_RUNNING", request_id: id }));
        const answer = await within(
          Promise.race([c.take((m) => m?.request_id === id, 10_000, id), c.closed.then((x) => Promise.reject(new Error(`closed ${x.code} ${x.reason} (${where})`)))]),
          10_000,
          id,
        );
        expect(answer).toEqual(authed ? { type: "RUNNING_APPS", sessions: [], request_id: id } : { type: "ERROR", code: 7, message: expect.any(String), request_id: id });
        const got = c.received.length - start - 1;
        expect([where, got]).toEqual([where, expected]);
        // Every answer is a well-formed message; an anonymous client only ever hears "no".
        for (const m of c.received.slice(start)) {
          expect(typeof (m as { type?: unknown }).type).toBe("string");
          if (!authed) expect([where, (m as { code?: number }).code]).toEqual([where, expect.any(Number)]);
        }
      }
      stats.answered += c.received.length - start;
      stats.batches++;
    }
    if (client) await client.close();
    client = null;

    Bun.gc(true);
    const growth = process.memoryUsage.rss() - rssBefore;
    // The server still works, for a new client.
    const after = await connect(true);
    expect(await after.request({ type: "PANEL_GESTURE", gesture_type: 0, fingers: 3, dx: 1, dy: 2 })).toEqual({ type: "NAVIGATION_GESTURE", gesture_type: 0, fingers: 3, dx: 1, dy: 2 });
    await after.close();
    console.log(`fuzz: seed ${seed}, ${stats.sent} sent in ${stats.batches} batches, ${stats.answered} frames back, closes ${JSON.stringify(stats.closes)}, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(64 * 2 ** 20);
  } finally {
    await client?.close();
    await http.close();
    if (savedStore === undefined) delete process.env.WEFT_APP_STORE;
    else process.env.WEFT_APP_STORE = savedStore;
  }
}, 120_000);
