// sd_notify against a real Unix datagram socket (bound by python3, not by
// weft): the protocol in-process, then a real `weft run` under a fake
// systemd — READY, STATUS, WATCHDOG and STOPPING in order, exit 0 on SIGTERM.
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { systemdNotifier } from "../../src/system/sdnotify.ts";
import { tempDir, WEFT } from "../helpers.ts";
import { fields, notifyPeer, readLines } from "./helpers.ts";

describe("sd_notify protocol", () => {
  test("READY, STATUS (only when it changes) and STOPPING arrive as KEY=VALUE datagrams; the variables leave the environment", async () => {
    using dir = tempDir();
    await using peer = await notifyPeer(join(dir.path, "notify.sock"));
    const env: Record<string, string | undefined> = { NOTIFY_SOCKET: peer.path, WATCHDOG_USEC: "5000000", WATCHDOG_PID: String(process.pid) };
    const sd = systemdNotifier(env);
    expect({ enabled: sd.enabled, watchdogMs: sd.watchdogMs, env }).toEqual({ enabled: true, watchdogMs: 5000, env: {} });
    sd.ready("0 apps running");
    sd.status("0 apps running"); // unchanged: not sent
    sd.status("1 app running\nsecond line");
    sd.stopping();
    sd.close();
    await peer.until((d) => d.length >= 3, "three datagrams");
    expect(peer.got.map((d) => d.msg)).toEqual(["READY=1\nSTATUS=0 apps running\n", "STATUS=1 app running second line\n", "STOPPING=1\n"]);
  });

  test("an abstract-namespace NOTIFY_SOCKET (@name) works", async () => {
    await using peer = await notifyPeer(`@weft-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const sd = systemdNotifier({ NOTIFY_SOCKET: peer.path });
    sd.ready();
    sd.close();
    await peer.until((d) => d.length >= 1, "READY");
    expect(peer.got.map((d) => d.msg)).toEqual(["READY=1\n"]);
  });

  test("without NOTIFY_SOCKET nothing is sent and nothing fails; a WATCHDOG_PID of another process disables the watchdog", () => {
    const none = systemdNotifier({});
    expect({ enabled: none.enabled, sent: none.send({ READY: 1 }), watchdogMs: none.watchdogMs }).toEqual({ enabled: false, sent: false, watchdogMs: 0 });
    none.startWatchdog()();
    expect(systemdNotifier({ NOTIFY_SOCKET: "/nonexistent/sock", WATCHDOG_USEC: "1000000", WATCHDOG_PID: "1" }).watchdogMs).toBe(0);
  });

  test("a socket that went away costs a warning, not a crash", () => {
    const sd = systemdNotifier({ NOTIFY_SOCKET: "/nonexistent/weft-notify.sock" });
    expect(sd.send({ READY: 1 })).toBe(false);
    expect(sd.send({ WATCHDOG: 1 })).toBe(false);
    sd.close();
  });

  test("WATCHDOG=1 comes from a loop timer: a stalled loop stops the pings", async () => {
    using dir = tempDir();
    await using peer = await notifyPeer(join(dir.path, "notify.sock"));
    const sd = systemdNotifier({ NOTIFY_SOCKET: peer.path, WATCHDOG_USEC: "40000" }); // ping every 20 ms
    const stop = sd.startWatchdog();
    try {
      await peer.until((d) => d.length >= 3, "three pings");
      // Stall the loop on purpose (this is the failure being tested, not a wait).
      const stallMs = 300;
      const t0 = performance.now();
      Bun.sleepSync(stallMs);
      const before = peer.got.length;
      await peer.until((d) => d.length >= before + 2, "pings after the stall");
      const times = peer.got.map((d) => d.ms);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      expect(peer.got.every((d) => d.msg === "WATCHDOG=1\n")).toBe(true);
      expect(Math.max(...gaps)).toBeGreaterThan(stallMs * 0.8);
      expect(performance.now() - t0).toBeGreaterThan(stallMs);
    } finally {
      stop();
      sd.close();
    }
  });
});

describe("weft run under a notify socket", () => {
  test("READY=1 with a readable STATUS once the engines are up, WATCHDOG=1 pings, STOPPING=1 on SIGTERM, exit 0", async () => {
    using dir = tempDir();
    await using peer = await notifyPeer(join(dir.path, "notify.sock"));
    const env = {
      ...process.env,
      XDG_RUNTIME_DIR: join(dir.path, "run"),
      WEFT_APP_STORE: join(dir.path, "store"),
      WEFT_LOG: "warn",
      NOTIFY_SOCKET: peer.path,
      WATCHDOG_USEC: "200000",
    };
    mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    const proc = Bun.spawn(["bun", WEFT, "run", "--http-port", "0"], { env, stdout: "pipe", stderr: "pipe" });
    const stderr = new Response(proc.stderr).text();
    try {
      const lines = readLines(proc.stdout);
      const printed: string[] = [];
      for await (const l of lines) if (printed.push(l) && l.startsWith("APPD_URL=")) break;
      expect(printed.map((l) => l.split("=")[0])).toEqual(["WAYLAND_DISPLAY", "APPD_SOCKET", "APPD_URL"]);
      await peer.until((d) => d.filter((x) => x.msg === "WATCHDOG=1\n").length >= 2, "two watchdog pings");
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
    await peer.until((d) => d.some((x) => x.msg.startsWith("STOPPING=1")), "STOPPING=1");
    const msgs = peer.got.map((d) => d.msg);
    expect(fields(msgs[0])).toEqual([
      ["READY", "1"],
      ["STATUS", "0 apps running, 0 Wayland clients, 0 API connections"],
    ]);
    const stopping = msgs.findIndex((m) => m.startsWith("STOPPING=1"));
    expect(fields(msgs[stopping])).toEqual([
      ["STOPPING", "1"],
      ["STATUS", "stopping (SIGTERM): saving 0 running apps"],
    ]);
    // In order: READY first, pings in between, STOPPING last; nothing else.
    expect(msgs.slice(1, stopping).every((m) => m === "WATCHDOG=1\n" || m.startsWith("STATUS="))).toBe(true);
    expect(stopping).toBe(msgs.length - 1);
    expect(await stderr).not.toContain("sd_notify");
  }, 30_000);
});
