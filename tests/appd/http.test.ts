// The appd HTTP + WebSocket transport: the shared API contract over a
// WebSocket, then what only this transport has: tokens, Origin and Host
// checks, broadcasts, the page's cookie, the REST mirror, message limits.
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Api } from "../../src/appd/api.ts";
import { serveHttp, type HttpOptions } from "../../src/appd/http.ts";
import { SessionManager } from "../../src/appd/sessions.ts";
import { tempDir } from "../helpers.ts";
import { apiContract } from "./contract.ts";
import { testDaemon } from "./fixtures.ts";
import { upgradeStatus, within, wsConnect, wsContractClient } from "./ws-client.ts";

apiContract("websocket", wsContractClient);

/** A server on a real Api with no sessions (enough for everything but launches), in a temp runtime dir. */
async function server(opts: Partial<HttpOptions> = {}) {
  const dir = tempDir("weft-http-");
  const api = new Api(new SessionManager());
  const http = await serveHttp(api, { port: 0, runtimeDir: dir.path, ...opts });
  const ws = `ws://127.0.0.1:${http.port}`;
  return {
    api,
    http,
    dir: dir.path,
    ws,
    base: `http://127.0.0.1:${http.port}`,
    bearer: { Authorization: `Bearer ${http.token}` },
    async [Symbol.asyncDispose]() {
      await http.close();
      dir[Symbol.dispose]();
    },
  };
}

const unauthorized = { type: "ERROR" as const, code: 7, message: expect.any(String) as string };

describe("appd http: files and port", () => {
  test("appd.token (0600, 64 hex chars, new at each start) and appd.wsport; both removed on close", async () => {
    let first: string;
    {
      await using s = await server();
      const tokenFile = join(s.dir, "appd.token");
      expect(readFileSync(tokenFile, "utf8")).toMatch(/^[0-9a-f]{64}$/);
      expect(readFileSync(tokenFile, "utf8")).toBe(s.http.token);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(s.dir, "appd.wsport"), "utf8")).toBe(String(s.http.port));
      expect(s.http.url).toBe(`http://127.0.0.1:${s.http.port}/`);
      first = s.http.token;
      await s.http.close();
      expect([existsSync(tokenFile), existsSync(join(s.dir, "appd.wsport"))]).toEqual([false, false]);
    }
    await using again = await server();
    expect(again.http.token).not.toBe(first);
  });

  test("WEFT_APPD_WS_PORT chooses the port when the caller does not; a bad value is a clear error", async () => {
    const saved = process.env.WEFT_APPD_WS_PORT;
    try {
      process.env.WEFT_APPD_WS_PORT = "0";
      await using s = await server({ port: undefined });
      expect(s.http.port).toBeGreaterThan(0);
      process.env.WEFT_APPD_WS_PORT = "http";
      expect(server({ port: undefined })).rejects.toThrow('WEFT_APPD_WS_PORT="http" is not a port number');
    } finally {
      if (saved === undefined) delete process.env.WEFT_APPD_WS_PORT;
      else process.env.WEFT_APPD_WS_PORT = saved;
    }
  });

  test("a port in use is a clear error naming the override", async () => {
    await using s = await server();
    expect(serveHttp(s.api, { port: s.http.port, runtimeDir: null })).rejects.toThrow("set WEFT_APPD_WS_PORT");
  });
});

