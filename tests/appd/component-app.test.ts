// A component app end to end through the daemon: notify.ready() makes it
// running, IPC_FORWARD reaches its ipc.recv(), its ipc.send() comes back as
// an IPC_MESSAGE broadcast. The guest is JavaScript made a component with
// componentize-js (scripts/build-components.sh).
import { expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installPackage } from "../../src/appd/package-store.ts";
import type { Response } from "../../src/ipc/messages.ts";
import { ROOT } from "../helpers.ts";
import { testDaemon } from "./fixtures.ts";
import { unixClient } from "./unix-client.ts";

test("component app: ready, ping → pong over IPC, quit → stopped", async () => {
  await using d = await testDaemon();
  const src = join(d.dir, "src", "org.weft.test.pingpong");
  mkdirSync(join(src, "ui"), { recursive: true });
  cpSync(join(ROOT, "tests", "components", "build", "js-notify-ready.component.wasm"), join(src, "app.wasm"));
  writeFileSync(join(src, "ui", "index.html"), "<!doctype html><title>pingpong</title>");
  writeFileSync(
    join(src, "wapp.toml"),
    `[package]\nid = "org.weft.test.pingpong"\nname = "Ping"\nversion = "1.0.0"\n\n[runtime]\nmodule = "app.wasm"\n\n[ui]\nentry = "ui/index.html"\n`,
  );
  await installPackage(src, { root: process.env.WEFT_APP_STORE!, allowUnsigned: true });

  const seen: Response[] = [];
  const waiters: [(r: Response) => boolean, () => void][] = [];
  d.api.subscribe((m) => {
    seen.push(m);
    for (const w of [...waiters]) if (w[0](m)) (waiters.splice(waiters.indexOf(w), 1), w[1]());
  });
  const broadcast = (pred: (r: Response) => boolean, what: string) =>
    seen.some(pred)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${what} broadcast`)), 120_000);
          waiters.push([pred, () => (clearTimeout(t), resolve())]);
        });

  const c = await unixClient(d.unix.path);
  try {
    // The first launch compiles a 12 MB component (tens of seconds); later ones hit the cache.
    expect(await c.request(["LAUNCH_APP", "org.weft.test.pingpong", 0])).toEqual({ type: "LAUNCH_ACK", session_id: 1, app_id: "org.weft.test.pingpong" });
    await broadcast((m) => m.type === "APP_READY" && m.session_id === 1, "APP_READY");
    expect(await c.request(["IPC_FORWARD", 1, "ping"])).toMatchObject({ type: "APP_STATE", state: "running" });
    await broadcast((m) => m.type === "IPC_MESSAGE" && m.session_id === 1 && m.payload === "pong", "IPC_MESSAGE pong");
    expect(await c.request(["IPC_FORWARD", 1, "quit"])).toMatchObject({ type: "APP_STATE" });
    await broadcast((m) => m.type === "APP_STATE" && m.session_id === 1 && m.state === "stopped", "stopped");
    expect(await c.request(["QUERY_APP_STATE", 1])).toMatchObject({ state: "stopped", exit: { kind: "exit", code: 0 } });
    expect(await c.request(["IPC_FORWARD", 1, "ping"])).toMatchObject({ type: "ERROR", code: 2 });
  } finally {
    await c.close();
  }
}, 180_000);
