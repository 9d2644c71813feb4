// The appd API contract: every request and error path, run against every
// transport (Unix socket, WebSocket, …) so they cannot drift apart.
import { describe, expect, test } from "bun:test";
import type { Daemon } from "../../src/appd/daemon.ts";
import type { Response } from "../../src/ipc/messages.ts";
import { testDaemon, TEST_APPS } from "./fixtures.ts";

export interface ApiClient {
  request(msg: unknown): Promise<Response>;
  close(): Promise<void>;
}

/** Resolves when `pred` holds for the daemon's session events, with a deadline. */
function sessionEvent(d: Daemon, pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`timed out waiting for ${what}`))), ms);
    const off = d.sessions.on(() => {
      if (pred()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

export function apiContract(transport: string, connect: (d: Daemon) => Promise<ApiClient>): void {
  describe(`appd API over ${transport}`, () => {
    test("QUERY_INSTALLED_APPS lists every installed app, in map and array form", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        const map = await c.request({ type: "QUERY_INSTALLED_APPS" });
        const arr = await c.request(["QUERY_INSTALLED_APPS"]);
        expect(arr).toEqual(map);
        expect(map.type).toBe("INSTALLED_APPS");
        if (map.type !== "INSTALLED_APPS") return;
        expect(map.apps.map((a) => a.app_id).sort()).toEqual([...TEST_APPS.map((a) => a.id), "org.weft.example.hello"].sort());
        expect(map.apps.find((a) => a.app_id === "org.weft.test.ready")).toEqual({ app_id: "org.weft.test.ready", name: "Test ready", version: "1.0.0" });
      } finally {
        await c.close();
      }
    });

    test("launch → READY → running → terminate → stopped, ids from 1", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        const ack = await c.request(["LAUNCH_APP", "org.weft.test.ready", 0]);
        expect(ack).toEqual({ type: "LAUNCH_ACK", session_id: 1, app_id: "org.weft.test.ready" });
        await sessionEvent(d, () => d.sessions.sessions.get(1)?.state === "running", "READY");
        expect(await c.request({ type: "QUERY_APP_STATE", session_id: 1 })).toEqual({ type: "APP_STATE", session_id: 1, state: "running", app_id: "org.weft.test.ready" });
        expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [{ session_id: 1, app_id: "org.weft.test.ready" }] });
        const second = await c.request({ type: "LAUNCH_APP", app_id: "org.weft.test.ready", surface_id: 0 });
        expect(second).toEqual({ type: "LAUNCH_ACK", session_id: 2, app_id: "org.weft.test.ready" });
        // TERMINATE answers only once the guest is gone.
        const term = await c.request({ type: "TERMINATE_APP", session_id: 1 });
        expect(term).toMatchObject({ type: "APP_STATE", session_id: 1, state: "stopped", exit: { kind: "stopped" } });
        expect(d.sessions.sessions.get(1)!.guest).toBeNull();
        expect(await c.request({ type: "QUERY_RUNNING" })).toEqual({ type: "RUNNING_APPS", sessions: [{ session_id: 2, app_id: "org.weft.test.ready" }] });
        expect(await c.request(["TERMINATE_APP", 2])).toMatchObject({ state: "stopped" });
      } finally {
        await c.close();
      }
    });

    test("exit reasons: a trap, and a READY timeout", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        const trap = await c.request(["LAUNCH_APP", "org.weft.test.trap", 0]);
        expect(trap.type).toBe("LAUNCH_ACK");
        await sessionEvent(d, () => d.sessions.sessions.get(1)?.state === "stopped", "trap");
        expect(await c.request(["QUERY_APP_STATE", 1])).toMatchObject({ state: "stopped", exit: { kind: "trap", message: expect.stringContaining("unreachable") } });
        await c.request(["LAUNCH_APP", "org.weft.test.silent", 0]);
        await sessionEvent(d, () => d.sessions.sessions.get(2)?.state === "stopped", "READY timeout");
        expect(await c.request(["QUERY_APP_STATE", 2])).toMatchObject({ state: "stopped", exit: { kind: "ready-timeout" } });
      } finally {
        await c.close();
      }
    }, 15_000);

    test("a crash loop ends in a permanent failure, reported through the API", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        await c.request(["LAUNCH_APP", "org.weft.test.crashy", 0]);
        await sessionEvent(d, () => d.sessions.sessions.get(1)?.state === "stopped", "permanent failure");
        expect(await c.request(["QUERY_APP_STATE", 1])).toMatchObject({ state: "stopped", failed: true, restarts: 3, exit: { kind: "trap" } });
      } finally {
        await c.close();
      }
    });

    test("capabilities decide what a guest can reach: rw, read-only, nothing", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        const seen: Record<string, string> = {};
        for (const app of ["capsrw", "capsro", "capsnone"]) {
          const ack = await c.request(["LAUNCH_APP", `org.weft.test.${app}`, 0]);
          if (ack.type !== "LAUNCH_ACK") throw new Error(JSON.stringify(ack));
          await sessionEvent(d, () => d.sessions.sessions.get(ack.session_id)?.state === "stopped", app);
          const logs = await c.request({ type: "QUERY_LOGS", session_id: ack.session_id });
          if (logs.type !== "LOGS") throw new Error(JSON.stringify(logs));
          seen[app] = logs.lines.map((l) => l.text).join(",");
        }
        expect(seen).toEqual({
          capsrw: "data: rw,docs: rw,host: none,READY",
          capsro: "data: ro,docs: ro,host: none,READY",
          capsnone: "data: none,docs: none,host: none,READY",
        });
      } finally {
        await c.close();
      }
    });

    test("errors: unknown app, unknown session, bad requests, IPC to a Preview 1 app", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        expect(await c.request(["LAUNCH_APP", "org.weft.nope.missing", 0])).toMatchObject({ type: "ERROR", code: 3, message: expect.stringContaining("not installed") });
        expect(await c.request(["LAUNCH_APP", "../../etc", 0])).toMatchObject({ type: "ERROR", code: 3 });
        expect(await c.request(["TERMINATE_APP", 99])).toMatchObject({ type: "ERROR", code: 2 });
        expect(await c.request(["QUERY_APP_STATE", 99])).toEqual({ type: "APP_STATE", session_id: 99, state: "not_found" });
        expect(await c.request({ type: "NO_SUCH_THING" })).toMatchObject({ type: "ERROR", code: 1, message: expect.stringContaining("unknown request type") });
        expect(await c.request({ type: "LAUNCH_APP", app_id: 5, surface_id: 0 })).toMatchObject({ type: "ERROR", code: 1, message: "LAUNCH_APP.app_id must be a string" });
        expect(await c.request({ type: "TERMINATE_APP", session_id: -1 })).toMatchObject({ type: "ERROR", code: 1 });
        expect(await c.request([])).toMatchObject({ type: "ERROR", code: 1 });
        expect(await c.request("LAUNCH_APP")).toMatchObject({ type: "ERROR", code: 1 });
        await c.request(["LAUNCH_APP", "org.weft.test.ready", 0]);
        expect(await c.request(["IPC_FORWARD", 1, "{}"])).toMatchObject({ type: "ERROR", code: 6 });
        expect(await c.request(["IPC_FORWARD", 42, "{}"])).toMatchObject({ type: "ERROR", code: 2 });
      } finally {
        await c.close();
      }
    });

    test("PANEL_GESTURE answers NAVIGATION_GESTURE", async () => {
      await using d = await testDaemon();
      const c = await connect(d);
      try {
        expect(await c.request(["PANEL_GESTURE", 0, 3, 120.5, -4])).toEqual({ type: "NAVIGATION_GESTURE", gesture_type: 0, fingers: 3, dx: 120.5, dy: -4 });
      } finally {
        await c.close();
      }
    });
  });
}
