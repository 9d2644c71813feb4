#!/usr/bin/env bun
// Boots the image under qemu with a virtual GPU (-device virtio-vga, or
// --gpu bochs-display) and checks, through the QEMU monitor's screendump,
// that the screen shows weft's output: weft.service runs `weft run`, which
// picks DRM because the VM has a card with a connected connector. Passes
// when most of the screen is weft's background colour (computed here by
// rendering an empty scene with the same renderer, not written down), and
// writes the screen as PNG.
//
// Usage: bun image/drm-screendump.ts [--dir DIR] [--image NAME|PATH] [--out FILE.png] [--gpu virtio-vga|bochs-display] [--timeout S] [--kvm]
// Build the image first: bun image/build.ts (docs/drm.md).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { imageDir } from "./build.ts";
import { diskPath, qemuCommand, type Display } from "./boot.ts";
import { Compositor } from "../src/compositor/compositor.ts";
import { encodePng } from "../src/compositor/render/png.ts";

const args = process.argv.slice(2);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const dir = resolve(value("--dir") ?? imageDir());
const out = resolve(value("--out") ?? join(dir, "drm-screen.png"));
const gpu = value("--gpu") ?? "virtio-vga";
if (gpu !== "virtio-vga" && gpu !== "bochs-display") throw new Error(`--gpu ${gpu}: virtio-vga or bochs-display`);
const timeoutS = Number(value("--timeout") ?? 900);

/** weft's background as its renderer writes it (BGRX → 0xRRGGBB). */
export function weftBackground(): number {
  const work = mkdtempSync(join(tmpdir(), "weft-bg-"));
  const comp = new Compositor({ width: 8, height: 8, socket: join(work, "wl") });
  try {
    comp.screenshot(); // renders the pending (whole-output) damage
    const s = comp.snapshot();
    return (s.pixels[2] << 16) | (s.pixels[1] << 8) | s.pixels[0];
  } finally {
    comp.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A binary PPM (P6, maxval 255) → size and RGB bytes. */
export function parsePpm(b: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const head = new TextDecoder("latin1").decode(b.subarray(0, 64));
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(head);
  if (!m) throw new Error(`not a P6 PPM: ${JSON.stringify(head.slice(0, 20))}`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  return { width, height, rgb: b.subarray(m[0].length, m[0].length + width * height * 3) };
}

export async function monitor(sock: string, cmd: string): Promise<void> {
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let text = "";
  const s = await Bun.connect({
    unix: sock,
    socket: {
      data(_s, d) {
        text += new TextDecoder().decode(d);
        // The monitor answers each command with a fresh "(qemu) " prompt.
        if ((text.match(/\(qemu\) /g) ?? []).length >= 2) done();
      },
      close() {
        done();
      },
    },
  });
  s.write(`${cmd}\n`);
  const t = setTimeout(() => done(), 10_000);
  await finished;
  clearTimeout(t);
  s.end();
}

if (import.meta.main) {
  const image = diskPath(dir, value("--image"));
  if (!existsSync(image)) throw new Error(`${image} is missing; run \`bun image/build.ts\``);
  const bg = weftBackground();
  const work = mkdtempSync(join(tmpdir(), "weft-vm-drm-"));
  const disk = join(work, "disk.img");
  Bun.spawnSync(["cp", "--sparse=always", "--reflink=auto", image, disk]);
  const sock = join(work, "monitor.sock");
  // The GPU asked for; the monitor on a socket for screendump.
  const base = qemuCommand({ image: disk, mem: 2048, cpus: 2, kvm: args.includes("--kvm"), display: gpu as Display });
  const cmd = base.flatMap((a, i) => (a === "none" && base[i - 1] === "-monitor" ? [`unix:${sock},server,nowait`] : [a]));
  console.error(`booting: ${cmd.join(" ")}`);
  const t0 = performance.now();
  const vm = Bun.spawn(cmd, { stdin: "ignore", stdout: Bun.file(join(work, "console.log")), stderr: "inherit" });
  let verdict = "no weft output on screen";
  const ppm = join(work, "screen.ppm");
  try {
    while ((performance.now() - t0) / 1000 < timeoutS && vm.exitCode === null) {
      await Bun.sleep(10_000); // polling a VM's screen: there is no event to wait on
      if (!existsSync(sock)) continue;
      await monitor(sock, `screendump ${ppm}`);
      if (!existsSync(ppm)) continue;
      const { width, height, rgb } = parsePpm(readFileSync(ppm));
      let same = 0;
      for (let i = 0; i + 2 < rgb.length; i += 3) if (((rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2]) === bg) same++;
      const share = same / (width * height);
      console.error(`[${((performance.now() - t0) / 1000).toFixed(0)} s] screen ${width}x${height}: ${(share * 100).toFixed(1)} % weft background`);
      // Keep the latest picture as PNG (BGRX for the encoder).
      const bgrx = new Uint8Array(width * height * 4);
      for (let p = 0; p < width * height; p++) {
        bgrx[p * 4] = rgb[p * 3 + 2];
        bgrx[p * 4 + 1] = rgb[p * 3 + 1];
        bgrx[p * 4 + 2] = rgb[p * 3];
      }
      writeFileSync(out, encodePng(bgrx, width, height, width * 4));
      if (share > 0.9) {
        verdict = "pass";
        break;
      }
    }
  } finally {
    if (vm.exitCode === null) {
      if (existsSync(sock)) await monitor(sock, "quit").catch(() => {});
      vm.kill("SIGKILL");
    }
    await vm.exited;
    const log = readFileSync(join(work, "console.log"), "utf8");
    const weftLines = log.split("\n").filter((l) => /weft/i.test(l)).slice(-15);
    if (verdict !== "pass") console.error(weftLines.join("\n"));
    rmSync(work, { recursive: true, force: true });
  }
  console.error(`drm screendump: ${verdict}; screen saved to ${out} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  process.exit(verdict === "pass" ? 0 : 1);
}
