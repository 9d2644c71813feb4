#!/usr/bin/env bun
// Start-up to READY=1 (sd_notify), measured the way systemd sees it: from
// spawn to the READY datagram on a real notify socket. Prints medians for
//   - dist/weft run --no-compositor, first start in an empty HOME (extracts the libraries)
//   - dist/weft run --no-compositor, later starts (verifies their SHA-256, then dlopen)
//   - dist/weft run (compositor too), later starts
//   - bun bin/weft.ts run --no-compositor from the checkout, for comparison
// Usage: bun scripts/startup.ts [--runs N] [--weft PATH]   (default dist/weft; build it first)
import { mkdirSync, mkdtempSync, rmSync, chmodSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../src/system/assets.ts";
import { notifyPeer } from "../tests/system/helpers.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1]) || 15;
const weft = args.includes("--weft") ? args[args.indexOf("--weft") + 1] : join(ROOT, "dist", "weft");

async function once(cmd: string[], home: string, run: string): Promise<number> {
  await using peer = await notifyPeer(join(run, `notify-${Math.random().toString(36).slice(2)}.sock`));
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { env: { PATH: process.env.PATH!, HOME: home, XDG_RUNTIME_DIR: run, NOTIFY_SOCKET: peer.path, WEFT_LOG: "warn" }, stdout: "ignore", stderr: "inherit" });
  try {
    await peer.until((d) => d.some((x) => x.msg.startsWith("READY=1")), "READY", 20_000);
    return performance.now() - t0;
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}

function unlock(d: string) {
  chmodSync(d, 0o700);
  for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) unlock(join(d, e.name));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)} (n=${xs.length})`;

const base = mkdtempSync(join(tmpdir(), "weft-startup-"));
try {
  const cases: [string, (i: number) => [string[], string]][] = [
    ["dist/weft run --no-compositor, first start (extracts)", (i) => [[weft, "run", "--no-compositor", "--http-port", "0"], `cold-${i}`]],
    ["dist/weft run --no-compositor, later starts (verifies)", () => [[weft, "run", "--no-compositor", "--http-port", "0"], "warm"]],
    ["dist/weft run (compositor too), later starts", () => [[weft, "run", "--http-port", "0"], "warm"]],
    ["bun bin/weft.ts run --no-compositor (checkout)", () => [["bun", join(ROOT, "bin", "weft.ts"), "run", "--no-compositor", "--http-port", "0"], "src"]],
  ];
  console.log(`${weft}: ${(statSync(weft).size / 1e6).toFixed(1)} MB; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
  for (const [name, make] of cases) {
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const [cmd, tag] = make(i);
      const home = join(base, tag, "home");
      const run = join(base, tag, "run");
      mkdirSync(home, { recursive: true, mode: 0o700 });
      mkdirSync(run, { recursive: true, mode: 0o700 });
      if (tag === "warm" && i === 0 && name.includes("--no-compositor")) await once(cmd, home, run); // fill the cache first
      xs.push(await once(cmd, home, run));
    }
    console.log(`${name}: ${fmt(xs)}`);
  }
} finally {
  unlock(base);
  rmSync(base, { recursive: true, force: true });
}
