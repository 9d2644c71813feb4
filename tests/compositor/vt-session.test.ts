// VT switching end to end on the fakes: the DRM backend over the fake KMS
// device, fake evdev keyboards, the kernel's VT switching modelled by
// FakeVtKernel, and a real client (weston-eventdemo) that shows which keys
// reached it. Ctrl+Alt+F2 → release: rendering stops, master dropped,
// input released, keys held lifted; then the switch completes. Switching
// back → acquire: master, modeset, frames again, input grabbed again (keys
// typed on the other VT dropped).
import { afterEach, describe, expect, test } from "bun:test";
import { EV, KEY } from "../../ffi/evdev.ts";
import { DrmBackend } from "../../src/compositor/backend/drm.ts";
import { FakeKmsDevice } from "../../src/compositor/backend/kms-fake.ts";
import { FakeVt, FakeVtKernel } from "../../src/compositor/backend/vt-fake.ts";
import { VtSession } from "../../src/compositor/backend/vt-session.ts";
import { FakeInputDevice } from "../../src/compositor/input/fake.ts";
import { Input } from "../../src/compositor/input/input.ts";
import { Harness } from "./helpers.ts";

let h: Harness | null = null;
let input: Input | null = null;
let session: VtSession | null = null;
afterEach(async () => {
  session?.destroy();
  session = null;
  input?.destroy();
  input = null;
  await h?.dispose();
  h = null;
});

