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

/** Test suites run inside the VM (paths relative to the checkout), minus their TCG_HEAVY files. */
export const VM_SUITES = ["tests/runtime", "tests/loop", "tests/cli/exec.test.ts"];

/**
 * Tests left out inside the VM: they assert wall-clock bounds (1.5 s for
 * 10 × 20 sleeps; a 1M-line flood within the test timeout; loop lateness
 * against a baseline) that a CPU emulated by TCG, ~50× slower and jittery,
 * cannot meet. They run everywhere else.
 */
export const VM_SKIP = ["sleeping in a 10 ms loop at the same time all finish", "a stdout flood is back-pressured", "a 5 ms timer still fires on time"];

const COPY = ["bin", "src", "ffi", "tests", "examples", "protocol", "package.json", "bunfig.toml", "tsconfig.json", "vendor/wasmtime", "build/libweft_native.so", "node_modules/hono", "node_modules/@msgpack"];

/**
 * The test files a --tcg-subset run leaves out, and why: under TCG on two
 * emulated cores they cannot finish in a useful time. Each compiles the
 * 12 MB JavaScript component (StarlingMonkey) from scratch with Cranelift or
 * starts chromium; one file of them ran for over 5 minutes without
 * finishing a test (2026-11-23). They run in every other `bun test`.
 */
export const TCG_HEAVY: Record<string, string> = {
  "tests/runtime/weft-app.test.ts": "compiles js-host.component.wasm (12 MB)",
  "tests/runtime/host-calls.test.ts": "compiles the JavaScript components",
  "tests/runtime/clipboard.test.ts": "compiles js-host.component.wasm",
  "tests/appd/host-functions.test.ts": "compiles js-host.component.wasm",
  "tests/appd/component-app.test.ts": "compiles the JavaScript components",
  "tests/ui/system-ui.test.ts": "chromium (its start alone outlasted a 120 s hook)",
  "tests/appd/http.test.ts": "chromium",
};

/** Every test file of the checkout (paths relative to it), minus those left out. */
export function testFiles(leaveOut: readonly string[] = []): string[] {
  const all = [...new Bun.Glob("tests/**/*.test.ts").scanSync({ cwd: ROOT })].sort();
  for (const f of leaveOut) if (!all.includes(f)) throw new Error(`${f} is not a test file of this checkout`);
  return all.filter((f) => !leaveOut.includes(f));
}

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
  /** With full: run every test file except TCG_HEAVY (named on the command line), not the bare `bun test`. */
  tcgSubset?: boolean;
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
  // The fast suites leave out their TCG-heavy files too (a 12 MB component compiled under emulation outlasts the smoke unit).
  const light = testFiles(Object.keys(TCG_HEAVY)); // every file but the TCG-heavy ones
  const fast = light.filter((f) => VM_SUITES.some((s) => f === s || f.startsWith(`${s}/`)));
  const cmd = !opts.full
    ? `bun test --timeout 60000 ${skip} ${fast.map((f) => `./${f}`).join(" ")}`
    : opts.tcgSubset
      ? `bun test --timeout 60000 ${light.map((f) => `./${f}`).join(" ")}`
      : "bun test --timeout 60000";
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
echo "WEFT-SMOKE: test: ${opts.tcgSubset ? `bun test --timeout 60000 (${light.length} files: all but ${Object.keys(TCG_HEAVY).length} TCG-heavy ones)` : cmd.replace(/'/g, "")}"
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
