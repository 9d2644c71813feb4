// Runtime benchmarks: weft beside its peers in one run, printing medians and
// ratios (machines are noisy; one time means nothing).
//
//   launch    cached module → instantiate → _start → exit, in-process, vs one
//             process per app (a fresh `weft exec`, the WEFT OS model)
//   compute   sha256 kernel: native C vs the same C in weft
//   fairness  loop lateness with 10 spinning + 10 sleeping guests, in-process
//             (SCHED_IDLE threads) vs the same guests as separate processes
//   density   RSS and idle CPU of 1000 guests sleeping in a 10 ms loop, vs the
//             per-guest cost of process-per-app
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { measureLateness, percentiles } from "../src/loop/lateness.ts";
import { loadModule } from "../src/runtime/cache.ts";
import { Guest } from "../src/runtime/guest.ts";

const ROOT = join(import.meta.dir, "..");
const WEFT = join(ROOT, "bin", "weft.ts");
const kernel = (name: string) => join(ROOT, "bench", "build", name);
const guest = (name: string) => join(ROOT, "tests", "guests", "build", `${name}.wasm`);
const bytes = async (p: string) => new Uint8Array(await Bun.file(p).arrayBuffer());
const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const median = (xs: number[]) => percentiles(xs).p50;

async function runProcess(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "inherit" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
  return performance.now() - t0;
}

export async function benchLaunch(n = 2000, nProc = 20) {
  const module = loadModule(await bytes(kernel("noop.wasm")));
  // warm up
  for (let i = 0; i < 50; i++) await new Guest(module, { argv: ["noop"], stdout: "discard", stderr: "discard" }).exited;
  const inproc: number[] = [];
  // The loop thread's own CPU: what each launch takes from the compositor and the daemon.
  const loopCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
  const c0 = loopCpuNs();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const st = await new Guest(module, { argv: ["noop"], stdout: "discard", stderr: "discard" }).exited;
    inproc.push(performance.now() - t0);
    if (st.kind !== "exit") throw new Error(`noop ended with ${st.kind}`);
  }
  const loopCpu = (loopCpuNs() - c0) / n / 1e6;
  await runProcess(["bun", WEFT, "exec", kernel("noop.wasm")]); // fills the disk cache
  const proc: number[] = [];
  for (let i = 0; i < nProc; i++) proc.push(await runProcess(["bun", WEFT, "exec", kernel("noop.wasm")]));
  const a = percentiles(inproc);
  const b = percentiles(proc);
  console.log(`launch   in-process p50 ${ms(a.p50)} p99 ${ms(a.p99)} (n=${n}), loop thread's CPU ${ms(loopCpu)} a launch | process-per-app p50 ${ms(b.p50)} p99 ${ms(b.p99)} (n=${nProc}) | ratio ${(b.p50 / a.p50).toFixed(0)}× faster`);
  return { inprocP50: a.p50, inprocP99: a.p99, loopCpu, procP50: b.p50, ratio: b.p50 / a.p50 };
}

export async function benchCompute(mib = 64, runs = 5) {
  const module = loadModule(await bytes(kernel("sha256.wasm")));
  const native: number[] = [];
  const wasm: number[] = [];
  for (let i = 0; i < runs; i++) {
    native.push(await runProcess([kernel("sha256"), String(mib)]));
    const st = await new Guest(module, { argv: ["sha256", String(mib)], stdout: "discard" }).exited;
    if (st.kind !== "exit" || st.code !== 0) throw new Error(`sha256 guest: ${st.kind}`);
    wasm.push(st.wallMs!);
  }
  const ratio = median(wasm) / median(native);
  console.log(`compute  sha256 ${mib} MiB: native ${ms(median(native))} | weft ${ms(median(wasm))} | ratio ${ratio.toFixed(2)}× (goal ≤ 1.5×)`);
  return { native: median(native), weft: median(wasm), ratio };
}

