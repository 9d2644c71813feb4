// `weft apps/launch/ps/stop/logs` against a running daemon, as separate processes.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { testDaemon } from "../appd/fixtures.ts";
import { tempDir, weft } from "../helpers.ts";

describe("weft apps / launch / ps / stop / logs", () => {
  test("the whole cycle against a running weft", async () => {
    await using d = await testDaemon();
    const env = { WEFT_APPD_SOCKET: d.unix.path };
    const apps = await weft(["apps"], { env });
    expect(apps.code).toBe(0);
    expect(apps.stdout.split("\n")[0]).toMatch(/^APP\s+NAME\s+VERSION$/);
    expect(apps.stdout).toContain("org.weft.example.hello  Hello");
    const launched = await weft(["launch", "org.weft.test.capsrw"], { env });
    expect(launched).toEqual({ code: 0, stdout: "session 1: org.weft.test.capsrw starting\n", stderr: "" });
    await weft(["launch", "org.weft.test.ready"], { env });
    // Session 1 prints what it can reach and exits: `ps` lists only running apps, so wait for that exit.
    await new Promise<void>((resolve) => {
      const done = () => d.sessions.sessions.get(1)?.state === "stopped";
      if (done()) return resolve();
      const off = d.sessions.on(() => done() && (off(), resolve()));
    });
    const ps = await weft(["ps"], { env });
    expect(ps.stdout).toMatch(/^SESSION\s+APP\s+STATE\n2\s+org\.weft\.test\.ready\s+(starting|running)\n$/);
    const logs = await weft(["logs", "1"], { env });
    expect(logs).toEqual({ code: 0, stdout: "data: rw\ndocs: rw\nhost: none\nREADY\n", stderr: "" });
    expect(await weft(["stop", "2"], { env })).toEqual({ code: 0, stdout: "session 2: stopped\n", stderr: "" });
    expect((await weft(["ps"], { env })).stdout).toBe("no apps running\n");
  });

  test("clear errors: weft not running, unknown app, bad arguments", async () => {
    using dir = tempDir();
    const env = { WEFT_APPD_SOCKET: join(dir.path, "nothing.sock") };
    const down = await weft(["ps"], { env });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^weft: weft is not running \(no socket at .*nothing\.sock\); start it with `weft run`\n$/);
    await using d = await testDaemon();
    const up = { WEFT_APPD_SOCKET: d.unix.path };
    const missing = await weft(["launch", "org.no.such"], { env: up });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("not installed");
    expect((await weft(["stop", "abc"], { env: up })).code).toBe(2);
    expect((await weft(["stop"], { env: up })).stderr).toContain("missing SESSION_ID");
    expect((await weft(["stop", "77"], { env: up })).stderr).toBe("weft: no session 77\n");
    expect((await weft(["launch", "--help"], { env: up })).stdout).toContain("Usage: weft launch APP_ID");
  });
});