describe("appd http: WebSocket authentication", () => {
  test("no token: every request is refused, and no broadcast arrives", async () => {
    await using s = await server();
    const anon = await wsConnect(`${s.ws}/ws`);
    const authed = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    try {
      s.api.broadcast({ type: "APP_READY", session_id: 1, app_id: "org.x.y" });
      await authed.take((m) => m.type === "APP_READY", 5000, "the broadcast");
      expect(await anon.request({ type: "QUERY_RUNNING" })).toEqual(unauthorized);
      expect(await anon.request(["PANEL_GESTURE", 0, 3, 1, 1])).toEqual(unauthorized);
      // The broadcast went out before these requests: had it reached `anon`, it would come first.
      expect(anon.received).toEqual([unauthorized, unauthorized]);
    } finally {
      await anon.close();
      await authed.close();
    }
  });

  test("a wrong token is refused at the upgrade (401), whichever way it comes", async () => {
    await using s = await server();
    const wrong = "0".repeat(64);
    expect(await upgradeStatus(s.http.port, "/ws", { Authorization: `Bearer ${wrong}` })).toBe(401);
    expect(await upgradeStatus(s.http.port, `/ws?token=${wrong}`)).toBe(401);
    expect(await upgradeStatus(s.http.port, "/ws", { Cookie: `weft_token=${wrong}` })).toBe(401);
    expect(await upgradeStatus(s.http.port, "/ws", { Authorization: `Bearer ${s.http.token.slice(0, 63)}` })).toBe(401);
    expect(await upgradeStatus(s.http.port, "/ws", { Authorization: `Bearer ${s.http.token}` })).toBe(101);
  });

  test("the right token works via Bearer, ?token=, cookie, on /ws and on /", async () => {
    await using s = await server();
    const ways = [
      [`${s.ws}/ws`, s.bearer],
      [`${s.ws}/ws?token=${s.http.token}`, {}],
      [`${s.ws}/ws`, { Cookie: `weft_token=${s.http.token}` }],
      [`${s.ws}/`, s.bearer],
    ] as const;
    for (const [url, headers] of ways) {
      const c = await wsConnect(url, { headers });
      try {
        expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [] });
      } finally {
        await c.close();
      }
    }
  });

  test("an AUTH message authenticates; a wrong one is answered and closed (1008)", async () => {
    await using s = await server();
    const c = await wsConnect(`${s.ws}/ws`);
    try {
      expect(await c.request({ type: "QUERY_RUNNING" })).toEqual(unauthorized);
      expect((await c.request({ type: "AUTH", token: s.http.token, request_id: 1 })) as unknown).toEqual({ type: "AUTH_OK", request_id: 1 });
      expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [] });
      s.api.broadcast({ type: "APP_READY", session_id: 1, app_id: "org.x.y" });
      expect(await c.take((m) => m.type === "APP_READY")).toEqual({ type: "APP_READY", session_id: 1, app_id: "org.x.y" });
    } finally {
      await c.close();
    }
    const bad = await wsConnect(`${s.ws}/ws`);
    expect(await bad.request({ type: "AUTH", token: "nope" })).toEqual(unauthorized);
    expect(await bad.closed).toEqual({ code: 1008, reason: "wrong token" });
  });

  test("a client that does not authenticate in time is closed (1008)", async () => {
    await using s = await server({ authTimeoutMs: 50 });
    const c = await wsConnect(`${s.ws}/ws`);
    expect(await within(c.closed, 5000, "the close")).toEqual({ code: 1008, reason: "authentication timeout" });
    // An authenticated one is not.
    const ok = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    const late = await wsConnect(`${s.ws}/ws`);
    await late.closed;
    expect(await ok.request(["QUERY_RUNNING"])).toEqual({ type: "RUNNING_APPS", sessions: [] });
    await ok.close();
  });
});

describe("appd http: Origin and Host", () => {
  test("a foreign browser Origin is refused at the upgrade (403), even with the token", async () => {
    await using s = await server();
    const p = s.http.port;
    const withToken = { Authorization: `Bearer ${s.http.token}` };
    for (const origin of ["http://evil.example", `http://evil.example:${p}`, "null", `http://127.0.0.1:${p + 1}`, `https://127.0.0.1:${p}`])
      expect([origin, await upgradeStatus(p, "/ws", { ...withToken, Origin: origin })]).toEqual([origin, 403]);
    for (const origin of [`http://127.0.0.1:${p}`, `http://localhost:${p}`])
      expect([origin, await upgradeStatus(p, "/ws", { ...withToken, Origin: origin })]).toEqual([origin, 101]);
  });

  test("own origin through Bun's client too; DNS-rebinding Host names are refused", async () => {
    await using s = await server();
    const c = await wsConnect(`${s.ws}/ws`, { headers: { ...s.bearer, Origin: `http://localhost:${s.http.port}` } });
    expect(await c.request(["QUERY_RUNNING"])).toEqual({ type: "RUNNING_APPS", sessions: [] });
    await c.close();
    expect(wsConnect(`${s.ws}/ws`, { headers: { ...s.bearer, Origin: "http://evil.example" } })).rejects.toThrow("refused");
    expect(await upgradeStatus(s.http.port, "/ws", { ...s.bearer, Host: `rebind.evil.example:${s.http.port}` })).toBe(403);
    expect(await upgradeStatus(s.http.port, "/ws", { ...s.bearer, Host: `localhost:${s.http.port}` })).toBe(101);
    const rest = await fetch(`${s.base}/api/running`, { headers: { ...s.bearer, Origin: "http://evil.example" } });
    expect(rest.status).toBe(403);
  });
});

