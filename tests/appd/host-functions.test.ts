// weft:app's host calls through the daemon: an installed component app
// (tests/components/host.js in ipc mode) launched over the Unix socket, its
// capabilities from wapp.toml, commands sent with IPC_FORWARD, results back as
// IPC_MESSAGE; notifications as the NOTIFICATION broadcast on a real
// authenticated WebSocket; the clipboard of a compositor in the same process
// (wl-paste reads what the app wrote).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installPackage } from "../../src/appd/package-store.ts";
import type { Response } from "../../src/ipc/messages.ts";
import { Harness } from "../compositor/helpers.ts";
import { ROOT } from "../helpers.ts";
import { HOST_GUEST, loadHostGuest } from "../runtime/host-guest.ts";
import { testDaemon, type TestDaemon } from "./fixtures.ts";
import { unixClient } from "./unix-client.ts";
import { within, wsConnect } from "./ws-client.ts";

let server: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("from the web", { headers: { "content-type": "text/plain" } }) });
  // Compile (or find in the disk cache) before testDaemon points HOME at a temp
  // dir: the daemon's launch then finds it in memory.
  await loadHostGuest();
}, 600_000);
afterAll(() => server?.stop(true));

async function install(d: TestDaemon, id: string, capabilities: string[], wasm = HOST_GUEST) {
  const src = join(d.dir, "src", id);
  mkdirSync(join(src, "ui"), { recursive: true });
  cpSync(wasm, join(src, "app.wasm"));
  writeFileSync(join(src, "ui", "index.html"), "<!doctype html><title>host</title>");
  writeFileSync(
    join(src, "wapp.toml"),
    `[package]\nid = "${id}"\nname = "Host"\nversion = "1.0.0"\ncapabilities = ${JSON.stringify(capabilities)}\n\n[runtime]\nmodule = "app.wasm"\n\n[ui]\nentry = "ui/index.html"\n`,
  );
  await installPackage(src, { root: process.env.WEFT_APP_STORE!, allowUnsigned: true });
}

/** Broadcasts seen by the daemon's API, with a wait that has a deadline. */
function watch(d: TestDaemon) {
  const seen: Response[] = [];
  const waiters: [(r: Response) => boolean, (r: Response) => void][] = [];
  d.api.subscribe((m) => {
    seen.push(m);
    for (const w of [...waiters]) if (w[0](m)) (waiters.splice(waiters.indexOf(w), 1), w[1](m));
  });
  const next = (pred: (r: Response) => boolean, what: string): Promise<Response> => {
    const found = seen.find(pred);
    if (found) return (seen.splice(seen.indexOf(found), 1), Promise.resolve(found));
    return within(new Promise<Response>((r) => waiters.push([pred, (m) => (seen.splice(seen.indexOf(m), 1), r(m))])), 20_000, what);
  };
  return { seen, next };
}

test("an app's fetch, notifications and clipboard go through its capabilities", async () => {
  const h = new Harness();
  try {
    await using d = await testDaemon({ httpPort: 0, clipboard: h.comp.dataDevice });
    await install(d, "org.weft.test.granted", ["net:fetch:127.0.0.1", "sys:notifications", "sys:clipboard:read", "sys:clipboard:write"]);
    await install(d, "org.weft.test.bare", []);
    const b = watch(d);
    const ws = await wsConnect(`ws://127.0.0.1:${d.http!.port}/ws?token=${d.http!.token}`, { api: d.api });
    const c = await unixClient(d.unix.path);
    const ask = async (session: number, command: string) => {
      expect(await c.request(["IPC_FORWARD", session, command])).toMatchObject({ type: "APP_STATE", state: "running" });
      const m = await b.next((r) => r.type === "IPC_MESSAGE" && r.session_id === session, `the answer to ${command}`);
      return (m as { payload: string }).payload;
    };
    try {
      expect(await c.request(["LAUNCH_APP", "org.weft.test.granted", 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 1 });
      expect(await c.request(["LAUNCH_APP", "org.weft.test.bare", 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 2 });
      await b.next((m) => m.type === "APP_READY" && m.session_id === 1, "APP_READY 1");
      await b.next((m) => m.type === "APP_READY" && m.session_id === 2, "APP_READY 2");

      const url = `http://127.0.0.1:${server.port}/`;
      expect(await ask(1, `fetch|GET|${url}`)).toBe("fetch: ok 200 text/plain 12 from the web");
      expect(await ask(2, `fetch|GET|${url}`)).toBe("fetch: err fetch: capability net:fetch:127.0.0.1 not granted");

      expect(await ask(1, "notify|Build done|All 12 tests passed|dialog-information")).toBe("notify: ok");
      const expected = { type: "NOTIFICATION", session_id: 1, app_id: "org.weft.test.granted", title: "Build done", body: "All 12 tests passed", icon: "dialog-information" };
      expect(await b.next((m) => m.type === "NOTIFICATION", "NOTIFICATION")).toEqual(expected as Response);
      expect(await ws.take((m) => m.type === "NOTIFICATION", 10_000, "NOTIFICATION on the WebSocket")).toEqual(expected);
      expect(await ask(1, "notify|No icon|b")).toBe("notify: ok");
      expect(await ws.take((m) => m.type === "NOTIFICATION", 10_000, "NOTIFICATION without icon")).toMatchObject({ title: "No icon", icon: null });
      expect(await ask(2, "notify|t|b")).toBe("notify: err notifications: capability sys:notifications not granted");

      expect(await ask(1, "clip-write|copied by an app")).toBe("clipboard.write: ok");
      expect(await h.run(["wl-paste", "--no-newline"])).toEqual({ code: 0, out: "copied by an app" });
      expect(await ask(1, "clip-read")).toBe('clipboard.read: ok "copied by an app"');
      expect(await ask(2, "clip-read")).toBe("clipboard.read: err clipboard: capability sys:clipboard:read not granted");
      expect(await ask(2, "clip-write|x")).toBe("clipboard.write: err clipboard: capability sys:clipboard:write not granted");

      // Only the granted app's notifications were broadcast.
      expect(ws.received.filter((m) => (m as { type?: string }).type === "NOTIFICATION")).toHaveLength(2);
    } finally {
      await c.close();
      await ws.close();
    }
  } finally {
    await h.dispose();
  }
}, 120_000);

test("an app that imports only notify and ipc links and runs (a hand-written WAT component)", async () => {
  await using d = await testDaemon();
  await install(d, "org.weft.test.minimal", [], join(ROOT, "tests", "components", "build", "wat-minimal.component.wasm"));
  const b = watch(d);
  const c = await unixClient(d.unix.path);
  try {
    expect(await c.request(["LAUNCH_APP", "org.weft.test.minimal", 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 1 });
    await b.next((m) => m.type === "APP_READY" && m.session_id === 1, "APP_READY");
    expect(await b.next((m) => m.type === "IPC_MESSAGE", "its message")).toEqual({ type: "IPC_MESSAGE", session_id: 1, payload: "hello from a minimal component" });
    await b.next((m) => m.type === "APP_STATE" && m.session_id === 1 && m.state === "stopped", "stopped");
    expect(await c.request(["QUERY_APP_STATE", 1])).toMatchObject({ state: "stopped", exit: { kind: "exit", code: 0 } });
  } finally {
    await c.close();
  }
}, 60_000);
