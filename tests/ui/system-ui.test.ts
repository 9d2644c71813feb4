// The system UI and app UIs in a real browser: Debian's chromium through
// playwright-core, against a real `weft run --no-compositor` with the bundled
// (signed) example apps. One browser and one signed-in page for the file;
// the tests run in order and build on each other, like a person would.
// Screenshots of each step: tests/ui/artifacts/ (git-ignored).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Frame, Page } from "playwright-core";
import { startWeft, tempDir, weftEnv, type WeftProcess } from "./weft-process.ts";

// The page-side callbacks below run in the browser, not here (module-scoped, so Bun's own types are untouched).
declare const document: any, window: any, location: any;
type CustomEvent = { detail: any };

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "artifacts");
const STORE = (w: WeftProcess) => join(w.home, ".local", "share", "weft", "apps");
const COUNTER = "org.weft.example.counter";
const NOTES = "org.weft.example.notes";
const FETCHER = "org.weft.example.fetcher";
const HELLO = "org.weft.example.hello";

const haveChromium = existsSync(CHROMIUM);
const dir = tempDir("weft-ui-");
let weft: WeftProcess;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
const logs: string[][] = []; // earlier weft processes' logs

const shot = (name: string, p: Page = page) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

/** The iframe of session `id`'s window, once its page has loaded from s<id>.localhost. */
async function appFrame(id: number): Promise<Frame> {
  const origin = `http://s${id}.localhost:${weft.port}/`;
  await page.waitForFunction((o) => [...document.querySelectorAll("iframe")].some((f: { src: string }) => f.src.startsWith(o.slice(0, -1))), origin, { timeout: 10_000 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const f = page.frames().find((fr) => fr.url() === origin);
    if (f) return f;
    if (Date.now() > deadline) throw new Error(`no frame at ${origin} (frames: ${page.frames().map((fr) => fr.url()).join(", ")})`);
    await page.waitForEvent("framenavigated", { timeout: 10_000 });
  }
}

/** The session id the taskbar shows for an app (the newest one). */
async function sessionOf(appId: string): Promise<number> {
  const li = page.locator(`#running li[data-app-id="${appId}"]`).last();
  await li.waitFor({ timeout: 10_000 });
  return Number(await li.getAttribute("data-session-id"));
}

async function launchFromLauncher(appId: string): Promise<number> {
  await page.click("#home");
  await page.click(`.tile[data-app-id="${appId}"]`);
  const id = await sessionOf(appId);
  await page.locator(`.window[data-session-id="${id}"]`).waitFor({ state: "visible", timeout: 10_000 });
  return id;
}

const api = async (path: string, init: RequestInit = {}) => {
  const r = await fetch(weft.base + path, { ...init, headers: { Authorization: `Bearer ${weft.token}`, ...(init.headers ?? {}) } });
  return { status: r.status, body: (await r.json()) as any };
};

describe.skipIf(!haveChromium)("system UI in chromium (needs Debian chromium)", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    weft = await startWeft(weftEnv(dir.path));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    ctx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    // Every action and wait gives up (with a message) well before the test's own timeout, which would kill the browser.
    ctx.setDefaultTimeout(10_000);
    page = await ctx.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await weft?.stop();
    if (weft) writeFileSync(join(ARTIFACTS, "weft.log"), [...logs, weft.log].map((l) => l.join("\n")).join("\n--- restart ---\n") + "\n");
    dir[Symbol.dispose]();
  });

  test("an unauthenticated page gets nothing: no UI, no assets, no API, no app pages", async () => {
    const anon = await browser.newContext();
    try {
      const p = await anon.newPage();
      const r = await p.goto(`${weft.base}/`);
      expect(r?.status()).toBe(401);
      expect(await p.locator("#apps").count()).toBe(0);
      expect(await p.textContent("body")).toContain("Not signed in");
      await shot("00-unauthenticated", p);
      const got = await p.evaluate(async ({ base, port }) => {
        const asset = (await fetch(`${base}/ui/shell.js`)).status;
        const rest = (await fetch(`${base}/api/running`)).status;
        // The socket opens (it may still send AUTH) but answers nothing but ERROR 7 and carries no broadcasts.
        const ws = await new Promise<string[]>((resolve) => {
          const s = new WebSocket(`ws://127.0.0.1:${port}/ws`);
          const seen: string[] = [];
          s.onopen = () => s.send(JSON.stringify({ type: "QUERY_RUNNING" }));
          s.onmessage = (e) => (seen.push(e.data), resolve(seen));
          s.onerror = () => resolve(["error"]);
        });
        return { asset, rest, ws };
      }, { base: weft.base, port: weft.port });
      expect(got.asset).toBe(401);
      expect(got.rest).toBe(401);
      expect(got.ws.map((m) => JSON.parse(m))).toEqual([{ type: "ERROR", code: 7, message: expect.any(String) }]);
      // An app origin without its cookie: nothing either (session 1 does not even exist yet, and would need the cookie).
      const app = await p.goto(`http://s1.localhost:${weft.port}/`);
      expect(app?.status()).toBeGreaterThanOrEqual(400);
    } finally {
      await anon.close();
    }
  }, 30_000);

  test("signing in with ?token= shows the launcher with the bundled apps (name, version), a clock and a live connection", async () => {
    await page.goto(`${weft.base}/?token=${weft.token}`);
    expect(page.url()).toBe(`${weft.base}/`);
    await page.waitForSelector("#apps[data-ready='1']", { timeout: 10_000 });
    const tiles = await page.$$eval(".tile", (ts) => ts.map((t) => [t.getAttribute("data-app-id"), t.querySelector(".name")!.textContent, t.querySelector(".version")!.textContent]));
    expect(tiles).toEqual([
      [COUNTER, "Counter", "version 0.1.0"],
      [FETCHER, "Fetcher", "version 0.1.0"],
      [HELLO, "Hello", "version 0.1.0"],
      [NOTES, "Notes", "version 0.1.0"],
    ]);
    expect(await page.textContent("#conn")).toBe("connected");
    // First start trusted the bundled apps' key in the user's config (here a temp one).
    expect(readFileSync(join(weft.env.XDG_CONFIG_HOME, "weft", "trusted-keys", "weft-bundled.pub"), "utf8").trim()).toBe(readFileSync(join(import.meta.dir, "..", "..", "examples", "keys", "weft-examples.pub"), "utf8").trim());
    expect(weft.log.filter((l) => l.includes("installed bundled app")).length).toBe(4);
    expect(await page.textContent("#clock")).toMatch(/^\d{1,2}:\d{2}/);
    await shot("01-launcher");
  }, 30_000);

  test("launching the counter opens its UI; its buttons change the count because the guest answered; APP_READY is a toast", async () => {
    const id = await launchFromLauncher(COUNTER);
    await page.locator(`.toast[data-kind="ready"]`, { hasText: "Counter is ready" }).waitFor({ timeout: 10_000 });
    const frame = await appFrame(id);
    const count = frame.locator("#count");
    // "get" was answered: the shown value came from the guest, not the page ("…" until then).
    await frame.waitForSelector("#count[data-count='0']", { timeout: 10_000 });
    await shot("02-counter-opened");
    // The launch verified the package's signature against that key.
    expect(weft.log).toContain(`weft info: session ${id}: launched ${COUNTER} 0.1.0 (signed)`);
    for (const b of ["increment", "increment", "increment", "decrement"]) await frame.click(`#${b}`);
    await frame.waitForSelector("#count[data-count='2']", { timeout: 5000 });
    expect(await count.textContent()).toBe("2");
    await shot("03-counter-clicked");
    // The guest holds the state: a second window on the same session (a reload) asks and gets 2.
    await frame.evaluate(() => location.reload());
    const again = await appFrame(id);
    await again.waitForSelector("#count[data-count='2']", { timeout: 10_000 });
    await again.click("#reset");
    await again.waitForSelector("#count[data-count='0']", { timeout: 5000 });
    // weftIpc is exactly spec §5's shape.
    expect(await again.evaluate(() => [typeof (window as any).weftIpc.send, "onmessage" in (window as any).weftIpc])).toEqual(["function", true]);
  }, 40_000);

  test("one app's page cannot reach another session or the system API (browser and server both refuse)", async () => {
    const counter = await sessionOf(COUNTER);
    const notes = await launchFromLauncher(NOTES);
    const frame = await appFrame(counter);
    await (await appFrame(notes)).waitForSelector("body[data-loaded='1']", { timeout: 10_000 });
    await page.locator(`#running li[data-session-id="${counter}"] .focus`).click();
    // From the counter's page: the notes session's socket and page, and weft's own API.
    const tried = await frame.evaluate(
      async ({ port, notes }) => {
        const ws = (url: string) =>
          new Promise<string>((resolve) => {
            try {
              const s = new WebSocket(url);
              s.onopen = () => (s.close(), resolve("open"));
              s.onerror = () => resolve("refused");
            } catch (e) {
              resolve(`refused: ${(e as Error).name}`);
            }
          });
        const get = (url: string) => fetch(url, { credentials: "include" }).then((r) => `status ${r.status}`, () => "refused");
        return {
          otherSocket: await ws(`ws://s${notes}.localhost:${port}/.weft/ipc`),
          otherPage: await get(`http://s${notes}.localhost:${port}/`),
          systemSocket: await ws(`ws://127.0.0.1:${port}/ws`),
          systemApi: await get(`http://127.0.0.1:${port}/api/running`),
          ownSocket: await ws(`ws://${location.host}/.weft/ipc`),
        };
      },
      { port: weft.port, notes },
    );
    expect(tried).toEqual({ otherSocket: "refused", otherPage: "refused", systemSocket: "refused", systemApi: "refused", ownSocket: "open" });

    // The server refuses too, whatever the browser would allow: the counter's own cookie, presented elsewhere.
    const cookies = await ctx.cookies(`http://s${counter}.localhost:${weft.port}/`);
    const mine = cookies.find((c) => c.name === "weft_app");
    expect(mine?.httpOnly).toBe(true);
    const cookie = `weft_app=${mine!.value}`;
    const own = `http://s${counter}.localhost:${weft.port}`;
    const via = (host: string, path: string, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${weft.port}${path}`, { headers: { Host: `${host}:${weft.port}`, Cookie: cookie, ...headers } }).then((r) => r.status);
    expect(await via(`s${counter}.localhost`, "/")).toBe(200); // the cookie is good where it belongs
    expect(await via(`s${notes}.localhost`, "/")).toBe(401); // …and nowhere else
    expect(await via(`s${notes}.localhost`, "/.weft/ipc", { Origin: own, Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" })).toBe(403);
    expect(await via("127.0.0.1", "/api/running")).toBe(401); // an app's cookie is not a system token
    expect(await via("127.0.0.1", "/api/running", { Origin: own, Authorization: `Bearer ${weft.token}` })).toBe(403); // an app origin is never a system client
    // Path traversal out of the UI directory, however spelt, finds nothing.
    for (const p of ["/../wapp.toml", "/%2e%2e/wapp.toml", "/..%2fwapp.toml", "/.%2e/app.wasm", "/%2e%2e%5cwapp.toml", "/.weft/../../wapp.toml"])
      expect([p, await via(`s${counter}.localhost`, p)]).toEqual([p, 404]);
    // Assets carry their types; the page carries the CSP that keeps it in its origin.
    const r = await fetch(`http://127.0.0.1:${weft.port}/`, { headers: { Host: `s${counter}.localhost:${weft.port}`, Cookie: cookie } });
    expect(r.headers.get("content-security-policy")).toContain(`connect-src 'self' ws://s${counter}.localhost:${weft.port}`);
    expect(await r.text()).toContain('<head><script src="/.weft/bridge.js"></script>');
    const css = await fetch(`http://127.0.0.1:${weft.port}/style.css`, { headers: { Host: `s${counter}.localhost:${weft.port}`, Cookie: cookie } });
    expect(css.headers.get("content-type")).toStartWith("text/css");
    await shot("04-isolation");
  }, 40_000);

  test("notes: save writes /data/notes.txt through the guest; a new session loads it", async () => {
    const id = await sessionOf(NOTES);
    await page.locator(`#running li[data-session-id="${id}"] .focus`).click();
    const frame = await appFrame(id);
    const text = `shopping: tea, "quotes", ünïcode\nline two`;
    await frame.fill("#text", text);
    await frame.click("#save");
    await frame.waitForSelector(`body[data-saved='${Buffer.byteLength(text)}']`, { timeout: 5000 });
    expect(readFileSync(join(STORE(weft), NOTES, "data", "notes.txt"), "utf8")).toBe(text);
    await shot("05-notes-saved");
    await page.locator(`#running li[data-session-id="${id}"] .close`).click();
    await page.locator(`#running li[data-session-id="${id}"]`).waitFor({ state: "detached", timeout: 10_000 });
    const again = await launchFromLauncher(NOTES);
    const f2 = await appFrame(again);
    await f2.waitForSelector("body[data-loaded='1']", { timeout: 10_000 });
    expect(await f2.inputValue("#text")).toBe(text);
  }, 40_000);

  test("fetcher: weft:app/notifications becomes a toast; weft:app/fetch reaches an allowed host and the page shows a refused one's error", async () => {
    // A service on this device, reached as "localhost" (the app declares net:fetch:localhost).
    const svc = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("hello from a local service", { headers: { "Content-Type": "text/plain" } }) });
    try {
      const id = await launchFromLauncher(FETCHER);
      const frame = await appFrame(id);
      await frame.waitForFunction(() => document.getElementById("status")?.textContent === "Ready.", undefined, { timeout: 10_000 });
      let answers = 0;
      const answered = async () => {
        await frame.waitForSelector(`body[data-answers='${++answers}']`);
        return { status: await frame.textContent("#status"), result: await frame.textContent("#result") };
      };

      await frame.fill("#note", "toast me");
      await frame.click("#notify-form button");
      expect((await answered()).status).toBe("Notification sent.");
      const t = page.locator(`.toast[data-kind="notification"]`, { hasText: "toast me" });
      await t.waitFor();
      expect([await t.locator(".app").textContent(), await t.locator(".title").textContent(), await t.locator(".body").textContent()]).toEqual(["Fetcher", "Fetcher", "toast me"]);
      await shot("06-fetcher-notify");

      await frame.fill("#url", `http://localhost:${svc.port}/hello.txt`);
      await frame.click("#fetch-form button");
      expect(await answered()).toEqual({ status: "HTTP 200, text/plain, 26 bytes", result: "hello from a local service" });
      await page.locator(`.toast[data-kind="notification"]`, { hasText: `Fetched http://localhost:${svc.port}/hello.txt` }).waitFor();

      // 127.0.0.1 is not a domain the app named: the host's error string, shown as is.
      await frame.fill("#url", `http://127.0.0.1:${svc.port}/`);
      await frame.click("#fetch-form button");
      const refused = await answered();
      expect(refused.status).toMatch(/127\.0\.0\.1/);
      expect(await frame.getAttribute("#status", "class")).toBe("error");
      await shot("06b-fetcher-fetch");
    } finally {
      svc.stop(true);
    }
  }, 30_000);

  test("a launch that fails shows why (a bundled app's file changed since install)", async () => {
    const ui = join(STORE(weft), HELLO, "ui", "index.html");
    writeFileSync(ui, readFileSync(ui, "utf8") + "<!-- tampered -->");
    await page.click("#home");
    await page.click(`.tile[data-app-id="${HELLO}"]`);
    const err = page.locator("#launch-error");
    await err.waitFor({ state: "visible", timeout: 10_000 });
    expect(await err.textContent()).toMatch(/^Could not launch Hello: .*ui\/index\.html: changed since install/s);
    await page.locator(`.toast[data-kind="error"]`, { hasText: "Could not launch Hello" }).waitFor({ timeout: 5000 });
    await shot("07-launch-failed");
  }, 30_000);

  test("an app that ends by itself: its page is told (weftIpc.onended), its window says so and stays until closed", async () => {
    const id = await sessionOf(COUNTER);
    await page.locator(`#running li[data-session-id="${id}"] .focus`).click();
    const frame = await appFrame(id);
    // Listen first (awaited, so the listener is in place before the guest is stopped).
    await frame.evaluate(() => window.addEventListener("weftipc:ended", (e: CustomEvent) => (window.endedReason = e.detail.reason)));
    // Ended from elsewhere (the REST API), not from this page.
    expect((await api(`/api/sessions/${id}/terminate`, { method: "POST" })).body).toMatchObject({ type: "APP_STATE", state: "stopped" });
    await frame.waitForFunction(() => window.endedReason !== undefined);
    expect(await frame.evaluate(() => window.endedReason)).toBe("stopped by host");
    await frame.waitForFunction(() => document.getElementById("status")?.textContent === "The app has ended (stopped by host).");
    await page.locator(`.window[data-session-id="${id}"] .ended`, { hasText: "This app has ended: stopped by host." }).waitFor();
    expect(await page.getAttribute(`#running li[data-session-id="${id}"]`, "data-state")).toBe("stopped");
    await shot("08-ended");
    await page.locator(`#running li[data-session-id="${id}"] .close`).click();
    await page.locator(`#running li[data-session-id="${id}"]`).waitFor({ state: "detached" });
  }, 30_000);

  test("closing from the taskbar terminates the session and removes it", async () => {
    const id = await launchFromLauncher(COUNTER);
    await (await appFrame(id)).waitForSelector("#count[data-count='0']");
    await page.locator(`#running li[data-session-id="${id}"] .close`).click();
    await page.locator(`#running li[data-session-id="${id}"]`).waitFor({ state: "detached" });
    expect(await page.locator(`.window[data-session-id="${id}"]`).count()).toBe(0);
    expect((await api(`/api/sessions/${id}`)).body).toMatchObject({ type: "APP_STATE", state: "stopped" });
    const running = (await api("/api/running")).body.sessions.map((s: { app_id: string }) => s.app_id);
    expect(running).not.toContain(COUNTER);
    await shot("09-closed");
  }, 30_000);

  test("weft going away: the page says it is unreachable and keeps trying; a restarted weft (new token) asks to sign in again", async () => {
    await weft.stop();
    logs.push(weft.log);
    const banner = page.locator("#banner[data-state='unreachable']");
    await banner.waitFor({ timeout: 10_000 });
    expect(await page.textContent("#banner-text")).toMatch(/weft is unreachable/);
    expect(await page.textContent("#conn")).toBe("offline");
    await shot("10-unreachable");
    weft = await startWeft(weft.env, weft.port); // the same address the page knows
    await page.click("#reconnect");
    await page.locator("#banner[data-state='signed-out']").waitFor({ timeout: 10_000 });
    await shot("11-signed-out");
    await page.goto(`${weft.base}/?token=${weft.token}`);
    await page.waitForSelector("#apps[data-ready='1']", { timeout: 10_000 });
    expect(await page.isHidden("#banner")).toBe(true);
  }, 60_000);
});