describe("appd http: messages", () => {
  test("invalid or too deep JSON, binary frames, non-requests: ERROR bad request, and the socket stays usable", async () => {
    await using s = await server();
    const c = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    try {
      const bad = { type: "ERROR", code: 1, message: expect.any(String) };
      c.send("{not json");
      c.send(new Uint8Array([0x7b, 0x7d]));
      c.send("42");
      c.send("null");
      c.send('{"type":"LAUNCH_APP"}');
      c.send("[".repeat(100_000) + "]".repeat(100_000)); // JSC would spend seconds of the loop on this; refused unparsed
      c.send(JSON.stringify({ type: "QUERY_RUNNING", request_id: "after" }));
      await c.take((m) => m.request_id === "after");
      expect(c.received).toEqual([
        { type: "ERROR", code: 1, message: "invalid JSON" },
        { type: "ERROR", code: 1, message: "binary frames are not accepted; send JSON text frames" },
        bad,
        bad,
        { type: "ERROR", code: 1, message: "LAUNCH_APP.app_id must be a string" },
        { type: "ERROR", code: 1, message: "JSON nested deeper than 32 levels" },
        { type: "RUNNING_APPS", sessions: [], request_id: "after" },
      ]);
    } finally {
      await c.close();
    }
  });

  test("answers come in request order, each with its request_id", async () => {
    await using s = await server();
    const c = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    try {
      for (let i = 0; i < 50; i++) c.send(JSON.stringify({ type: "QUERY_APP_STATE", session_id: i, request_id: `r${i}` }));
      await c.take((m) => m.request_id === "r49");
      expect(c.received).toEqual(Array.from({ length: 50 }, (_, i) => ({ type: "APP_STATE", session_id: i, state: "not_found", request_id: `r${i}` })));
    } finally {
      await c.close();
    }
  });

  test("a message over 1 MiB closes the socket (1009); the server keeps serving", async () => {
    await using s = await server();
    const c = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    c.send(JSON.stringify({ type: "LAUNCH_APP", app_id: "x".repeat(1 << 20), surface_id: 0 }));
    expect((await c.closed).code).toBe(1009);
    const c2 = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    // Just under the cap is read and answered.
    expect(await c2.request({ type: "LAUNCH_APP", app_id: "x".repeat((1 << 20) - 100), surface_id: 0 })).toMatchObject({ type: "ERROR", code: 3 });
    await c2.close();
  });

  test("closing the server closes its clients", async () => {
    const s = await server();
    const c = await wsConnect(`${s.ws}/ws`, { headers: s.bearer });
    await s[Symbol.asyncDispose]();
    expect(await c.closed).toEqual({ code: 1001, reason: "Server closed" });
  });
});

describe("appd http: the page and its cookie", () => {
  test("/?token= sets an HttpOnly SameSite=Strict cookie and redirects to /; a wrong token is 401", async () => {
    await using s = await server();
    const r = await fetch(`${s.base}/?token=${s.http.token}`, { redirect: "manual" });
    expect([r.status, r.headers.get("location"), r.headers.get("set-cookie")]).toEqual([303, "/", `weft_token=${s.http.token}; Path=/; HttpOnly; SameSite=Strict`]);
    const wrong = await fetch(`${s.base}/?token=abc`, { redirect: "manual" });
    expect([wrong.status, wrong.headers.get("set-cookie")]).toEqual([401, null]);
    const anon = await fetch(`${s.base}/`);
    expect([anon.status, (await anon.text()).includes("Not signed in")]).toEqual([401, true]);
    expect((await fetch(`${s.base}/ui/shell.js`)).status).toBe(401);
    const page = await fetch(`${s.base}/`, { headers: { Cookie: `weft_token=${s.http.token}` } });
    const html = await page.text();
    expect([page.status, html.includes('src="/ui/shell.js"'), html.includes(s.http.token), page.headers.get("content-security-policy")?.includes("frame-ancestors 'none'")]).toEqual([200, true, false, true]);
    expect((await fetch(`${s.base}/ui/shell.js`, { headers: { Cookie: `weft_token=${s.http.token}` } })).headers.get("content-type")).toStartWith("text/javascript");
  });
});

