// `bun image/build.ts --smoke --with-tests`: puts Bun and the parts of this
// checkout the fast test suites need into /opt/weft-src, and
// /opt/weft-tests/run.sh, which the smoke test runs inside the VM after its
// own checks — "bun test under a VM". The suites chosen need no python3, no
// Wayland clients and no network: the runtime, the loop and the CLI's exec.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "../../src/system/assets.ts";

/** Test suites run inside the VM (paths relative to the checkout). */
export const VM_SUITES = ["tests/runtime", "tests/loop", "tests/cli/exec.test.ts"];

/**
 * Tests left out inside the VM: they assert wall-clock bounds (1.5 s for
 * 10 × 20 sleeps; a 1M-line flood within the test timeout; loop lateness
 * against a baseline) that a CPU emulated by TCG, ~50× slower and jittery,
 * cannot meet. They run everywhere else.
 */
export const VM_SKIP = ["sleeping in a 10 ms loop at the same time all finish", "a stdout flood is back-pressured", "a 5 ms timer still fires on time"];

const COPY = ["bin", "src", "ffi", "tests", "examples", "protocol", "package.json", "bunfig.toml", "tsconfig.json", "vendor/wasmtime", "build/libweft_native.so", "node_modules/hono", "node_modules/@msgpack"];

export async function stageTests(root: string, say: (l: string) => void = () => {}): Promise<void> {
  const src = join(root, "opt", "weft-src");
  say(`tests: bun ${Bun.version} and ${COPY.length} parts of the checkout into /opt/weft-src`);
  for (const rel of COPY) {
    const to = join(src, rel);
    mkdirSync(dirname(to), { recursive: true });
    const r = Bun.spawnSync(["cp", "-a", join(ROOT, rel), to], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`cp ${rel}: ${r.stderr.toString().trim()}`);
  }
  mkdirSync(join(root, "opt", "weft-tests"), { recursive: true });
  const bun = join(root, "opt", "weft-tests", "bun");
  if (Bun.spawnSync(["cp", process.execPath, bun]).exitCode !== 0) throw new Error("copying bun failed");
  chmodSync(bun, 0o755);
  const run = join(root, "opt", "weft-tests", "run.sh");
  writeFileSync(
    run,
    `#!/bin/sh
# Runs weft's fast test suites inside the VM (as root, like CI). Output goes to the serial console.
export HOME=/root PATH=/opt/weft-tests:/usr/bin:/bin XDG_RUNTIME_DIR=$(mktemp -d) BUN_INSTALL_CACHE_DIR=/tmp/bun-cache
cd /opt/weft-src || exit 1
log=$(mktemp)
bun test --timeout 60000 -t '^(?!.*(${VM_SKIP.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}))' ${VM_SUITES.join(" ")} >"$log" 2>&1
rc=$?
# Prefixed, so image/boot.ts --quiet still shows them.
sed 's/^/WEFT-SMOKE: test: /' "$log"
exit $rc
`,
  );
  chmodSync(run, 0o755);
}