export async function benchFairness(seconds = 3) {
  const idle = await measureLateness(1000 * seconds, 1);
  const spin = loadModule(await bytes(guest("spin")));
  const sleep = loadModule(await bytes(guest("sleep_loop")));
  const guests = [
    ...Array.from({ length: 10 }, () => new Guest(spin, { argv: ["spin"], stdout: "discard" })),
    ...Array.from({ length: 10 }, () => new Guest(sleep, { argv: ["sleep_loop", "0", "10"], stdout: "discard" })),
  ];
  const loaded = await measureLateness(1000 * seconds, 1);
  guests.forEach((g) => g.stop());
  await Promise.all(guests.map((g) => g.exited));
  // Peer: the same 20 guests as separate processes at normal priority (WEFT's model).
  const procs = [
    ...Array.from({ length: 10 }, () => Bun.spawn(["bun", WEFT, "exec", guest("spin")], { stdout: "ignore" })),
    ...Array.from({ length: 10 }, () => Bun.spawn(["bun", WEFT, "exec", guest("sleep_loop"), "0", "10"], { stdout: "ignore" })),
  ];
  await Bun.sleep(500); // let them start before measuring (bench only; tests never sleep)
  const peer = await measureLateness(1000 * seconds, 1);
  procs.forEach((p) => p.kill());
  await Promise.all(procs.map((p) => p.exited));
  console.log(
    `fairness loop lateness p50/p99: idle ${ms(idle.p50)}/${ms(idle.p99)} | 10 spin + 10 sleep in weft ${ms(loaded.p50)}/${ms(loaded.p99)} (goal p99 < 0.5 ms) | as 20 processes ${ms(peer.p50)}/${ms(peer.p99)} | ratio p99 ${(peer.p99 / Math.max(loaded.p99, 0.001)).toFixed(1)}×`,
  );
  return { idle, loaded, peer };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function procRss(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

export async function benchDensity(n = 1000, nProc = 10, seconds = 3) {
  const sleep = loadModule(await bytes(guest("sleep_loop")));
  Bun.gc(true);
  const rss0 = process.memoryUsage.rss();
  const guests = Array.from({ length: n }, () => new Guest(sleep, { argv: ["sleep_loop", "0", "10"], stdout: "discard" }));
  await Bun.sleep(1000); // settle: every guest has started its loop
  const rss1 = process.memoryUsage.rss();
  const c0 = cpuMs();
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const idleCpu = (cpuMs() - c0) / (performance.now() - t0); // cores busy
  guests.forEach((g) => g.stop());
  await Promise.all(guests.map((g) => g.exited));
  const perGuest = (rss1 - rss0) / n;
  const procs = Array.from({ length: nProc }, () => Bun.spawn(["bun", WEFT, "exec", guest("sleep_loop"), "0", "10"], { stdout: "ignore" }));
  await Bun.sleep(1500);
  const rssProc = median(await Promise.all(procs.map((p) => procRss(p.pid))));
  procs.forEach((p) => p.kill());
  await Promise.all(procs.map((p) => p.exited));
  console.log(
    `density  ${n} sleeping guests: +${((rss1 - rss0) / 1048576).toFixed(0)} MB RSS (${(perGuest / 1024).toFixed(0)} KB each, goal < 100 MB total), idle CPU ${(idleCpu * 100).toFixed(1)}% of a core | process-per-app ${(rssProc / 1048576).toFixed(0)} MB each | ratio ${(rssProc / perGuest).toFixed(0)}× smaller`,
  );
  return { totalMB: (rss1 - rss0) / 1048576, perGuestKB: perGuest / 1024, idleCpu, procMB: rssProc / 1048576 };
}

if (import.meta.main) {
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.includes(name);
  if (want("launch")) await benchLaunch();
  if (want("compute")) await benchCompute();
  if (want("fairness")) await benchFairness();
  if (want("density")) await benchDensity();
  process.exit(0);
}