describe("appd http: against a real daemon", () => {
  test("launch over WebSocket: LAUNCH_ACK, then the APP_READY broadcast; terminate; query — the anonymous client sees none of it", async () => {
    await using d = await testDaemon();
    await using run = tempDir("weft-http-run-");
    const http = await serveHttp(d.api, { port: 0, runtimeDir: run.path });
    const c = await wsConnect(`ws://127.0.0.1:${http.port}/ws`, { headers: { Authorization: `Bearer ${http.token}` }, api: d.api });
    const watcher = await wsConnect(`ws://127.0.0.1:${http.port}/ws?token=${http.token}`);
    const anon = await wsConnect(`ws://127.0.0.1:${http.port}/ws`);
    try {
      const hello = "org.weft.example.hello";
      expect(await c.request({ type: "LAUNCH_APP", app_id: hello, surface_id: 0 })).toEqual({ type: "LAUNCH_ACK", session_id: 1, app_id: hello });
      // Another system client sees the launch and the readiness as broadcasts.
      expect(await watcher.take((m) => m.type === "LAUNCH_ACK")).toEqual({ type: "LAUNCH_ACK", session_id: 1, app_id: hello });
      expect(await watcher.take((m) => m.type === "APP_READY", 10_000, "APP_READY")).toEqual({ type: "APP_READY", session_id: 1, app_id: hello });
      expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [{ session_id: 1, app_id: hello }] });
      expect(await c.request({ type: "TERMINATE_APP", session_id: 1 })).toMatchObject({ type: "APP_STATE", session_id: 1, state: "stopped" });
      await watcher.take((m) => m.type === "APP_STATE" && m.state === "stopped", 5000, "the stopped broadcast");
      expect(await c.request({ type: "QUERY_APP_STATE", session_id: 1 })).toMatchObject({ type: "APP_STATE", session_id: 1, state: "stopped", app_id: hello });
      const logs = await c.request({ type: "QUERY_LOGS", session_id: 1 });
      expect(logs).toMatchObject({ type: "LOGS", session_id: 1, lines: expect.arrayContaining([{ stream: "stdout", text: "READY" }]) });
      expect(await anon.request(["QUERY_RUNNING"])).toEqual(unauthorized);
      expect(anon.received).toEqual([unauthorized]);
    } finally {
      await Promise.all([c.close(), watcher.close(), anon.close()]);
      await http.close();
    }
  }, 20_000);

  test("REST mirror: token (Bearer or cookie) required; launch, state, logs, terminate; statuses", async () => {
    await using d = await testDaemon();
    const http = await serveHttp(d.api, { port: 0, runtimeDir: null });
    const base = `http://127.0.0.1:${http.port}`;
    const auth = { Authorization: `Bearer ${http.token}` };
    const call = async (method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = { headers: auth }) => {
      const r = await fetch(base + path, { method, body: opts.body, headers: opts.headers });
      return { status: r.status, body: (await r.json()) as any, location: r.headers.get("location") };
    };
    try {
      expect(await call("GET", "/api/running", {})).toMatchObject({ status: 401, body: unauthorized });
      expect(await call("GET", "/api/running", { headers: { Authorization: "Bearer nope" } })).toMatchObject({ status: 401 });
      expect(await call("GET", `/api/running?token=${http.token}`, {})).toMatchObject({ status: 401 });
      expect(await call("GET", "/api/running", { headers: { Cookie: `weft_token=${http.token}` } })).toEqual({ status: 200, body: { type: "RUNNING_APPS", sessions: [] }, location: null });
      const installed = await call("GET", "/api/installed");
      expect(installed.status).toBe(200);
      expect(installed.body.apps).toContainEqual({ app_id: "org.weft.example.hello", name: "Hello", version: "0.1.0" });

      const launched = await call("POST", "/api/launch", { headers: auth, body: JSON.stringify({ app_id: "org.weft.test.ready" }) });
      expect(launched).toEqual({ status: 201, body: { type: "LAUNCH_ACK", session_id: 1, app_id: "org.weft.test.ready" }, location: "/api/sessions/1" });
      await within(
        new Promise<void>((resolve) => {
          const ready = () => d.sessions.sessions.get(1)?.state === "running" && (off(), resolve());
          const off = d.sessions.on(ready);
          ready();
        }),
        10_000,
        "READY",
      );
      expect(await call("GET", "/api/sessions/1")).toEqual({ status: 200, body: { type: "APP_STATE", session_id: 1, state: "running", app_id: "org.weft.test.ready" }, location: null });
      const term = await call("POST", "/api/sessions/1/terminate", { headers: auth });
      expect(term).toMatchObject({ status: 200, body: { type: "APP_STATE", session_id: 1, state: "stopped" } });
      expect(await call("GET", "/api/sessions/1/logs?lines=1")).toMatchObject({ status: 200, body: { type: "LOGS", session_id: 1, lines: [{ stream: "stdout", text: expect.any(String) }] } });

      expect(await call("GET", "/api/sessions/99")).toMatchObject({ status: 404, body: { type: "APP_STATE", state: "not_found" } });
      expect(await call("GET", "/api/sessions/99/logs")).toMatchObject({ status: 404, body: { type: "ERROR", code: 2 } });
      expect(await call("POST", "/api/sessions/99/terminate", { headers: auth })).toMatchObject({ status: 404 });
      expect(await call("GET", "/api/sessions/abc")).toMatchObject({ status: 400, body: { type: "ERROR", code: 1 } });
      expect(await call("GET", "/api/sessions/1/logs?lines=-1")).toMatchObject({ status: 400 });
      expect(await call("POST", "/api/launch", { headers: auth, body: "{oops" })).toMatchObject({ status: 400 });
      expect(await call("POST", "/api/launch", { headers: auth, body: '{"app_id":' + "[".repeat(100_000) })).toMatchObject({ status: 400 });
      expect(await call("POST", "/api/launch", { headers: auth, body: "{}" })).toMatchObject({ status: 400, body: { message: "LAUNCH_APP.app_id must be a string" } });
      expect(await call("POST", "/api/launch", { headers: auth, body: '{"app_id":"org.weft.nope.missing"}' })).toMatchObject({ status: 422, body: { type: "ERROR", code: 3 } });
      expect(await call("GET", "/api/nothing")).toMatchObject({ status: 404, body: { type: "ERROR", code: 2 } });
      expect(await call("POST", "/api/launch", { headers: auth, body: "x".repeat(2 << 20) })).toMatchObject({ status: 413 });
    } finally {
      await http.close();
    }
  }, 20_000);
});

