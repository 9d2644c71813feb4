// weft:app's fetch and notifications from a real component guest
// (tests/components/host.js), allowed and denied by capabilities, against a
// real local HTTP server (Bun.serve on port 0).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseCapability, type Capability } from "../../src/appd/capabilities.ts";
import type { Notification } from "../../src/runtime/weft-app/context.ts";
import { FETCH_LIMITS, fetchRefusal } from "../../src/runtime/weft-app/fetch.ts";
import { NOTIFY_LIMITS } from "../../src/runtime/weft-app/notifications.ts";
import { loadHostGuest, runHost, startHost } from "./host-guest.ts";

/** Guests are SCHED_IDLE: on a loaded machine even short runs take seconds. */
const T = 30_000;

const caps = (...c: string[]): Capability[] => c.map((s) => parseCapability(s) as Capability);
const app = (capabilities: Capability[], notify?: (n: Notification) => void, appId = "org.weft.test.host") => ({ context: { app: { sessionId: 1, appId, capabilities, notify } } });

let server: ReturnType<typeof Bun.serve>;
let base: string; // http://localhost:PORT
let port: number;
const aborted: string[] = [];
let hangEntered: (() => void) | null = null;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const u = new URL(req.url);
      switch (u.pathname) {
        case "/hello":
          return new Response("hello", { headers: { "content-type": "text/plain" } });
        case "/echo":
          return Response.json({ method: req.method, body: await req.text(), header: req.headers.get("x-weft-test"), host: req.headers.get("host") });
        case "/status":
          return new Response("nope", { status: 404, headers: { "content-type": "text/html" } });
        case "/to-hello":
          return Response.redirect(`${base}/hello`, 302);
        case "/to-loopback-ip":
          return Response.redirect(`http://127.0.0.1:${port}/hello`, 302);
        case "/see-other":
          return new Response(null, { status: 303, headers: { location: "/echo" } });
        case "/loop":
          return Response.redirect(`${base}/loop`, 302);
        case "/big":
          return new Response(new Uint8Array(FETCH_LIMITS.bodyBytes + 1));
        case "/big-chunked":
          return new Response(
            new ReadableStream({
              pull(c) {
                c.enqueue(new Uint8Array(256 * 1024));
              },
            }),
          );
        case "/hang":
          req.signal.addEventListener("abort", () => aborted.push("hang"));
          hangEntered?.();
          return new Promise<Response>(() => {});
      }
      return new Response("?", { status: 500 });
    },
  });
  port = server.port!;
  base = `http://localhost:${port}`;
  await loadHostGuest();
}, 600_000);

afterAll(() => server?.stop(true));

