// appd benchmarks, each beside its peer in the same run, printing ratios:
//   requests  req/s over the appd Unix socket (MessagePack, one dispatcher)
//             vs a raw echo server speaking the same framing on the same
//             kind of socket (goal: ≥ 50 %)
//   launch    LAUNCH_APP → APP_READY p50 in weft vs a process-per-app launch
//             (a fresh `weft exec` printing READY, the WEFT OS model; goal ≥ 100×)
import { join } from "node:path";
import type { Socket } from "bun";
import { percentiles } from "../src/loop/lateness.ts";
import { encodeFrame, FrameReader } from "../src/ipc/framing.ts";
import { testDaemon } from "../tests/appd/fixtures.ts";
import { unixClient } from "../tests/appd/unix-client.ts";
import { guestPath, tempDir, WEFT } from "../tests/helpers.ts";

const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

async function rate(request: () => Promise<unknown>, seconds: number): Promise<number> {
  for (let i = 0; i < 500; i++) await request(); // warm up
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    await request();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** The peer: frames in, the same frame back, nothing else. */
function echoServer(path: string) {
  return Bun.listen<{ reader: FrameReader }>({
    unix: path,
    socket: {
      open(s: Socket<{ reader: FrameReader }>) {
        s.data = { reader: new FrameReader() };
      },
      data(s, chunk) {
        for (const body of s.data.reader.push(chunk)) {
          const out = new Uint8Array(4 + body.length);
          new DataView(out.buffer).setUint32(0, body.length, true);
          out.set(body, 4);
          s.write(out);
        }
      },
    },
  });
}

export async function benchRequests(seconds = 3) {
  await using d = await testDaemon();
  const c = await unixClient(d.unix.path);
  const weft = await rate(() => c.request({ type: "QUERY_APP_STATE", session_id: 1 }), seconds);
  await c.close();
  using dir = tempDir();
  const echoPath = join(dir.path, "echo.sock");
  const echo = echoServer(echoPath);
  const e = await unixClient(echoPath);
  const raw = await rate(() => e.request({ type: "QUERY_APP_STATE", session_id: 1 }), seconds);
  await e.close();
  echo.stop(true);
  console.log(`requests appd ${weft.toFixed(0)} req/s | raw echo ${raw.toFixed(0)} req/s | ratio ${((weft / raw) * 100).toFixed(0)} % (goal ≥ 50 %)`);
  return { weft, raw, ratio: weft / raw };
}

export async function benchLaunchToReady(n = 200, nProc = 20) {
  await using d = await testDaemon();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const s = await d.sessions.launch("org.weft.test.ready");
    await new Promise<void>((resolve) => {
      if (s.state === "running") return resolve();
      const off = d.sessions.on((e) => e.type === "ready" && e.session === s && (off(), resolve()));
    });
    times.push(performance.now() - t0);
    await s.terminate();
  }
  const proc: number[] = [];
  for (let i = 0; i < nProc; i++) {
    const t0 = performance.now();
    const p = Bun.spawn(["bun", WEFT, "exec", guestPath("ready")], { stdout: "pipe", stderr: "ignore" });
    const reader = p.stdout.getReader();
    let out = "";
    while (!out.includes("READY\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("ready guest exited before READY");
      out += new TextDecoder().decode(value);
    }
    proc.push(performance.now() - t0);
    p.kill();
    await p.exited;
  }
  const a = percentiles(times);
  const b = percentiles(proc);
  console.log(`launch   LAUNCH_APP → APP_READY p50 ${ms(a.p50)} p99 ${ms(a.p99)} (n=${n}, incl. signature check) | process-per-app p50 ${ms(b.p50)} (n=${nProc}) | ratio ${(b.p50 / a.p50).toFixed(0)}× (goal ≥ 100×)`);
  return { p50: a.p50, procP50: b.p50, ratio: b.p50 / a.p50 };
}

if (import.meta.main) {
  process.env.WEFT_LOG = "error";
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.includes(name);
  if (want("requests")) await benchRequests();
  if (want("launch")) await benchLaunchToReady();
  process.exit(0);
}
