// xdg_wm_base ping/pong: a client that stops answering is marked
// unresponsive (event, log, control info); a well-behaved real client
// (weston-simple-shm) answers every ping and stays responsive.
import { afterEach, describe, expect, test } from "bun:test";
import { Harness, SHELLCLIENT } from "./helpers.ts";
import { windows } from "../../src/compositor/control.ts";
import { BTN_LEFT } from "../../src/compositor/objects/seat.ts";
import type { Client } from "../../src/compositor/wl.ts";

let h: Harness;
afterEach(async () => {
  expect(h.comp.server.internalErrors).toBe(0);
  await h.dispose();
});

const info = (pid: number) => windows(h.comp).find((w) => w.pid === pid);

describe("ping/pong", () => {
  test("a client that never pongs is marked unresponsive; weston-simple-shm, pinged all along, stays responsive", async () => {
    h = new Harness({ width: 800, height: 600, ping: { timeoutMs: 1000, intervalMs: 100 } });
    const flagged: number[] = [];
    h.comp.events.on("unresponsive", (c: Client) => flagged.push(c.pid));
    const shm = h.spawn(["weston-simple-shm"]);
    await h.mapped(shm);
    const hung = h.scripted([SHELLCLIENT, "pixel", "ff0000", "100", "100", "nopong"]);
    await hung.line(/^ping/);
    await h.waitFor("hung client flagged", () => flagged.includes(hung.pid), 10_000);
    expect(info(hung.pid)?.responsive).toBe(false);
    // simple-shm keeps answering the periodic pings.
    const start = h.comp.pings.pongs;
    await h.waitFor("ten more pongs", () => h.comp.pings.pongs >= start + 10, 10_000);
    expect(flagged).toEqual([hung.pid]);
    expect(info(shm.pid)?.responsive).toBe(true);
  });

  test("focus pings (no periodic round): a late pong makes the client responsive again", async () => {
    h = new Harness({ width: 800, height: 600, ping: { timeoutMs: 300, intervalMs: 0, inputGapMs: 0 } });
    let unresponsive = new Promise((resolve) => h.comp.events.once("unresponsive", resolve));
    const hung = h.scripted([SHELLCLIENT, "pixel", "00ff00", "100", "100", "nopong"]);
    // Mapping gives the window focus, and focus pings it.
    expect(await hung.line(/^ping/)).toBe("ping");
    await unresponsive;
    expect(info(hung.pid)?.responsive).toBe(false);
    const responsive = new Promise((resolve) => h.comp.events.once("responsive", resolve));
    hung.send("pong");
    await responsive;
    expect(info(hung.pid)?.responsive).toBe(true);
    // A click on the window is input: it pings again, and silence flags it again.
    unresponsive = new Promise((resolve) => h.comp.events.once("unresponsive", resolve));
    const v = h.windowOf(hung.pid)!;
    const f = v.frame();
    h.comp.seat.pointerMotion(f.x + 10, f.y + 10);
    h.comp.seat.pointerButton(BTN_LEFT, true);
    h.comp.seat.pointerButton(BTN_LEFT, false);
    expect(await hung.line(/^ping/)).toBe("ping");
    await unresponsive;
    expect(info(hung.pid)?.responsive).toBe(false);
  });
});