describe("weft:app/fetch", () => {
  test("allowed by net:fetch:localhost: status, content type, body", async () => {
    const r = await runHost([`fetch|GET|${base}/hello`, `fetch|GET|${base}/status`], app(caps("net:fetch:localhost")));
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.lines).toEqual(["fetch: ok 200 text/plain 5 hello", "fetch: ok 404 text/html 4 nope"]);
  }, T);

  test("method, body and headers reach the server; Host is not the app's to set", async () => {
    const r = await runHost([`fetch|PUT|${base}/echo|the body|x-weft-test=yes,host=evil.example`], app(caps("net:fetch:localhost")));
    const json = JSON.parse(r.lines[0]!.split(" ").slice(5).join(" "));
    expect(json).toEqual({ method: "PUT", body: "the body", header: "yes", host: `localhost:${port}` });
  }, T);

  test("denied: no capability, another domain, and loopback under net:fetch:*", async () => {
    const r1 = await runHost([`fetch|GET|${base}/hello`], app([]));
    expect(r1.lines).toEqual(["fetch: err fetch: capability net:fetch:localhost not granted"]);
    const r2 = await runHost([`fetch|GET|${base}/hello`], app(caps("net:fetch:example.com")));
    expect(r2.lines).toEqual(["fetch: err fetch: capability net:fetch:localhost not granted"]);
    const r3 = await runHost([`fetch|GET|${base}/hello`, `fetch|GET|http://127.0.0.1:${port}/hello`], app(caps("net:fetch:*")));
    expect(r3.lines).toEqual([
      "fetch: err fetch: capability net:fetch:localhost not granted (net:fetch:* does not include this device or its local network)",
      "fetch: err fetch: capability net:fetch:127.0.0.1 not granted (net:fetch:* does not include this device or its local network)",
    ]);
    const r4 = await runHost([`fetch|GET|http://127.0.0.1:${port}/hello`], app(caps("net:fetch:127.0.0.1")));
    expect(r4.lines).toEqual(["fetch: ok 200 text/plain 5 hello"]);
  }, T);

  test("net:fetch:* never reaches this device or its network, however the host is written; a named host is reached", () => {
    const star = caps("net:fetch:*");
    const refused = (u: string, c = star) => fetchRefusal(c, new URL(u));
    for (const u of [
      "http://localhost./", "http://a.localhost./", "http://LOCALHOST/", "http://0.0.0.0/", "http://0/", "http://2130706433/", "http://0x7f.1/",
      "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:10.1.2.3]/",
      "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://169.254.169.254/", "http://100.64.0.1/",
      "http://[fe80::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://224.0.0.1/",
    ])
      expect(refused(u)).toContain("does not include this device or its local network");
    for (const u of ["http://example.com/", "https://8.8.8.8/", "http://[2001:4860::8888]/", "http://172.32.0.1/", "http://192.169.0.1/"]) expect(refused(u)).toBeNull();
    expect(refused("http://127.0.0.1:8080/", caps("net:fetch:127.0.0.1"))).toBeNull();
    expect(refused("http://localhost.:8080/", caps("net:fetch:localhost"))).toBeNull(); // one trailing dot is the same name
    expect(refused("http://example.com./", caps("net:fetch:example.com"))).toBeNull();
    expect(refused("http://evil.com/", caps("net:fetch:example.com"))).toBe("capability net:fetch:evil.com not granted");
  });

  test("outside an app session nothing is granted", async () => {
    const r = await runHost([`fetch|GET|${base}/hello`]);
    expect(r.lines[0]).toBe("fetch: err fetch: this guest runs outside an app session, so it holds no net:fetch capability");
  }, T);

  test("redirects are followed only while they stay within the granted hosts", async () => {
    const r = await runHost(
      [`fetch|GET|${base}/to-hello`, `fetch|GET|${base}/to-loopback-ip`, `fetch|POST|${base}/see-other|data`, `fetch|GET|${base}/loop`],
      app(caps("net:fetch:localhost")),
    );
    expect(r.lines[0]).toBe("fetch: ok 200 text/plain 5 hello");
    expect(r.lines[1]).toBe(`fetch: err fetch: redirected to http://127.0.0.1:${port}, but capability net:fetch:127.0.0.1 not granted`);
    expect(r.lines[2]).toMatch(/^fetch: ok 200 application\/json;charset=utf-8 \d+ \{"method":"GET","body":"",/);
    expect(r.lines[3]).toBe(`fetch: err fetch: more than ${FETCH_LIMITS.redirects} redirects`);
  }, T);

  test("bad input: invalid URL, other schemes, bad method", async () => {
    const r = await runHost([`fetch|GET|not a url`, `fetch|GET|file:///etc/passwd`, `fetch|GE T|${base}/hello`], app(caps("net:fetch:*")));
    expect(r.lines).toEqual([
      'fetch: err fetch: invalid URL "not a url"',
      "fetch: err fetch: only http and https URLs can be fetched, not file:",
      'fetch: err fetch: invalid method "GE T"',
    ]);
  }, T);

  test("bodies over the cap are refused, declared or streamed", async () => {
    const r = await runHost([`fetch|GET|${base}/big`, `fetch|GET|${base}/big-chunked`], app(caps("net:fetch:localhost")));
    const msg = `fetch: err fetch: the response body is larger than ${FETCH_LIMITS.bodyBytes} bytes`;
    expect(r.lines).toEqual([msg, msg]);
  }, T);

  test("network errors and timeouts are errs", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const deadPort = closed.port;
    closed.stop(true);
    const saved = FETCH_LIMITS.timeoutMs;
    FETCH_LIMITS.timeoutMs = 300;
    try {
      const r = await runHost([`fetch|GET|http://localhost:${deadPort}/`, `fetch|GET|${base}/hang`], app(caps("net:fetch:localhost")));
      expect(r.lines[0]).toStartWith(`fetch: err fetch: http://localhost:${deadPort}: `);
      expect(r.lines[1]).toBe(`fetch: err fetch: no complete answer from ${base} within 0.3 s`);
    } finally {
      FETCH_LIMITS.timeoutMs = saved;
    }
  }, T);

  test("stopping a guest while its fetch is in flight ends it at once and aborts the request", async () => {
    const entered = new Promise<void>((r) => (hangEntered = r));
    const before = aborted.length;
    const g = await startHost([`fetch|GET|${base}/hang`], app(caps("net:fetch:localhost")));
    await entered;
    const t0 = performance.now();
    g.guest.stop();
    expect((await g.guest.exited).kind).toBe("stopped");
    expect(performance.now() - t0).toBeLessThan(1000);
    const deadline = Date.now() + 5000;
    while (aborted.length === before && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(aborted.length).toBe(before + 1);
  }, T);
});

