// Cell budgets' cost: the same sha256 kernel in weft, alone vs charging a
// shared CPU budget (what every guest of a cell with [limits].cpu_s does: its
// thread CPU clock read and charged up the pool tree at each 1 ms epoch tick),
// and a Preview 1 guest's fd calls with vs without revocable directories
// (every fd call then goes through the shadow and a trampoline). Alternating
// runs, medians, ratios.
//
//   bun bench/cells.ts
import { join } from "node:path";
import { cpuPools } from "../ffi/native.ts";
import { percentiles } from "../src/loop/lateness.ts";
import { loadModule } from "../src/runtime/cache.ts";
import { Guest } from "../src/runtime/guest.ts";
import { tempDir } from "../tests/helpers.ts";

const ROOT = join(import.meta.dir, "..");
const bytes = async (p: string) => new Uint8Array(await Bun.file(p).arrayBuffer());
const median = (xs: number[]) => percentiles(xs).p50;

async function cpuPoolCost(mib = 32, runs = 7) {
  const module = loadModule(await bytes(join(ROOT, "bench", "build", "sha256.wasm")));
  const plain: number[] = [];
  const pooled: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const withPool of [false, true]) {
      const pool = withPool ? cpuPools.create(null, 3600e9) : undefined;
      const st = await new Guest(module, { argv: ["sha256", String(mib)], stdout: "discard", cpuPool: pool }).exited;
      if (pool) cpuPools.release(pool);
      if (st.kind !== "exit" || st.code !== 0) throw new Error(`sha256 guest: ${st.kind}`);
      (withPool ? pooled : plain).push(st.cpuMs!);
    }
  }
  const a = median(plain);
  const b = median(pooled);
  console.log(`cpu pool  sha256 ${mib} MiB, guest CPU: alone ${a.toFixed(0)} ms | charging a pool ${b.toFixed(0)} ms | ratio ${(b / a).toFixed(3)}× (n=${runs})`);
}

async function fdShadowCost(runs = 7) {
  using d = tempDir("weft-bench-cells-");
  const module = loadModule(await bytes(join(ROOT, "tests", "guests", "build", "files.wasm")));
  const plain: number[] = [];
  const shadowed: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const revocable of [false, true]) {
      const dir = join(d.path, `${i}-${revocable}`);
      await Bun.write(join(dir, ".keep"), "");
      const t0 = performance.now();
      const st = await new Guest(module, { argv: ["files", "/w"], stdout: "discard", preopens: [{ host: dir, guest: "/w", readOnly: false, revocable }] }).exited;
      if (st.kind !== "exit" || st.code !== 0) throw new Error(`files guest: ${st.kind}`);
      (revocable ? shadowed : plain).push(performance.now() - t0);
    }
  }
  const a = median(plain);
  const b = median(shadowed);
  console.log(`fd shadow files guest (a dozen fd calls), launch to exit: plain ${(a * 1000).toFixed(0)} µs | revocable ${(b * 1000).toFixed(0)} µs | ratio ${(b / a).toFixed(2)}× (n=${runs})`);
}

await cpuPoolCost();
await fdShadowCost(50);
