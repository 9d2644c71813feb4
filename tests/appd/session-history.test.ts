// Ended sessions stay queryable for a while, then are forgotten: a daemon
// that launches apps for months must not keep every session it ever ran
// (their log lines, their compiled code).
import { describe, expect, test } from "bun:test";
import { parseManifest } from "../../src/appd/manifest.ts";
import { ENDED_SESSIONS_KEPT, SessionManager } from "../../src/appd/sessions.ts";
import { Api } from "../../src/appd/api.ts";
import { loadModule } from "../../src/runtime/cache.ts";
import { guestBytes } from "../helpers.ts";
import { MANIFEST } from "./helpers.ts";

describe("ended sessions", () => {
  test(`the ${ENDED_SESSIONS_KEPT} most recent stay queryable; older ones are forgotten`, async () => {
    const manifest = parseManifest(MANIFEST("org.example.history")).manifest!;
    const hello = loadModule(await guestBytes("hello"));
    const mgr = new SessionManager({ endedKept: 3 });
    const api = new Api(mgr);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      let ended!: () => void;
      const stopped = new Promise<void>((r) => (ended = r));
      const off = mgr.on((e) => e.type === "state" && e.session.state === "stopped" && ended());
      const s = mgr.startSession("org.example.history", manifest, hello, [], { readyOnStart: true, quiet: true });
      ids.push(s.id);
      await stopped; // hello prints its line and exits 0
      off();
    }
    const state = async (id: number) => ((await api.handle({ type: "QUERY_APP_STATE", session_id: id })) as { state: string }).state;
    expect(await Promise.all(ids.map(state))).toEqual(["not_found", "not_found", "stopped", "stopped", "stopped"]);
    // What a kept one still tells: its log.
    const logs = await api.handle({ type: "QUERY_LOGS", session_id: ids[4] });
    expect(logs).toMatchObject({ type: "LOGS", session_id: ids[4] });
    expect((logs as { lines: { text: string }[] }).lines.map((l) => l.text).join("")).toContain("hello from wasm");
    expect(mgr.sessions.size).toBe(3);
  });
});
