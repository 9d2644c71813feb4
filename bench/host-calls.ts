// Host-call round trip: a guest's call that the loop answers (guest thread →
// event queue → loop → answer → guest thread) beside a plain native host
// function that never leaves the guest's thread (weft:app/ipc.recv), timed
// call by call inside the same componentize-js guest (tests/components/host.js
// `bench|N`) with wasi:clocks/monotonic-clock. Both include the JS guest's
// own binding overhead; the difference is the cost of the trip.
//   bun bench/host-calls.ts [calls per run] [runs]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { percentiles } from "../src/loop/lateness.ts";
import { loadWasmAsync } from "../src/runtime/cache.ts";
import { cv, read } from "../src/runtime/component-values.ts";
import { Guest } from "../src/runtime/guest.ts";
import { hostCalls } from "../src/runtime/host-calls.ts";

hostCalls.register({ iface: "weft:test-guests/echo", name: "echo", handler: ({ args }) => [cv.string(read.string(args[0], "payload"))] });
hostCalls.register({ iface: "weft:test-guests/echo", name: "call", handler: ({ args }) => [cv.ok(cv.bytes(read.bytes(args[0], "payload")))] });

const n = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 5);
const component = await loadWasmAsync(readFileSync(join(import.meta.dir, "..", "tests", "components", "build", "js-host.component.wasm")));
const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
const r = { recv50: [] as number[], recv99: [] as number[], echo50: [] as number[], echo99: [] as number[] };
for (let i = 0; i < runs; i++) {
  let out = "";
  const g = new Guest(component, { argv: ["host", `bench|${n}`], stdout: "capture", onOutput: (_s, b) => (out += new TextDecoder().decode(b)) });
  const st = await g.exited;
  const m = /recv p50=(\d+) p99=(\d+) echo p50=(\d+) p99=(\d+)/.exec(out);
  if (st.kind !== "exit" || !m) throw new Error(`bench guest failed: ${JSON.stringify(st)} ${out}`);
  r.recv50.push(+m[1]!), r.recv99.push(+m[2]!), r.echo50.push(+m[3]!), r.echo99.push(+m[4]!);
}
const med = (xs: number[]) => percentiles(xs).p50;
console.log(
  `host call round trip (median of ${runs} runs × ${n} calls; load ${loadavg()[0]!.toFixed(1)}): ` +
    `native ipc.recv p50 ${us(med(r.recv50))} p99 ${us(med(r.recv99))} | host call echo p50 ${us(med(r.echo50))} p99 ${us(med(r.echo99))} | ` +
    `round trip costs ${us(med(r.echo50) - med(r.recv50))} more (${(med(r.echo50) / med(r.recv50)).toFixed(1)}×)`,
);

// CPU per round trip, which load does not inflate the way it does wall time
// (the guest thread is SCHED_IDLE: on a busy machine it waits for a CPU):
// the process's user+sys time for N echo calls, per call, both threads.
{
  const calls = n * 5;
  await new Guest(component, { argv: ["host", "many|100"], stdout: "discard" }).exited; // warm
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const st = await new Guest(component, { argv: ["host", `many|${calls}`], stdout: "discard" }).exited;
  const cpu = process.cpuUsage(c0);
  if (st.kind !== "exit") throw new Error(`many failed: ${JSON.stringify(st)}`);
  console.log(
    `host call CPU: ${us(((cpu.user + cpu.system) * 1000) / calls)} per call (user ${us((cpu.user * 1000) / calls)}, sys ${us((cpu.system * 1000) / calls)}; ` +
      `${calls} calls in ${(performance.now() - t0).toFixed(0)} ms wall, guest JS included)`,
  );
}
