// App UIs without a browser: the rules of src/appd/app-ui.ts (hosts, paths,
// the bridge tag) and its HTTP/WebSocket behaviour against a real daemon
// running the signed counter example. The browser's view is system-ui.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appHostSession, cookieValues, injectBridge, safeAssetPath } from "../../src/appd/app-ui.ts";
import { serveHttp, type HttpServer } from "../../src/appd/http.ts";
import { installPackage } from "../../src/appd/package-store.ts";
import { loadTrustedKeys } from "../../src/appd/signature.ts";
import { testDaemon, type TestDaemon } from "../appd/fixtures.ts";
import { ROOT, tempDir } from "../helpers.ts";

const COUNTER = "org.weft.example.counter";

describe("app ui: rules", () => {
  test("only s<n>.localhost names are app hosts", () => {
    expect(["s1.localhost:7410", "s42.localhost", "S7.LOCALHOST:1"].map(appHostSession)).toEqual([1, 42, 7]);
    for (const h of ["localhost:7410", "127.0.0.1:7410", "s0.localhost", "s01.localhost", "s1.localhost.", "s1.evil.localhost", "s1.localhost.evil.example", "x1.localhost", "s1x.localhost", "s12345678901.localhost", "", null, "[::1]:7410", "s1.localhost:bad port"])
      expect([h, appHostSession(h)]).toEqual([h, null]);
  });

  test("safeAssetPath: files under the root only, however the path is spelt", () => {
    using dir = tempDir("weft-appui-");
    const root = join(dir.path, "pkg", "ui");
    mkdirSync(join(root, "img"), { recursive: true });
    mkdirSync(join(dir.path, "pkg", "data"));
    writeFileSync(join(root, "index.html"), "x");
    writeFileSync(join(root, "img", "a b.png"), "x");
    writeFileSync(join(root, ".secret"), "x");
    writeFileSync(join(dir.path, "pkg", "wapp.toml"), "x");
    writeFileSync(join(dir.path, "outside.txt"), "x");
    symlinkSync(join(dir.path, "outside.txt"), join(root, "link.txt"));
    expect(safeAssetPath(root, "/index.html")).toBe(join(root, "index.html"));
    expect(safeAssetPath(root, "/img/a%20b.png")).toBe(join(root, "img", "a b.png"));
    for (const p of ["/../wapp.toml", "/%2e%2e/wapp.toml", "/..%2fwapp.toml", "/img/..%2F..%2Fwapp.toml", "/%2e%2e%5cwapp.toml", "/.secret", "/img/", "/img", "//index.html", "/link.txt", "/nope", "/%zz", "/index.html%00.png", "/"])
      expect([p, safeAssetPath(root, p)]).toEqual([p, null]);
    // A UI at the package's top level never serves the app's data dir.
    writeFileSync(join(dir.path, "pkg", "data", "notes.txt"), "private");
    expect(safeAssetPath(join(dir.path, "pkg"), "/data/notes.txt", ["data"])).toBeNull();
    expect(safeAssetPath(join(dir.path, "pkg"), "/wapp.toml", ["data"])).toBe(join(dir.path, "pkg", "wapp.toml"));
  });

  test("the bridge goes before the page's own scripts", () => {
    const tag = '<script src="/.weft/bridge.js"></script>';
    expect(injectBridge('<!doctype html><html lang="en"><HEAD data-x="1"><script>a()</script>')).toBe(`<!doctype html><html lang="en"><HEAD data-x="1">${tag}<script>a()</script>`);
    expect(injectBridge("<html><body>x")).toBe(`<html>${tag}<body>x`);
    expect(injectBridge("<!DOCTYPE html><p>x")).toBe(`<!DOCTYPE html>${tag}<p>x`);
    expect(injectBridge("<p>x")).toBe(`${tag}<p>x`);
    expect(injectBridge("<header>not a head</header>")).toBe(`${tag}<header>not a head</header>`);
  });

  test("every value of a cookie counts (a page can plant a same-named one for a parent domain)", () => {
    expect(cookieValues("a=1; weft_app=x; b=2; weft_app=y", "weft_app")).toEqual(["x", "y"]);
    expect(cookieValues(null, "weft_app")).toEqual([]);
    expect(cookieValues("weft_appx=1; xweft_app=2", "weft_app")).toEqual([]);
  });
});