describe("weft:app/notifications", () => {
  test("allowed: the session's notify gets title, body and icon", async () => {
    const got: Notification[] = [];
    const r = await runHost(["notify|Hello|World ✓|icon.png", "notify|No icon|b"], app(caps("sys:notifications"), (n) => got.push(n)));
    expect(r.lines).toEqual(["notify: ok", "notify: ok"]);
    expect(got).toEqual([
      { title: "Hello", body: "World ✓", icon: "icon.png" },
      { title: "No icon", body: "b", icon: null },
    ]);
  }, T);

  test("denied without sys:notifications; nothing is shown", async () => {
    const got: Notification[] = [];
    const r = await runHost(["notify|t|b"], app(caps("net:fetch:*"), (n) => got.push(n)));
    expect(r.lines).toEqual(["notify: err notifications: capability sys:notifications not granted"]);
    expect(got).toEqual([]);
  }, T);

  test("sizes are capped and posting is rate-limited", async () => {
    const got: Notification[] = [];
    const n = NOTIFY_LIMITS.perWindow;
    const cmds = [`notify|${"x".repeat(NOTIFY_LIMITS.titleChars + 1)}|b`, ...Array.from({ length: n + 1 }, (_, i) => `notify|t${i}|b`)];
    const r = await runHost(cmds, app(caps("sys:notifications"), (x) => got.push(x), "org.weft.test.chatty"));
    expect(r.lines[0]).toBe(`notify: err notifications: the title is longer than ${NOTIFY_LIMITS.titleChars} characters`);
    expect(r.lines.slice(1, n + 1)).toEqual(Array(n).fill("notify: ok"));
    expect(r.lines[n + 1]).toBe(`notify: err notifications: too many notifications (at most ${n} per ${NOTIFY_LIMITS.windowMs / 1000} s)`);
    expect(got.length).toBe(n);
    // The budget is the app's, not the session's: a restarted session does not get a fresh one.
    const again = await runHost(["notify|t|b"], app(caps("sys:notifications"), (x) => got.push(x), "org.weft.test.chatty"));
    expect(again.lines).toEqual([`notify: err notifications: too many notifications (at most ${n} per ${NOTIFY_LIMITS.windowMs / 1000} s)`]);
  }, T);
});
