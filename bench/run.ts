// Runs every benchmark, one after another, each printing weft beside its peer.
// `bun bench/run.ts [runtime|appd|compositor]…`
import { existsSync } from "node:fs";
import { join } from "node:path";

const all = ["runtime", "appd", "compositor", "host-calls", "cells"];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  const file = join(import.meta.dir, `${name}.ts`);
  if (!existsSync(file)) {
    console.error(`bench: no ${name}.ts`);
    continue;
  }
  console.log(`== ${name}`);
  const p = Bun.spawn(["bun", file], { stdout: "inherit", stderr: "inherit", env: { ...process.env, WEFT_LOG: "error" } });
  if ((await p.exited) !== 0) process.exitCode = 1;
}