describe("app ui: over HTTP against a real daemon", () => {
  let d: TestDaemon;
  let http: HttpServer;
  let base: string;
  let sid: number;
  const host = (id: number) => `s${id}.localhost:${http.port}`;
  const get = (id: number, path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { redirect: "manual", ...init, headers: { Host: host(id), ...headers } });
  /** QUERY_APP_UI over REST → a fresh one-time URL. */
  const openUrl = async (id: number) => {
    const r = await fetch(`${base}/api/sessions/${id}/ui`, { headers: { Authorization: `Bearer ${http.token}` } });
    return { status: r.status, body: (await r.json()) as { type: string; url: string } };
  };
  /** Opens session id's page with a ticket and returns the cookie it set. */
  const signIn = async (id: number) => {
    const url = new URL((await openUrl(id)).body.url);
    const r = await get(id, url.pathname + url.search);
    expect(r.status).toBe(303);
    return /^weft_app=([0-9a-f]{64});/.exec(r.headers.get("set-cookie") ?? "")![1];
  };
  const bridge = (id: number, cookie: string, origin = `http://${host(id)}`) => {
    const ws = new WebSocket(`ws://127.0.0.1:${http.port}/.weft/ipc`, { headers: { Host: host(id), Cookie: `weft_app=${cookie}`, Origin: origin } } as unknown as string[]);
    const got: any[] = [];
    const waiters: (() => void)[] = [];
    ws.onmessage = (e) => {
      got.push(JSON.parse(String(e.data)));
      for (const w of waiters.splice(0)) w();
    };
    const opened = new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("bridge socket refused"));
    });
    const take = async (pred: (m: any) => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const i = got.findIndex(pred);
        if (i >= 0) return got.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no ${what} on the bridge (got ${JSON.stringify(got)})`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    };
    return { ws, opened, take };
  };

  beforeAll(async () => {
    d = await testDaemon();
    // The examples are signed with the checkout's key: trust it for this daemon only.
    const keysDir = process.env.WEFT_TRUSTED_KEYS!;
    mkdirSync(keysDir, { recursive: true });
    copyFileSync(join(ROOT, "examples", "keys", "weft-examples.pub"), join(keysDir, "examples.pub"));
    const { keys } = await loadTrustedKeys([keysDir]);
    await installPackage(join(ROOT, "examples", "apps", "counter"), { root: process.env.WEFT_APP_STORE!, trustedKeys: keys });
    http = await serveHttp(d.api, { port: 0, runtimeDir: null });
    base = `http://127.0.0.1:${http.port}`;
    const ack = await d.api.handle({ type: "LAUNCH_APP", app_id: COUNTER, surface_id: 0 });
    if (ack.type !== "LAUNCH_ACK") throw new Error(JSON.stringify(ack));
    sid = ack.session_id;
    // Ready (it said notify.ready), so the bridge's first state is "running".
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the counter did not become ready within 20 s")), 20_000);
      const check = () => d.sessions.sessions.get(sid)?.state === "running" && (clearTimeout(timer), off(), resolve());
      const off = d.sessions.on(check);
      check();
    });
  }, 60_000);

  afterAll(async () => {
    await http?.close();
    await d?.[Symbol.asyncDispose]();
  });

  test("QUERY_APP_UI (system clients only) gives a one-time URL on the session's own origin", async () => {
    const r = await openUrl(sid);
    expect(r.status).toBe(200);
    expect(r.body.url).toMatch(new RegExp(`^http://s${sid}\\.localhost:${http.port}/\\.weft/open\\?ticket=[0-9a-f]{64}$`));
    expect((await openUrl(999)).status).toBe(404);
    expect((await fetch(`${base}/api/sessions/${sid}/ui`)).status).toBe(401);
  });

  test("a ticket sets the session's cookie once; without that cookie an app origin serves nothing", async () => {
    const url = new URL((await openUrl(sid)).body.url);
    const first = await get(sid, url.pathname + url.search);
    expect([first.status, first.headers.get("location")]).toEqual([303, "/"]);
    expect(first.headers.get("set-cookie")).toMatch(/^weft_app=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=None; Secure; Partitioned$/);
    expect((await get(sid, url.pathname + url.search)).status).toBe(401); // used up
    const other = new URL((await openUrl(sid)).body.url);
    expect((await get(sid + 1, other.pathname + other.search)).status).toBe(404); // no session there
    const cookie = /^weft_app=([0-9a-f]{64})/.exec(first.headers.get("set-cookie")!)![1];
    expect((await get(sid, "/")).status).toBe(401);
    expect((await get(sid, "/", { Cookie: "weft_app=0000" })).status).toBe(401);
    expect((await get(sid, "/", { Cookie: `weft_app=${http.token}` })).status).toBe(401); // the system token is not an app's
    expect((await get(sid, "/", { Authorization: `Bearer ${http.token}` })).status).toBe(401);
    expect((await get(sid, "/", { Cookie: `weft_app=planted; weft_app=${cookie}` })).status).toBe(200);
  });

  test("the page: entry with the bridge injected and a CSP; assets with their types; no traversal; read-only; nothing of the system API", async () => {
    const cookie = await signIn(sid);
    const c = { Cookie: `weft_app=${cookie}` };
    const page = await get(sid, "/", c);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain(`connect-src 'self' ws://s${sid}.localhost:${http.port}`);
    expect(csp).toContain(`frame-ancestors http://127.0.0.1:${http.port} http://localhost:${http.port}`);
    expect(await page.text()).toContain('<head><script src="/.weft/bridge.js"></script>');
    const types = await Promise.all(["/style.css", "/counter.js", "/.weft/bridge.js"].map(async (p) => (await get(sid, p, c)).headers.get("content-type")));
    expect(types.map((t) => t!.split(";")[0])).toEqual(["text/css", "text/javascript", "text/javascript"]);
    for (const p of ["/../wapp.toml", "/%2e%2e/app.wasm", "/..%2fsignature.sig", "/.weft/../../wapp.toml", "/nope.js"]) expect([p, (await get(sid, p, c)).status]).toEqual([p, 404]);
    expect((await get(sid, "/", c, { method: "POST", body: "x" })).status).toBe(405);
    // The system's routes do not exist on an app origin.
    for (const p of ["/api/running", "/ws", "/ui/shell.js"]) {
      const r = await get(sid, p, { ...c, Authorization: `Bearer ${http.token}` });
      expect([p, r.status, r.headers.get("content-type")?.split(";")[0]]).toEqual([p, 404, "text/html"]);
    }
    // …and an app origin is refused by the system's routes.
    const fromApp = await fetch(`${base}/api/running`, { headers: { Authorization: `Bearer ${http.token}`, Origin: `http://${host(sid)}` } });
    expect(fromApp.status).toBe(403);
  });

  test("the bridge: send reaches ipc.recv, ipc.send comes back, the end of the guest is told; other origins are refused", async () => {
    const cookie = await signIn(sid);
    const b = bridge(sid, cookie);
    await b.opened;
    expect(await b.take((m) => m.type === "APP_STATE", "the state on connect")).toEqual({ type: "APP_STATE", state: "running" });
    b.ws.send("increment");
    expect(await b.take((m) => m.type === "IPC_MESSAGE", "an answer")).toEqual({ type: "IPC_MESSAGE", payload: '{"count":1}' });
    b.ws.send("get");
    expect(await b.take((m) => m.type === "IPC_MESSAGE", "an answer")).toEqual({ type: "IPC_MESSAGE", payload: '{"count":1}' });

    // Another origin, or the right origin with another session's cookie: refused at the upgrade.
    const wrongOrigin = bridge(sid, cookie, `http://127.0.0.1:${http.port}`);
    expect(await wrongOrigin.opened.then(() => "open", () => "refused")).toBe("refused");
    const wrongSession = bridge(sid + 1, cookie);
    expect(await wrongSession.opened.then(() => "open", () => "refused")).toBe("refused");

    await d.api.handle({ type: "TERMINATE_APP", session_id: sid });
    expect(await b.take((m) => m.type === "APP_STATE" && m.state === "stopped", "the stopped state")).toMatchObject({ type: "APP_STATE", state: "stopped" });
    b.ws.send("increment");
    expect(await b.take((m) => m.type === "ERROR", "an error")).toEqual({ type: "ERROR", message: "the app is not running" });
    b.ws.close();
  }, 30_000);

  test("a Preview 1 app's page gets the bridge, and a clear error when it sends (no weft:app/ipc)", async () => {
    const ack = await d.api.handle({ type: "LAUNCH_APP", app_id: "org.weft.example.hello", surface_id: 0 });
    if (ack.type !== "LAUNCH_ACK") throw new Error(JSON.stringify(ack));
    const b = bridge(ack.session_id, await signIn(ack.session_id));
    await b.opened;
    b.ws.send("hi");
    expect(await b.take((m) => m.type === "ERROR", "an error")).toEqual({ type: "ERROR", message: expect.stringContaining("Preview 1 module") });
    b.ws.close();
  }, 30_000);
});
