// weft:app/clipboard against weft's real compositor (in this process) and
// real Debian clients: what an app writes, `wl-paste` reads; what `wl-copy`
// offers, an app reads. Guest: tests/components/host.js.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseCapability, type Capability } from "../../src/appd/capabilities.ts";
import { CLIPBOARD_LIMITS } from "../../src/compositor/objects/data-device.ts";
import { ROOT } from "../helpers.ts";
import { Harness } from "../compositor/helpers.ts";
import { loadHostGuest, runHost } from "./host-guest.ts";

const caps = (...c: string[]): Capability[] => c.map((s) => parseCapability(s) as Capability);
let h: Harness | null = null;
const harness = () => (h ??= new Harness());
const app = (capabilities: Capability[], clipboard = harness().comp.dataDevice) => ({
  context: { app: { sessionId: 1, appId: "org.weft.test.host", capabilities, clipboard } },
});
const both = caps("sys:clipboard:read", "sys:clipboard:write");

beforeAll(() => loadHostGuest(), 600_000);
afterEach(async () => {
  if (h) {
    expect(h.comp.server.internalErrors).toBe(0);
    await h.dispose();
  }
  h = null;
});

describe("weft:app/clipboard", () => {
  test("an app writes, wl-paste reads it as text/plain;charset=utf-8 and text/plain", async () => {
    const r = await runHost(["clip-write|from an app ✓"], app(both));
    expect(r.lines).toEqual(["clipboard.write: ok"]);
    const types = await harness().run(["wl-paste", "--list-types"]);
    expect(types.out.trim().split("\n")).toEqual(["text/plain;charset=utf-8", "text/plain"]);
    expect(await harness().run(["wl-paste", "--no-newline"])).toEqual({ code: 0, out: "from an app ✓" });
    expect(await harness().run(["wl-paste", "--no-newline", "--type", "text/plain"])).toEqual({ code: 0, out: "from an app ✓" });
    // and the app reads its own text back without a client
    expect((await runHost(["clip-read"], app(both))).lines).toEqual(['clipboard.read: ok "from an app ✓"']);
  }, 60_000);

  test("larger than a pipe's buffer: 300 kB reaches wl-paste whole", async () => {
    const text = "0123456789".repeat(30_000);
    expect((await runHost([`clip-write|${text}`], app(both))).lines).toEqual(["clipboard.write: ok"]);
    const got = await harness().run(["wl-paste", "--no-newline"]);
    expect(got.code).toBe(0);
    expect(got.out.length).toBe(text.length);
    expect(got.out === text).toBe(true);
  }, 60_000);

  test("wl-copy offers text, the app reads it", async () => {
    const hh = harness();
    hh.spawn(["wl-copy", "--foreground", "from a client ✓"]);
    const first = await hh.waitFor("a selection", () => hh.comp.dataDevice.selection);
    const r = await runHost(["clip-read"], app(both));
    expect(r.lines).toEqual(['clipboard.read: ok "from a client ✓"']);
    // more than a pipe holds at once (64 KiB): read in several wake-ups
    const big = "abcdefghij".repeat(10_000);
    hh.spawn(["wl-copy", "--foreground", big]);
    await hh.waitFor("the new selection", () => hh.comp.dataDevice.selection?.data.mimes.includes("text/plain") && (hh.comp.dataDevice.selection as unknown) !== first);
    expect((await runHost(["clip-read"], app(both))).lines).toEqual([`clipboard.read: ok ${JSON.stringify(big)}`]);
  }, 60_000);

  test("empty, non-text, and no compositor are clear errs", async () => {
    expect((await runHost(["clip-read"], app(both))).lines).toEqual(["clipboard.read: err clipboard: the clipboard is empty"]);
    const hh = harness();
    hh.spawn(["wl-copy", "--foreground", "--type", "image/png", "not really a png"]);
    await hh.waitFor("a selection", () => hh.comp.dataDevice.selection !== null);
    expect((await runHost(["clip-read"], app(both))).lines).toEqual(["clipboard.read: err clipboard: the clipboard holds no text (it offers image/png)"]);
    const none = { context: { app: { sessionId: 1, appId: "x", capabilities: both } } };
    expect((await runHost(["clip-read", "clip-write|x"], none)).lines).toEqual([
      "clipboard.read: err clipboard: no compositor runs in this weft, so there is no clipboard",
      "clipboard.write: err clipboard: no compositor runs in this weft, so there is no clipboard",
    ]);
  }, 60_000);

  test("a client that never hands the text over, or hands over too much: errs within the limits, weft unharmed", async () => {
    const hh = harness();
    const clipsource = join(ROOT, "build", "clients", "clipsource");
    const stall = hh.spawn([clipsource, "stall"]);
    await hh.waitFor("the staller's selection", () => hh.comp.dataDevice.selection);
    const t0 = performance.now();
    expect((await runHost(["clip-read"], app(both))).lines).toEqual([
      `clipboard.read: err clipboard: the app holding the clipboard did not hand it over within ${CLIPBOARD_LIMITS.timeoutMs / 1000} s`,
    ]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(CLIPBOARD_LIMITS.timeoutMs - 50);
    stall.proc.kill();
    await stall.proc.exited;
    await hh.waitFor("the selection gone with its client", () => hh.comp.dataDevice.selection === null);
    hh.spawn([clipsource, "flood", String(CLIPBOARD_LIMITS.bytes + 100_000)]);
    await hh.waitFor("the flooder's selection", () => hh.comp.dataDevice.selection);
    expect((await runHost(["clip-read"], app(both))).lines).toEqual([`clipboard.read: err clipboard: the clipboard holds more than ${CLIPBOARD_LIMITS.bytes} bytes`]);
    // and weft still serves: an app's own text goes out and comes back
    expect((await runHost(["clip-write|after", "clip-read"], app(both))).lines).toEqual(["clipboard.write: ok", 'clipboard.read: ok "after"']);
  }, 60_000);

  test("denied without the capability; the clipboard is untouched", async () => {
    const hh = harness();
    const r = await runHost(["clip-write|sneaky", "clip-read"], app(caps("sys:notifications")));
    expect(r.lines).toEqual([
      "clipboard.write: err clipboard: capability sys:clipboard:write not granted",
      "clipboard.read: err clipboard: capability sys:clipboard:read not granted",
    ]);
    const readOnly = await runHost(["clip-write|sneaky"], app(caps("sys:clipboard:read")));
    expect(readOnly.lines).toEqual(["clipboard.write: err clipboard: capability sys:clipboard:write not granted"]);
    expect(hh.comp.dataDevice.selection).toBeNull();
    expect((await runHost(["clip-read"], app(both))).lines).toEqual(["clipboard.read: err clipboard: the clipboard is empty"]);
  }, 60_000);
});