// The cookie path in a real browser: Debian's chromium through playwright-core.
const CHROMIUM = "/usr/bin/chromium";
describe("appd http: in a browser", () => {
  test.skipIf(!existsSync(CHROMIUM))("(needs Debian chromium) /?token= signs the page in; its WebSocket gets live broadcasts; another local origin is refused even with the cookie", async () => {
    const { chromium } = await import("playwright-core");
    await using d = await testDaemon();
    await using profile = tempDir("weft-chromium-");
    const http = await serveHttp(d.api, { port: 0, runtimeDir: null });
    // Another site on this host: same "site" for SameSite (ports do not count), so only the Origin check stops it.
    const evil = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<!doctype html><title>evil</title>", { headers: { "Content-Type": "text/html" } }) });
    const browser = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const base = `http://127.0.0.1:${http.port}`;
      await page.goto(`${base}/?token=${http.token}`);
      expect(page.url()).toBe(`${base}/`); // redirected: the token is gone from the address bar
      await page.waitForSelector("#apps[data-ready='1']", { state: "attached", timeout: 10_000 });
      expect(await page.evaluate(() => (globalThis as any).document.cookie)).toBe(""); // HttpOnly
      // A launch elsewhere reaches the page as a broadcast: the taskbar shows it.
      await d.api.handle(["LAUNCH_APP", "org.weft.test.ready", 0]);
      await page.waitForSelector('#running li[data-app-id="org.weft.test.ready"]', { timeout: 10_000 });
      expect(await page.getAttribute("#running li", "data-session-id")).toBe("1");

      // Whatever the browser lets the evil page see, the server must not have served it: count the API's calls.
      // (Only requests that carry the evil page's marker count: the signed-in page keeps querying.)
      let served = 0;
      const handle = d.api.handle.bind(d.api);
      d.api.handle = (raw) => (JSON.stringify(raw).includes("4242") && served++, handle(raw));
      const other = await browser.newPage();
      await other.goto(`http://127.0.0.1:${evil.port}/`);
      const attempt = await other.evaluate(async (target) => {
        const ws = await new Promise<string>((resolve) => {
          const s = new WebSocket(`ws://${target}/ws`);
          s.onopen = () => (s.send('{"type":"QUERY_APP_STATE","session_id":4242}'), resolve("open"));
          s.onerror = () => resolve("refused");
        });
        const rest = await fetch(`http://${target}/api/sessions/4242`, { credentials: "include" }).then((r) => `status ${r.status}`, () => "blocked");
        await fetch(`http://${target}/api/launch`, { method: "POST", mode: "no-cors", credentials: "include", body: '{"app_id":"org.weft.test.ready","surface_id":4242}' });
        return { ws, rest };
      }, `127.0.0.1:${http.port}`);
      expect(attempt).toEqual({ ws: "refused", rest: "blocked" });
      expect(served).toBe(0);
    } finally {
      await browser.close();
      evil.stop(true);
      await http.close();
    }
  }, 60_000);
});
