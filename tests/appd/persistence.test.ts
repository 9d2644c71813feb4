// Running apps survive a stop/start; corrupt session files never stop weft.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDaemon } from "../../src/appd/daemon.ts";
import { SESSION_FILE, saveSessions, takeSavedSessions } from "../../src/appd/persistence.ts";
import { tempDir } from "../helpers.ts";
import { testDaemon } from "./fixtures.ts";

function waitRunning(d: Awaited<ReturnType<typeof startDaemon>>, n: number, ms = 10_000): Promise<void> {
  const ok = () => d.sessions.running().filter((s) => s.state === "running").length >= n;
  if (ok()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (off(), reject(new Error(`fewer than ${n} sessions running`))), ms);
    const off = d.sessions.on(() => ok() && (clearTimeout(t), off(), resolve()));
  });
}

describe("session persistence", () => {
  test("shutdown saves the running apps; the next start relaunches them and consumes the file", async () => {
    await using first = await testDaemon();
    const rt = join(process.env.XDG_RUNTIME_DIR!, "weft");
    await first.sessions.launch("org.weft.test.ready");
    await first.sessions.launch("org.weft.example.hello");
    await waitRunning(first, 2);
    await first.shutdown();
    const saved = JSON.parse(readFileSync(join(rt, SESSION_FILE), "utf8"));
    expect(saved.sessions).toEqual([{ app_id: "org.weft.test.ready" }, { app_id: "org.weft.example.hello" }]);
    const second = await startDaemon({ socketPath: join(process.env.XDG_RUNTIME_DIR!, "appd2.sock"), httpPort: false });
    try {
      await waitRunning(second, 2);
      expect(second.sessions.running().map((s) => s.appId).sort()).toEqual(["org.weft.example.hello", "org.weft.test.ready"]);
      expect(existsSync(join(rt, SESSION_FILE))).toBe(false);
    } finally {
      await second.close();
    }
  });

  test("WEFT's plain-array form is read", () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, SESSION_FILE), JSON.stringify(["org.weft.demo.counter", "org.x.y"]));
    expect(takeSavedSessions(dir.path)).toEqual([{ app_id: "org.weft.demo.counter" }, { app_id: "org.x.y" }]);
    expect(existsSync(join(dir.path, SESSION_FILE))).toBe(false);
  });

  for (const [name, body] of [
    ["truncated JSON", '{"version":1,"sessions":[{"app_'],
    ["binary garbage", "\u0000\u00ff\u0001"],
    ["wrong shape", '{"hello":"world"}'],
  ] as const) {
    test(`a corrupt file (${name}) is set aside with nothing launched`, () => {
      using dir = tempDir();
      writeFileSync(join(dir.path, SESSION_FILE), body);
      expect(takeSavedSessions(dir.path)).toEqual([]);
      const files = readdirSync(dir.path);
      expect(files.length).toBe(1);
      expect(files[0]).toMatch(/^last-session\.json\.corrupt-\d+$/);
    });
  }

  test("entries that are not app ids are ignored, never used as paths", () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, SESSION_FILE), JSON.stringify(["../../etc", "org.ok.app"]));
    expect(takeSavedSessions(dir.path)).toEqual([{ app_id: "org.ok.app" }]);
    // Nor are state tokens: anything but 32 hex digits is dropped (that app starts with fresh state).
    const token = "0123456789abcdef0123456789abcdef";
    writeFileSync(
      join(dir.path, SESSION_FILE),
      JSON.stringify({ version: 1, sessions: [{ app_id: "org.a.b", state: "../../../etc" }, { app_id: "org.c.d", state: token }, { app_id: "org.e.f", state: 7 }] }),
    );
    expect(takeSavedSessions(dir.path)).toEqual([{ app_id: "org.a.b" }, { app_id: "org.c.d", state: token }, { app_id: "org.e.f" }]);
  });

  test("a save is atomic: no temp file is left and the result parses", () => {
    using dir = tempDir();
    saveSessions(dir.path, [{ app_id: "org.a.b" }]);
    expect(readdirSync(dir.path)).toEqual([SESSION_FILE]);
    expect(takeSavedSessions(dir.path)).toEqual([{ app_id: "org.a.b" }]);
  });

  test("apps with persist_state get a private /state that a restart brings back; other sessions' state is theirs alone", async () => {
    await using first = await testDaemon();
    const rt = join(process.env.XDG_RUNTIME_DIR!, "weft");
    const stateRoot = join(process.env.XDG_STATE_HOME!, "weft", "session-state", "org.weft.test.state");
    const counts = (d: { sessions: { sessions: Map<number, { appId: string; log: { text: string }[] }> } }) =>
      [...d.sessions.sessions.values()].filter((s) => s.appId === "org.weft.test.state").map((s) => s.log.find((l) => l.text.startsWith("count="))?.text);
    const a = await first.sessions.launch("org.weft.test.state");
    const b = await first.sessions.launch("org.weft.test.state");
    const plain = await first.sessions.launch("org.weft.test.ready");
    await waitRunning(first, 3);
    expect(counts(first)).toEqual(["count=1", "count=1"]); // each session its own /state
    expect(a.stateToken).toMatch(/^[0-9a-f]{32}$/);
    expect(b.stateToken).not.toBe(a.stateToken);
    expect(plain.stateToken).toBeUndefined();
    // A session that ends for good takes its state with it.
    await b.terminate();
    expect(readdirSync(stateRoot)).toEqual([a.stateToken!]);
    // A crash leftover (no saved session names it) is swept at the next start.
    const orphan = "ffffffffffffffffffffffffffffffff";
    mkdirSync(join(stateRoot, orphan));
    await first.shutdown();
    const saved = JSON.parse(readFileSync(join(rt, SESSION_FILE), "utf8"));
    expect(saved.sessions).toEqual([{ app_id: "org.weft.test.state", state: a.stateToken }, { app_id: "org.weft.test.ready" }]);
    expect(readdirSync(stateRoot).sort()).toEqual([a.stateToken!, orphan].sort());
    const second = await startDaemon({ socketPath: join(process.env.XDG_RUNTIME_DIR!, "appd2.sock"), httpPort: false });
    try {
      await waitRunning(second, 2);
      expect(counts(second)).toEqual(["count=2"]); // its own count went on
      expect([...second.sessions.sessions.values()].find((s) => s.appId === "org.weft.test.state")?.stateToken).toBe(a.stateToken);
      expect(readdirSync(stateRoot)).toEqual([a.stateToken!]);
    } finally {
      await second.close();
    }
    expect(existsSync(join(stateRoot, a.stateToken!))).toBe(false); // close() without saving: gone for good
  });
});