/** Resolves once `check()` holds, checked after each turn of the loop (deadline 5 s). */
async function until(what: string, check: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

function setup(vt: FakeVt | null) {
  const dev = new FakeKmsDevice({ connectors: [{ name: "Virtual-1", modes: [{ width: 640, height: 480, refresh: 60, preferred: true }] }] });
  const backend = new DrmBackend(dev);
  h = new Harness({ backend });
  const log: string[] = [];
  input = new Input(h.comp, { onVtSwitch: (n) => session?.switchTo(n), log: (m) => log.push(m) });
  const kbd = new FakeInputDevice("kbd", { keyboard: true, pointer: false, touch: false });
  input.add(kbd);
  session = new VtSession(vt, { display: backend, input, log: (m) => log.push(m) });
  session.start();
  return { dev, backend, h, input, kbd, log };
}

describe("VT session (fake kernel, fake card, fake keyboard, real client)", () => {
  test("Ctrl+Alt+F2 switches away only after weft let go; switching back resumes rendering and input", async () => {
    const kernel = new FakeVtKernel(6, 1);
    const vt = new FakeVt(kernel, 1);
    const { dev, backend, h, input, kbd, log } = setup(vt);
    expect(vt.state()).toEqual({ graphics: true, keyboardMode: 4, process: true });
    const c = h.scripted(["stdbuf", "-oL", "weston-eventdemo", "--log-key"]);
    await h.waitFor("eventdemo window", () => h.windowOf(c.pid));
    await h.comp.nextFrame();

    kbd.emit([EV.KEY, KEY.LEFTCTRL, 1]);
    kbd.emit([EV.KEY, KEY.LEFTALT, 1]);
    kbd.emit([EV.KEY, KEY.F2, 1]);
    await until("VT 2 active", () => kernel.active === 2);
    expect(kernel.switches).toEqual([[1, 2]]);
    expect(backend.active).toBe(false);
    expect(dev.isMaster).toBe(false);
    expect(kbd.grabbed).toBe(false);
    expect(input.isSuspended).toBe(true);
    // The client saw Ctrl and Alt go down and, at the switch, up — never F2.
    expect(await c.line(/^key key: /)).toMatch(/^key key: 29, .*state: pressed/);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 56, .*state: pressed/);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 29, .*state: released/);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 56, .*state: released/);

    // Away: nothing renders, nothing is read (a flip queued before the switch may still complete).
    await until("the last flip done", () => dev.pendingFlips === 0);
    await new Promise<void>((r) => setImmediate(r));
    const calls = dev.calls.length;
    let frames = 0;
    h.comp.events.on("frame", () => frames++);
    h.comp.scheduleRepaint();
    kbd.emit([EV.KEY, KEY.LEFTCTRL, 0], [EV.KEY, KEY.LEFTALT, 0], [EV.KEY, KEY.F2, 0]);
    kbd.emit([EV.KEY, KEY.A, 1]);
    kbd.emit([EV.KEY, KEY.A, 0]);
    await new Promise<void>((r) => setTimeout(r, 50));
    expect(dev.calls.length).toBe(calls);
    expect(frames).toBe(0);

    // chvt 1 from the text console.
    kernel.activate(1);
    await until("display back", () => backend.active);
    await h.comp.nextFrame();
    expect(kernel.active).toBe(1);
    expect(dev.isMaster).toBe(true);
    expect(kbd.grabbed).toBe(true);
    const after = dev.calls.slice(calls);
    expect(after[0]).toBe("setMaster");
    expect(after.some((l) => /^setCrtc 100 Virtual-1 640x480 fb\d+$/.test(l))).toBe(true);
    // Input again; the A typed on VT 2 never reaches the client.
    kbd.emit([EV.KEY, KEY.B, 1]);
    kbd.emit([EV.KEY, KEY.B, 0]);
    expect(await c.line(/^key key: /)).toMatch(/^key key: 48, .*state: pressed/);
    expect(log).toEqual(expect.arrayContaining(["Ctrl+Alt+F2: switching to VT 2", "VT 1: switching away", "VT 1: back"]));

    session!.destroy();
    session = null;
    expect(vt.state()).toEqual({ graphics: false, keyboardMode: 3 /* K_UNICODE, as the console had it */, process: false });
  }, 20_000);

  test("a release request with no switch pending (SIGUSR1 by hand) keeps the display", async () => {
    const kernel = new FakeVtKernel(6, 1);
    const vt = new FakeVt(kernel, 1);
    const { backend, dev, h, kbd, log } = setup(vt);
    await h.comp.nextFrame();
    vt.signal("release");
    expect(backend.active).toBe(true);
    expect(dev.isMaster).toBe(true);
    expect(kbd.grabbed).toBe(true);
    expect(log.some((l) => /no VT switch pending \(VT_RELDISP\(1\) on \/dev\/tty1 failed: EINVAL\); display kept/.test(l))).toBe(true);
    expect(kernel.active).toBe(1);
    await h.comp.nextFrame();
  });

  test("a failure while letting go still answers the kernel (the switch happens), and one while coming back still resumes input", async () => {
    const kernel = new FakeVtKernel(6, 1);
    const vt = new FakeVt(kernel, 1);
    const log: string[] = [];
    const did: string[] = [];
    const parts = {
      display: {
        deactivate() {
          did.push("deactivate");
          throw new Error("drmDropMaster: EIO");
        },
        activate(): boolean {
          did.push("activate");
          throw new Error("drmModeGetResources: EIO");
        },
      },
      input: { suspend: () => void did.push("suspend"), resume: () => void did.push("resume") },
      log: (m: string) => log.push(m),
    };
    session = new VtSession(vt, parts);
    session.start();
    session.switchTo(2);
    // Left unanswered, the kernel would wait for VT_RELDISP for ever: no VT could be switched to again.
    await until("VT 2 active", () => kernel.active === 2);
    expect(did).toEqual(["deactivate", "suspend"]);
    expect(log).toContain("giving the display up: drmDropMaster: EIO");
    kernel.activate(1);
    await until("input resumed", () => did.includes("resume"));
    expect(did).toEqual(["deactivate", "suspend", "activate", "resume"]);
    expect(log).toContain("taking the display back: drmModeGetResources: EIO");
    expect(kernel.active).toBe(1);
    // The acquire was acknowledged: a next switch away is asked for and happens.
    session.switchTo(3);
    await until("VT 3 active", () => kernel.active === 3);
  });

  test("back on our VT while the other session still holds DRM master: weft takes the display as soon as it lets go", async () => {
    const kernel = new FakeVtKernel(6, 1);
    const vt = new FakeVt(kernel, 1);
    const { dev, backend, h, log } = setup(vt);
    await h.comp.nextFrame();
    session!.switchTo(2);
    await until("VT 2 active", () => kernel.active === 2);
    dev.takeMaster(); // the session on VT 2
    kernel.activate(1); // ... which lets the switch back happen before it dropped master
    await until("VT 1 acquired", () => log.includes("VT 1: back"));
    expect(backend.active).toBe(false);
    expect(log).toContain("the display is still held by another session; weft takes it when it is free (retrying every 250 ms)");
    const resumed = h.comp.nextFrame();
    dev.releaseMaster();
    // Nothing switches again: without retrying, weft's VT would stay dark for good.
    await until("display back", () => backend.active);
    await resumed;
    expect(dev.isMaster).toBe(true);
    expect(log).toContain("the display is free again: resumed");
  });

  test("without a VT, SIGUSR1 gives the display and input up and SIGUSR2 takes them back; Ctrl+Alt+Fn is only logged", async () => {
    const { backend, dev, h, kbd, log } = setup(null);
    await h.comp.nextFrame();
    process.kill(process.pid, "SIGUSR1");
    await until("display given up", () => !backend.active);
    expect(dev.isMaster).toBe(false);
    expect(kbd.grabbed).toBe(false);
    process.kill(process.pid, "SIGUSR2");
    await until("display back", () => backend.active);
    expect(kbd.grabbed).toBe(true);
    await h.comp.nextFrame();
    kbd.emit([EV.KEY, KEY.LEFTCTRL, 1], [EV.KEY, KEY.LEFTALT, 1], [EV.KEY, KEY.F2, 1]);
    await until("log line", () => log.includes("Ctrl+Alt+F2: weft owns no VT, nothing to switch"));
    expect(backend.active).toBe(true);
  });

  test("a VT weft may not take over, or one in graphics mode already, is a clear error", () => {
    const kernel = new FakeVtKernel(6, 1);
    const dev = new FakeKmsDevice({ connectors: [{ name: "Virtual-1", modes: [{ width: 64, height: 48, refresh: 60, preferred: true }] }] });
    const parts = { display: { deactivate() {}, activate: () => true }, input: { suspend() {}, resume() {} }, log() {} };
    expect(() => new VtSession(new FakeVt(kernel, 2, { permitted: false }), parts).start()).toThrow("VT_SETMODE(VT_PROCESS) on /dev/tty2 failed: EPERM");
    new FakeVt(kernel, 3).takeOver({ release() {}, acquire() {} });
    expect(() => new VtSession(new FakeVt(kernel, 3), parts).start()).toThrow("/dev/tty3 is already in graphics mode: is another display server running on it?");
    dev.close();
  });
});
