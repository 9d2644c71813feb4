#!/usr/bin/env bun
// `bun run test:vm` — weft's whole `bun test` inside the OS image, booted
// from its own disk under qemu: builds the --full-tests image (the image plus
// every Debian package CI installs, Bun and this checkout), boots it with the
// smoke test (which runs the suite after its own checks, as root, like CI),
// and prints the suite's summary. Opt-in: under TCG this takes most of an
// hour. The whole serial console goes to vm-test.log in the image dir.
//
// Usage: bun image/test-in-vm.ts [--tcg-subset] [--no-build] [--timeout S (default 9000)] [--mem MiB (default 4096)] [--kvm]
// --tcg-subset: every test file but the few that cannot finish under TCG
// (image/smoke/stage-tests.ts TCG_HEAVY, each with its reason); with KVM, the whole suite.
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../src/system/assets.ts";
import { imageDir, imageName } from "./build.ts";

/** The suite's verdict from the console lines run.sh prefixes with "WEFT-SMOKE: test: ". */
export function summarize(lines: readonly string[]): { pass?: number; fail?: number; skip?: number; exit?: number; seconds?: number; failed: string[] } {
  const out: ReturnType<typeof summarize> = { failed: [] };
  for (const raw of lines) {
    const l = raw.replace(/^.*?WEFT-SMOKE: test: /, "");
    if (l === raw) continue;
    let m;
    if ((m = /^\s*(\d+) (pass|fail|skip)$/.exec(l))) out[m[2] as "pass" | "fail" | "skip"] = Number(m[1]);
    else if ((m = /^exit (\d+) after (\d+) s$/.exec(l))) [out.exit, out.seconds] = [Number(m[1]), Number(m[2])];
    // bun names a failed test twice when it ran several files: where it failed and again in the summary.
    else if ((m = /^\(fail\) (.*)$/.exec(l)) && !out.failed.includes(m[1])) out.failed.push(m[1]);
  }
  return out;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const value = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
  const dir = imageDir();
  if (!args.includes("--no-build")) {
    const b = Bun.spawn(["bun", join(ROOT, "image", "build.ts"), "--full-tests", ...(args.includes("--tcg-subset") ? ["--tcg-subset"] : [])], { stdout: "inherit", stderr: "inherit" });
    if ((await b.exited) !== 0) process.exit(1);
  }
  const logPath = join(dir, "vm-test.log");
  const log = createWriteStream(logPath);
  const boot = Bun.spawn(
    ["bun", join(ROOT, "image", "boot.ts"), "--smoke", "--image", imageName(true), "--mem", value("--mem", "4096"), "--timeout", value("--timeout", "9000"), ...(args.includes("--kvm") ? ["--kvm"] : [])],
    { stdout: "pipe", stderr: "inherit" },
  );
  const lines: string[] = [];
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of boot.stdout as ReadableStream<Uint8Array>) {
    const text = dec.decode(chunk, { stream: true });
    log.write(text);
    buf += text;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      // Progress: the smoke checks and the suite's files and failures, not every passing test.
      if (/WEFT-SMOKE: (ok|FAIL|pass|fail|begin|boot)|WEFT-SMOKE: test: (tests\/.*:$|\(fail\)|\s*\d+ (pass|fail|skip)$|exit |bun test)/.test(line)) console.log(line);
    }
  }
  const code = await boot.exited;
  log.end();
  const s = summarize(lines);
  console.log(`\nbun test inside the VM: ${s.pass ?? "?"} pass, ${s.fail ?? "?"} fail, ${s.skip ?? 0} skip; exit ${s.exit ?? "none"}${s.seconds !== undefined ? ` after ${s.seconds} s` : ""}`);
  for (const f of s.failed) console.log(`  (fail) ${f}`);
  console.log(`console log: ${logPath}`);
  process.exit(code === 0 && s.exit === 0 ? 0 : 1);
}
