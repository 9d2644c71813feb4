#!/usr/bin/env bun
// Boots the image's disk under qemu-system-x86_64 (TCG when there is no KVM)
// the way a machine would: UEFI firmware (OVMF) → systemd-boot on the disk's
// ESP → the image's kernel — no -kernel/-initrd. The serial console is on
// this terminal. With an image built by `bun image/build.ts --smoke`, waits
// for the smoke test's verdict ("WEFT-SMOKE: pass|fail" on the console) and
// exits 0 or 1; the VM powers itself off afterwards. Without --smoke it just
// boots and shows the console until the VM stops (Ctrl-A X leaves qemu).
//
// The display is always chosen, never qemu's default VGA: none here (weft
// must come up headless: no card, nothing for it to pick DRM on);
// image/drm-screendump.ts asks for virtio-vga.
//
// Usage: bun image/boot.ts [--dir DIR (default ~/.cache/weft-image)] [--image NAME|PATH (default weft.img)] [--smoke] [--timeout S] [--mem MiB] [--cpus N] [--kvm] [--quiet]
// TCG by default: a /dev/kvm that exists may still not work (nested virtualisation); --kvm when it does.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { imageDir, imageName } from "./build.ts";

const args = process.argv.slice(2);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const dir = resolve(value("--dir") ?? imageDir());
const smoke = args.includes("--smoke");
const quiet = args.includes("--quiet");
const timeoutS = Number(value("--timeout") ?? 1200);

/** What the VM shows: no display device at all, or one GPU. */
export type Display = "none" | "virtio-vga" | "bochs-display";

/** UEFI firmware for x86-64 (Debian's ovmf package; one image with its variable store, which lives in memory for the VM's life). */
export const OVMF_CANDIDATES = ["/usr/share/ovmf/OVMF.fd", "/usr/share/qemu/OVMF.fd"];
export function ovmfPath(): string {
  const p = OVMF_CANDIDATES.find((f) => existsSync(f));
  if (!p) throw new Error(`no UEFI firmware (${OVMF_CANDIDATES.join(", ")}): apt-get install ovmf`);
  return p;
}

export function qemuCommand(o: { image: string; mem: number; cpus: number; kvm: boolean; display: Display; firmware?: string }): string[] {
  return [
    "qemu-system-x86_64",
    ...(o.kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"]), // TCG's "max" has AVX2, which Bun's x64 build needs
    "-m", String(o.mem),
    "-smp", String(o.cpus),
    "-bios", o.firmware ?? ovmfPath(),
    "-drive", `file=${o.image},format=raw,if=virtio`,
    "-nic", "none",
    // Never qemu's default (std VGA, which the kernel drives as a DRM card weft would pick): a GPU only when asked for.
    "-vga", "none",
    ...(o.display === "none" ? [] : ["-device", o.display]),
    "-display", "none",
    "-serial", "stdio",
    "-monitor", "none",
    "-no-reboot",
  ];
}

/** The disk to boot: --image as a path, or a name in the image dir. */
export function diskPath(dir: string, image?: string): string {
  if (!image) return join(dir, imageName());
  return isAbsolute(image) || image.includes("/") ? resolve(image) : join(dir, image);
}

if (import.meta.main) {
  const image = diskPath(dir, value("--image"));
  if (!existsSync(image)) throw new Error(`${image} is missing; run \`bun image/build.ts${smoke ? " --smoke" : ""}\``);
  // Boot a throwaway copy (sparse, reflink where possible) so every boot starts from the built image.
  const work = mkdtempSync(join(tmpdir(), "weft-vm-"));
  const disk = join(work, "disk.img");
  Bun.spawnSync(["cp", "--sparse=always", "--reflink=auto", image, disk]);
  const cmd = qemuCommand({ image: disk, mem: Number(value("--mem") ?? 2048), cpus: Number(value("--cpus") ?? 2), kvm: args.includes("--kvm"), display: "none" });
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
