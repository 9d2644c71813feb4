#!/usr/bin/env bun
// VT switching on a real kernel: boots the image built with --vt-test under
// qemu with virtio-vga and checks, by the pixels of QEMU monitor
// screendumps:
//   1. weft on VT 1 shows its output, with a client animating in it
//      (two screens that differ, both mostly weft's background);
//   2. `chvt 2`, typed into a root shell on the serial console, shows the
//      text console: no weft background left, mostly black;
//   3. `chvt 1` shows weft again, and its content still changes — rendering
//      resumed, it is not the last frame shown again;
//   4. the keyboard (QEMU's sendkey): Ctrl+Alt+F2, read by weft from evdev,
//      shows the console; Ctrl+Alt+F1 there (the kernel's keyboard, which
//      sees keys only once weft released its grab) shows weft again;
// and that weft's journal tells the same story (switching away, back,
// display resumed). Screens are written as PNG to --out-dir, the serial
// console to vt-serial.log there.
//
// Usage: bun image/vt-switch.ts [--dir DIR] [--image NAME|PATH] [--out-dir DIR] [--timeout S] [--kvm]
// Build first: bun image/build.ts --vt-test --out DIR (docs/drm.md).
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { imageDir } from "./build.ts";
import { diskPath, qemuCommand } from "./boot.ts";
import { monitor, parsePpm, weftBackground } from "./drm-screendump.ts";
import { encodePng } from "../src/compositor/render/png.ts";

