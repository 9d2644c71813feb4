// Services: svc/<name>/ start after pid0 as supervised sessions (output
// captured, restart policy from their own etc/), stoppable, and gone when
// pid0 ends — in-process and through `weft ps` / `weft stop` / `weft logs`.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SessionManager } from "../../src/appd/sessions.ts";
import { Cell } from "../../src/cell/cell.ts";
import { openImage, type Image } from "../../src/cell/image.ts";
import { ROOT, tempDir, WEFT } from "../helpers.ts";
import { image, until } from "./helpers.ts";

// Sessions log every start and exit at info; keep the test output readable (restored after).
const savedLog = process.env.WEFT_LOG;
beforeAll(() => void (process.env.WEFT_LOG ??= "error"));
afterAll(() => {
  if (savedLog === undefined) delete process.env.WEFT_LOG;
  else process.env.WEFT_LOG = savedLog;
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(layers: string[], args: string[] = []) {
  const mgr = new SessionManager({ backoffMs: () => 10 });
  const img: Image = await openImage(layers);
  const cell = await Cell.start(img, { stdin: "none", stdout: "discard", stderr: "discard", args, sessions: mgr });
  cleanups.push(async () => {
    cell.stop();
    await cell.exited;
    await img.close();
  });
  return { mgr, cell, on: (fn: () => void) => mgr.on(fn) };
}

describe("services", () => {
  test("start after pid0 as sessions with captured output; restart per their own etc/; stop one; all end with pid0", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), {
      "bin/main.wasm": { guest: "sleep" },
      "svc/ticker/bin/main.wasm": { guest: "sleep_loop" },
      "svc/ticker/etc/cell.toml": `[service]\nargs = ["0", "5", "verbose"]\n`,
      "svc/flaky/bin/main.wasm": { guest: "exit" },
      "svc/flaky/etc/cell.toml": `[service]\nargs = ["3"]\nrestart = "on-failure"\nmax_restarts = 2\n`,
      "svc/once/bin/main.wasm": { guest: "exit" },
    });
    const { mgr, cell, on } = await start([img], ["60000"]);
    expect(cell.pid0.running).toBe(true);
    const [flaky, once, ticker] = cell.services;
    expect(cell.services.map((s) => s.appId)).toEqual(["svc/flaky", "svc/once", "svc/ticker"]);
    expect(ticker.state).toBe("running"); // no READY handshake for services
    await until(on, () => ticker.log.some((l) => l.text === "tick 3"), "ticker output captured");
    // on-failure: two restarts, then a permanent failure.
    await until(on, () => flaky.failed, "flaky to fail permanently");
    expect(flaky.restarts).toBe(2);
    expect(flaky.exit).toEqual({ kind: "exit", code: 3 });
    // restart = "no" (the default): a clean exit is final.
    await until(on, () => once.state === "stopped", "once to end");
    expect(once.restarts).toBe(0);
    expect(mgr.running().map((s) => s.appId)).toEqual(["svc/ticker"]);
    await ticker.terminate();
    expect(ticker.state).toBe("stopped");
    expect(cell.pid0.running).toBe(true); // a service ending does not end the cell
  }, 20_000);

  test("a restart = always service comes back after being stopped by its own exit, and is stopped when pid0 ends", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), {
      "bin/main.wasm": { guest: "sleep" },
      "svc/loop/bin/main.wasm": { guest: "exit" },
      "svc/loop/etc/cell.toml": `[service]\nrestart = "always"\nmax_restarts = 1000\n`,
      "svc/idle/bin/main.wasm": { guest: "sleep_loop" },
    });
    const { cell, on } = await start([img], ["300"]);
    const [idle, loop] = cell.services;
    await until(on, () => loop.restarts >= 3, "three restarts");
    const status = await cell.exited;
    expect(status).toMatchObject({ kind: "exit", code: 0 });
    expect(idle.state).toBe("stopped");
    expect(loop.state).toBe("stopped");
  }, 20_000);
});

