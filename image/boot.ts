#!/usr/bin/env bun
// Boots the image under qemu-system-x86_64 (TCG when there is no KVM) with
// the serial console on this terminal. With an image built by
// `bun image/build.ts --smoke`, waits for the smoke test's verdict
// ("WEFT-SMOKE: pass|fail" on the console) and exits 0 or 1; the VM powers
// itself off afterwards. Without --smoke it just boots and shows the console
// until the VM stops (Ctrl-A X leaves qemu).
//
// Usage: bun image/boot.ts [--dir DIR (default ~/.cache/weft-image)] [--smoke] [--timeout S] [--mem MiB] [--cpus N] [--kvm] [--quiet]
// TCG by default: a /dev/kvm that exists may still not work (nested virtualisation); --kvm when it does.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { imageDir } from "./build.ts";

const args = process.argv.slice(2);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const dir = resolve(value("--dir") ?? imageDir());
const smoke = args.includes("--smoke");
const quiet = args.includes("--quiet");
const timeoutS = Number(value("--timeout") ?? 1200);

export function qemuCommand(o: { image: string; kernel: string; initrd: string; mem: number; cpus: number; kvm: boolean }): string[] {
  const kvm = o.kvm;
  return [
    "qemu-system-x86_64",
    ...(kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"]), // TCG's "max" has AVX2, which Bun's x64 build needs
    "-m", String(o.mem),
    "-smp", String(o.cpus),
    "-kernel", o.kernel,
    "-initrd", o.initrd,
    "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=1 loglevel=4",
    "-drive", `file=${o.image},format=raw,if=virtio`,
    "-nic", "none",
    "-display", "none",
    "-serial", "stdio",
    "-monitor", "none",
    "-no-reboot",
  ];
}

if (import.meta.main) {
  const image = join(dir, "weft.img");
  for (const f of [image, join(dir, "vmlinuz"), join(dir, "initrd.img")]) if (!existsSync(f)) throw new Error(`${f} is missing; run \`bun image/build.ts${smoke ? " --smoke" : ""}\``);
  // Boot a throwaway copy (sparse, reflink where possible) so every boot starts from the built image.
  const work = mkdtempSync(join(tmpdir(), "weft-vm-"));
  const disk = join(work, "disk.img");
  Bun.spawnSync(["cp", "--sparse=always", "--reflink=auto", image, disk]);
  const cmd = qemuCommand({ image: disk, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), mem: Number(value("--mem") ?? 2048), cpus: Number(value("--cpus") ?? 2), kvm: args.includes("--kvm") });
  console.error(`booting: ${cmd.join(" ")}`);
  const t0 = performance.now();
  const vm = Bun.spawn(cmd, { stdin: smoke ? "ignore" : "inherit", stdout: smoke ? "pipe" : "inherit", stderr: "inherit" });
  const timer = setTimeout(() => {
    console.error(`image/boot: no verdict within ${timeoutS} s; stopping the VM`);
    vm.kill("SIGKILL");
  }, timeoutS * 1000);
  let verdict: "pass" | "fail" | null = null;
  if (smoke && vm.stdout) {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of vm.stdout as ReadableStream<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, "");
        buf = buf.slice(i + 1);
        const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
        if (!quiet || line.includes("WEFT-SMOKE")) console.log(`[${s}s] ${line}`);
        if (line.includes("WEFT-SMOKE: pass")) verdict = "pass";
        if (line.includes("WEFT-SMOKE: fail")) verdict = "fail";
      }
    }
  }
  const code = await vm.exited;
  clearTimeout(timer);
  rmSync(work, { recursive: true, force: true });
  console.error(`VM stopped after ${((performance.now() - t0) / 1000).toFixed(0)} s (qemu exit ${code})${smoke ? `; smoke test: ${verdict ?? "no verdict"}` : ""}`);
  process.exit(smoke ? (verdict === "pass" ? 0 : 1) : code);
}
