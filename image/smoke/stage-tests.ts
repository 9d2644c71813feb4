// `bun image/build.ts --smoke --with-tests`: puts Bun and the parts of this
// checkout the fast test suites need into /opt/weft-src, and
// /opt/weft-tests/run.sh, which the smoke test runs inside the VM after its
// own checks — "bun test under a VM". By default the fast suites, which need
// no python3, no Wayland clients and no network: the runtime, the loop and
// the CLI's exec. With { full: true } (build.ts --full-tests, an image with
// every package CI installs) the whole checkout and the whole `bun test`.
import { chmodSync, lstatSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
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

/** Left out of a full copy: git's pointer to this worktree (meaningless in the VM), build outputs the tests make again, Bun's leftovers of interrupted compiles. */
const FULL_EXCLUDE = (name: string) => name === ".git" || name === "dist" || name.endsWith(".bun-build");

/** Copies one top-level entry of the checkout; a symlinked one (node_modules, vendor in a worktree) as the tree it points to. */
function copyIn(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const real = lstatSync(from).isSymbolicLink() ? realpathSync(from) : from;
  const r = Bun.spawnSync(["cp", "-a", real, to], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`cp ${from}: ${r.stderr.toString().trim()}`);
}

export interface StageTestsOptions {
  /** The whole checkout and the whole `bun test` (the image must have CI's packages: build.ts --full-tests). Default: the fast suites (VM_SUITES). */
  full?: boolean;
  log?: (l: string) => void;
}

export async function stageTests(root: string, opts: StageTestsOptions = {}): Promise<void> {
  const say = opts.log ?? (() => {});
  const src = join(root, "opt", "weft-src");
  const parts = opts.full ? readdirSync(ROOT).filter((n) => !FULL_EXCLUDE(n)) : COPY;
  say(`tests: bun ${Bun.version} and ${opts.full ? "the whole checkout" : `${COPY.length} parts of the checkout`} into /opt/weft-src`);
  for (const rel of parts) copyIn(join(ROOT, rel), join(src, rel));
  mkdirSync(join(root, "opt", "weft-tests"), { recursive: true });
  const bun = join(root, "opt", "weft-tests", "bun");
  if (Bun.spawnSync(["cp", process.execPath, bun]).exitCode !== 0) throw new Error("copying bun failed");
  chmodSync(bun, 0o755);
  const skip = `-t '^(?!.*(${VM_SKIP.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}))'`;
  // Tests without their own timeout get 60 s instead of 5 s: a CPU emulated by TCG is tens of times slower.
  const cmd = opts.full ? "bun test --timeout 60000" : `bun test --timeout 60000 ${skip} ${VM_SUITES.join(" ")}`;
  const run = join(root, "opt", "weft-tests", "run.sh");
  writeFileSync(
    run,
    `#!/bin/sh
# Runs weft's ${opts.full ? "whole test suite" : "fast test suites"} inside the VM (as root, like CI). Output goes to the serial console as it comes,
# each line prefixed so image/boot.ts --quiet still shows it.
export HOME=/root PATH=/opt/weft-tests:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR=$(mktemp -d) BUN_INSTALL_CACHE_DIR=/tmp/bun-cache
cd /opt/weft-src || exit 1
chmod 700 "$XDG_RUNTIME_DIR"
rcfile=$(mktemp)
echo "WEFT-SMOKE: test: ${cmd.replace(/'/g, "")}"
start=$(date +%s)
{ ${cmd}; echo $? >"$rcfile"; } 2>&1 | sed 's/^/WEFT-SMOKE: test: /'
rc=$(cat "$rcfile")
echo "WEFT-SMOKE: test: exit $rc after $(( $(date +%s) - start )) s"
exit $rc
`,
  );
  chmodSync(run, 0o755);
  if (opts.full) {
    // The whole suite under TCG takes far longer than the smoke unit's 15 min.
    const dropIn = join(root, "etc", "systemd", "system", "weft-smoke.service.d", "full-tests.conf");
    mkdirSync(dirname(dropIn), { recursive: true });
    writeFileSync(dropIn, "[Service]\nTimeoutStartSec=150min\n");
  }
}