test("a service holds its own etc/ grants through weft:cell", async () => {
  using d = tempDir();
  const wasm = new Uint8Array(await Bun.file(join(ROOT, "tests", "cell", "build", "cellctl.component.wasm")).arrayBuffer());
  await image(join(d.path, "data"), { "f.txt": "for the service" });
  const img = await image(join(d.path, "img"), {
    "bin/main.wasm": { guest: "sleep" },
    "svc/reader/bin/main.wasm": wasm,
    "svc/reader/etc/cell.toml": `[service]\nargs = ["read", "/d", "f.txt"]\n[[dir]]\nhost = "${join(d.path, "data")}"\nguest = "/d"\n`,
  });
  const { cell, on } = await start([img], ["60000"]);
  const [reader] = cell.services;
  await until(on, () => reader.state === "stopped", "the reader to finish", 20_000);
  expect(reader.exit).toEqual({ kind: "exit", code: 0 });
  expect(reader.log.map((l) => l.text)).toEqual(["for the service"]);
}, 30_000);

describe("weft cell run with services", () => {
  test("`weft ps` lists them, `weft logs` shows their output, `weft stop` stops one; closing pid0's stdin ends the cell", async () => {
    using d = tempDir();
    const img = await image(join(d.path, "img"), {
      "bin/main.wasm": { guest: "stdin_echo" },
      "svc/talker/bin/main.wasm": { guest: "sleep_loop" },
      "svc/talker/etc/cell.toml": `[service]\nargs = ["0", "20", "verbose"]\n`,
      "svc/quiet/bin/main.wasm": { guest: "sleep_loop" },
    });
    const socket = join(d.path, "cell.sock");
    const env = { ...process.env, WEFT_APPD_SOCKET: socket, WEFT_LOG: "warn" };
    const proc = Bun.spawn(["bun", WEFT, "cell", "run", img], { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    cleanups.push(() => void proc.kill());
    const ctl = async (...args: string[]) => {
      const p = Bun.spawn(["bun", WEFT, ...args], { env, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    };
    // The socket appears once the services are up; ps until both are listed (deadline).
    const end = performance.now() + 15_000;
    let ps = await ctl("ps");
    while (!(ps.code === 0 && ps.out.includes("svc/talker") && ps.out.includes("svc/quiet"))) {
      if (performance.now() > end) throw new Error(`services never listed: ${JSON.stringify(ps)}`);
      await Bun.sleep(50); // polling another process; no event to wait on
      ps = await ctl("ps");
    }
    const ids = Object.fromEntries([...ps.out.matchAll(/^(\d+)\s+(svc\/\S+)\s+running/gm)].map((m) => [m[2], m[1]]));
    expect(Object.keys(ids).sort()).toEqual(["svc/quiet", "svc/talker"]);
    let logs = await ctl("logs", ids["svc/talker"]);
    while (!logs.out.includes("tick 2")) {
      if (performance.now() > end) throw new Error(`no talker output: ${JSON.stringify(logs)}`);
      await Bun.sleep(50);
      logs = await ctl("logs", ids["svc/talker"]);
    }
    expect(logs.out).toStartWith("READY\ntick 1\ntick 2\n");
    const stop = await ctl("stop", ids["svc/talker"]);
    expect(stop).toMatchObject({ code: 0, out: `session ${ids["svc/talker"]}: stopped\n` });
    ps = await ctl("ps");
    expect(ps.out).not.toContain("svc/talker");
    expect(ps.out).toContain("svc/quiet");
    proc.stdin.write("bye");
    proc.stdin.end();
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ out, code }).toEqual({ out: "bye", code: 0 });
    expect(err).toBe("bytes=3\n"); // the services' output is not on the terminal
    expect((await ctl("ps")).code).toBe(3); // the socket is gone with the cell
  }, 30_000);
});