const args = process.argv.slice(2);
const value = (n: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const dir = resolve(value("--dir") ?? imageDir());
const outDir = resolve(value("--out-dir") ?? dir);
const timeoutS = Number(value("--timeout") ?? 1500);

interface Screen {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Share of the screen's pixels that are exactly `color` (0xRRGGBB). */
export function share(s: Screen, color: number): number {
  let n = 0;
  for (let i = 0; i + 2 < s.rgb.length; i += 3) if (((s.rgb[i] << 16) | (s.rgb[i + 1] << 8) | s.rgb[i + 2]) === color) n++;
  return n / (s.width * s.height);
}

/** Pixels that differ between two screens of the same size (all of them when the sizes differ). */
export function differing(a: Screen, b: Screen): number {
  if (a.width !== b.width || a.height !== b.height) return Math.max(a.width * a.height, b.width * b.height);
  let n = 0;
  for (let p = 0; p < a.width * a.height; p++) if (a.rgb[p * 3] !== b.rgb[p * 3] || a.rgb[p * 3 + 1] !== b.rgb[p * 3 + 1] || a.rgb[p * 3 + 2] !== b.rgb[p * 3 + 2]) n++;
  return n;
}

function savePng(s: Screen, file: string): void {
  const bgrx = new Uint8Array(s.width * s.height * 4);
  for (let p = 0; p < s.width * s.height; p++) {
    bgrx[p * 4] = s.rgb[p * 3 + 2];
    bgrx[p * 4 + 1] = s.rgb[p * 3 + 1];
    bgrx[p * 4 + 2] = s.rgb[p * 3];
  }
  writeFileSync(file, encodePng(bgrx, s.width, s.height, s.width * 4));
}

if (import.meta.main) {
  const image = diskPath(dir, value("--image"));
  if (!existsSync(image)) throw new Error(`${image} is missing; run \`bun image/build.ts --vt-test --out ${dir}\``);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "vt-serial.log"), "");
  const bg = weftBackground();
  const work = mkdtempSync(join(tmpdir(), "weft-vm-vt-"));
  const disk = join(work, "disk.img");
  Bun.spawnSync(["cp", "--sparse=always", "--reflink=auto", image, disk]);
  const sock = join(work, "monitor.sock");
  const base = qemuCommand({ image: disk, mem: 2048, cpus: 2, kvm: args.includes("--kvm"), display: "virtio-vga" });
  const cmd = base.flatMap((a, i) => (a === "none" && base[i - 1] === "-monitor" ? [`unix:${sock},server,nowait`] : [a]));
  console.error(`booting: ${cmd.join(" ")}`);
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  // Waits end here; diagnostics after a failure get a minute of their own.
  let end = t0 + timeoutS * 1000;
  const vm = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  // exitCode stays null when qemu dies of a signal (an abort): track the exit itself.
  let stopped = false;
  void vm.exited.then(() => {
    stopped = true;
    wake?.();
  });

  // The serial console: everything it printed, and waiting for a pattern in what comes next.
  let serial = "";
  let seen = 0;
  let wake = null as (() => void) | null;
  // Progress goes out as it happens (a TCG boot takes minutes).
  const log = { push: (...l: string[]) => console.error(l.join("\n")) };
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of vm.stdout as ReadableStream<Uint8Array>) {
      const text = dec.decode(chunk, { stream: true });
      serial += text;
      appendFileSync(join(outDir, "vt-serial.log"), text);
      wake?.();
    }
    wake?.();
  })();
  async function expectSerial(re: RegExp, what: string): Promise<RegExpMatchArray> {
    for (;;) {
      const m = serial.slice(seen).match(re);
      if (m) {
        seen += (m.index ?? 0) + m[0].length;
        return m;
      }
      if (stopped) throw new Error(`the VM stopped before ${what}`);
      const left = end - performance.now();
      if (left <= 0) throw new Error(`no ${what} on the serial console within ${timeoutS} s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 5000));
        wake = () => (clearTimeout(t), (wake = null), r());
      });
    }
  }
  function type(line: string): void {
    vm.stdin.write(`${line}\n`);
    vm.stdin.flush();
  }
  /** Types a command and waits for its exit status (the marker is computed by the shell, so its echo does not match). */
  async function run(command: string): Promise<string> {
    const from = serial.length;
    type(`${command}; echo "WEFT-VT-RC-$?-$((6*7))"`);
    const m = await expectSerial(/WEFT-VT-RC-(\d+)-42/, `the end of \`${command}\``);
    if (m[1] !== "0") throw new Error(`\`${command}\` failed (exit ${m[1]}): ${serial.slice(from).slice(-400)}`);
    return serial.slice(from);
  }

  const ppm = join(work, "screen.ppm");
  async function dump(): Promise<Screen | null> {
    rmSync(ppm, { force: true });
    if (!existsSync(sock)) return null;
    await monitor(sock, `screendump ${ppm}`);
    return existsSync(ppm) ? parsePpm(readFileSync(ppm)) : null;
  }
  /** Polls the screen (there is no event to wait on) until `ok`; returns that screen. Every minute the units' states go to the log. */
  let last = ""; // the last screen's description (logged when it changes)
  async function screenUntil(what: string, ok: (s: Screen) => boolean, everyMs = 3000): Promise<Screen> {
    let asked = performance.now();
    while (performance.now() < end && !stopped) {
      if (performance.now() - asked > 60_000) {
        asked = performance.now();
        const out = await run("systemctl show -p Id -p ActiveState -p SubState -p NRestarts weft.service weft-vt-client.service | paste -sd' '");
        // (the shell's bracketed-paste escapes may come first on the line)
        log.push(`[${since()}] ${/Id=weft\.service.*/.exec(out.split(/\r?\n/).find((l) => /Id=weft\.service/.test(l) && !l.includes("systemctl")) ?? "")?.[0] ?? "(no state)"}`);
      }
      const s = await dump();
      if (s) {
        const d = `${s.width}x${s.height}, ${(share(s, bg) * 100).toFixed(1)} % weft background, ${(share(s, 0) * 100).toFixed(1)} % black`;
        if (d !== last) log.push(`[${since()}] screen ${d}`);
        last = d;
        if (ok(s)) return s;
      }
      await Bun.sleep(everyMs);
    }
    throw new Error(`no ${what} within ${timeoutS} s (last screen: ${last || "none"})`);
  }
  const weftShown = (s: Screen) => share(s, bg) > 0.6;
  /** A text console: none of weft's background, mostly black. */
  const consoleShown = (s: Screen) => share(s, bg) < 0.001 && share(s, 0) > 0.5;
  /** Two consecutive weft screens that differ: a client is drawing and weft is showing it. */
  async function weftAnimating(what: string, prev: Screen | null): Promise<{ first: Screen; second: Screen }> {
    let first = prev ?? (await screenUntil(what, weftShown, 2000));
    for (;;) {
      const second = await screenUntil(what, weftShown, 2000);
      if (differing(first, second) > 0) return { first, second };
      first = second;
    }
  }

  let verdict = "fail";
  try {
    await expectSerial(/root@[\w-]+:~# /, "root shell (autologin on ttyS0)");
    log.push(`[${since()}] root shell on the serial console`);

    const before = await weftAnimating("weft with an animating client on VT 1", null);
    log.push(`[${since()}] weft on screen, client animating (${differing(before.first, before.second)} pixels changed between two screens)`);
    savePng(before.second, join(outDir, "vt-1-weft.png"));

    await run("chvt 2");
    const text = await screenUntil("text console after chvt 2", consoleShown);
    log.push(`[${since()}] chvt 2: text console (${(share(text, 0) * 100).toFixed(1)} % black, no weft background)`);
    savePng(text, join(outDir, "vt-2-console.png"));

    await run("chvt 1");
    const back = await weftAnimating("weft again after chvt 1", null);
    const changed = differing(before.second, back.second);
    log.push(`[${since()}] chvt 1: weft again, still animating (${differing(back.first, back.second)} pixels changed), ${changed} pixels differ from its last screen before the switch`);
    savePng(back.second, join(outDir, "vt-1-weft-again.png"));
    if (changed === 0) throw new Error("weft's screen after switching back is the one before: rendering did not resume");

    // The keyboard (the VM's PS/2 keyboard through QEMU's sendkey): Ctrl+Alt+F2 is read by weft from
    // evdev and becomes VT_ACTIVATE; on tty2 the kernel's own keyboard handling takes Ctrl+Alt+F1 —
    // which it only sees if weft let go of its evdev grab.
    await monitor(sock, "sendkey ctrl-alt-f2");
    const byKey = await screenUntil("text console after Ctrl+Alt+F2", consoleShown);
    log.push(`[${since()}] Ctrl+Alt+F2 (weft, from evdev): text console (${(share(byKey, 0) * 100).toFixed(1)} % black)`);
    await monitor(sock, "sendkey ctrl-alt-f1");
    const keyBack = await weftAnimating("weft again after Ctrl+Alt+F1 on tty2", null);
    log.push(`[${since()}] Ctrl+Alt+F1 (the console's keyboard): weft again, animating (${differing(keyBack.first, keyBack.second)} pixels changed)`);

    const journal = await run("journalctl -b --no-pager -o cat -u weft.service | grep -E 'session:|display|udev'");
    const lines = journal.split(/\r?\n/).filter((l) => /session:|display|udev/.test(l) && !l.includes("grep"));
    log.push(...lines.map((l) => `  journal: ${l.trim()}`));
    for (const want of [/session: VT 1 \(standard input is \/dev\/tty1\)/, /session: VT 1: switching away/, /display paused: session deactivated/, /session: VT 1: back/, /display resumed/, /session: Ctrl\+Alt\+F2: switching to VT 2/])
      if (!lines.some((l) => want.test(l))) throw new Error(`weft's journal lacks ${want}`);

    // With --with-tests in the image: the VT port's contract against this kernel's VTs
    // (tty3 ours, tty4 the other) while weft owns tty1 — taking tty3 over switches away
    // from weft, closing it switches back, so weft must come back once more.
    const has = await run("test -x /opt/weft-tests/bun && echo HAS-$((40+2))-TESTS || true");
    if (/HAS-42-TESTS/.test(has)) {
      const out = await run("cd /opt/weft-src && WEFT_TEST_VTS=3,4 /opt/weft-tests/bun test --timeout 60000 tests/compositor/vt-contract.test.ts 2>&1 | tail -n 14; cd");
      const counts = Object.fromEntries(["pass", "skip", "fail"].map((k) => [k, Number(new RegExp(`(\\d+) ${k}\\b`).exec(out)?.[1] ?? 0)]));
      log.push(`[${since()}] VT contract in the VM: ${counts.pass} pass, ${counts.skip} skip, ${counts.fail} fail`, ...out.split(/\r?\n/).filter((l) => /\((pass|fail|skip)\)/.test(l)).map((l) => `  ${l.trim()}`));
      if (counts.fail !== 0 || counts.skip !== 0 || counts.pass !== 8) throw new Error(`the VT contract on the real kernel did not pass whole:\n${out}`);
      const again = await weftAnimating("weft back after the contract's switches", null);
      log.push(`[${since()}] weft back after the contract, animating (${differing(again.first, again.second)} pixels changed)`);
      savePng(again.second, join(outDir, "vt-1-weft-after-contract.png"));
    } else log.push(`[${since()}] no /opt/weft-tests in the image (build with --with-tests): VT contract on the real kernel not run`);
    verdict = "pass";
  } catch (e) {
    log.push(`FAILED: ${(e as Error).message}`);
    if (!stopped && /root@[\w-]+:~# /.test(serial)) {
      // What weft and its client said, through the shell.
      end = performance.now() + 60_000;
      const at = serial.length;
      const done = run("systemctl status --no-pager -l -n 0 weft.service weft-vt-client.service; journalctl -b --no-pager -o short-monotonic -u weft.service -u weft-vt-client.service | tail -n 60").catch(() => {});
      await Promise.race([done, Bun.sleep(60_000)]);
      log.push("diagnostics:", serial.slice(at));
    } else log.push("serial console (last 3000 characters):", serial.slice(-3000));
  } finally {
    if (!stopped) {
      if (existsSync(sock)) await monitor(sock, "quit").catch(() => {});
      vm.kill("SIGKILL");
    }
    await vm.exited;
    rmSync(work, { recursive: true, force: true });
  }
  console.error(`vt switch: ${verdict} (${since()}); screens in ${outDir}`);
  process.exit(verdict === "pass" ? 0 : 1);
}
