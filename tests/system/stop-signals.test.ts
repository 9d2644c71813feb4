// A second stop signal while weft stops: weft ends at once but through its
// exit handlers (on DRM they give the VT back), never by the signal's
// default action. Real process, real signals.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";

const script = `
import { stopSignals } from ${JSON.stringify(join(import.meta.dir, "../../src/system/stop-signals.ts"))};
process.on("exit", (code) => require("node:fs").writeSync(1, "exit handlers ran (" + code + ")\\n"));
const { signalled } = stopSignals((m) => require("node:fs").writeSync(1, m + "\\n"));
require("node:fs").writeSync(1, "ready\\n");
const sig = await signalled;
require("node:fs").writeSync(1, "stopping on " + sig + "\\n");
await new Promise(() => setInterval(() => {}, 1000)); // a stop that takes long
`;

let proc: ReturnType<typeof Bun.spawn> | null = null;
afterEach(() => {
  proc?.kill("SIGKILL");
  proc = null;
});

async function lines(p: ReturnType<typeof Bun.spawn>, until: RegExp, out: string[]): Promise<void> {
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + 10_000;
  while (!out.some((l) => until.test(l))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${until}; got ${JSON.stringify(out)}`);
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value);
    const parts = buf.split("\n");
    buf = parts.pop()!;
    out.push(...parts);
  }
  reader.releaseLock();
}

for (const [first, second, code] of [
  ["SIGTERM", "SIGTERM", 143],
  ["SIGINT", "SIGINT", 130],
  ["SIGTERM", "SIGINT", 130],
] as const)
  test(`${first}, then ${second} while stopping: exits ${code} through the exit handlers`, async () => {
    const p = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "inherit" });
    proc = p;
    const out: string[] = [];
    await lines(p, /^ready$/, out);
    p.kill(first);
    await lines(p, new RegExp(`^stopping on ${first}$`), out);
    p.kill(second);
    expect(await p.exited).toBe(code);
    expect(p.signalCode).toBeNull();
    await lines(p, /^exit handlers ran/, out);
    expect(out).toEqual(["ready", `stopping on ${first}`, `${second} while stopping (after ${first}): exiting now`, `exit handlers ran (${code})`]);
  }, 20_000);
