// A DRM card that appears after weft started headless (a fast boot: the
// driver was still loading) is noticed once, from kernel uevents; `weft run`
// then stops cleanly under systemd so the unit's restart drives it. The
// uevents here come through a socket pair in the kernel's wire format.
import { describe, expect, test } from "bun:test";
import { closeFd, socketPair, writeFd } from "../../ffi/libc.ts";
import { addedCard, watchForCard } from "../../src/compositor/backend/card-watch.ts";
import { encodeUevent, type Uevent } from "../../src/compositor/backend/uevent.ts";
import { stopSignals } from "../../src/system/stop-signals.ts";

const ev = (action: string, devpath: string, env: Record<string, string>): Uevent => ({ action, devpath, env });
const CARD = ev("add", "/devices/pci0000:00/0000:00:02.0/drm/card0", { SUBSYSTEM: "drm", DEVNAME: "dri/card0", DEVTYPE: "drm_minor" });
const RENDER = ev("add", "/devices/pci0000:00/0000:00:02.0/drm/renderD128", { SUBSYSTEM: "drm", DEVNAME: "dri/renderD128" });
const HOTPLUG = ev("change", "/devices/pci0000:00/0000:00:02.0/drm/card0", { SUBSYSTEM: "drm", HOTPLUG: "1", DEVNAME: "dri/card0" });
const KEYBOARD = ev("add", "/devices/platform/i8042/serio0/input/input1/event1", { SUBSYSTEM: "input", DEVNAME: "input/event1" });

describe("a DRM card appearing after start", () => {
  test("only an added card node counts (not a render node, a hotplug change or another subsystem)", () => {
    expect(addedCard(CARD)).toBe("/dev/dri/card0");
    for (const e of [RENDER, HOTPLUG, KEYBOARD]) expect(addedCard(e)).toBeNull();
  });

  test("the watch calls back once, with the card's path, when it arrives among other uevents", async () => {
    const [ours, kernel] = socketPair();
    const seen: string[] = [];
    let arrived!: () => void;
    const first = new Promise<void>((r) => (arrived = r));
    const watch = watchForCard((path) => {
      seen.push(path);
      arrived();
    }, ours);
    try {
      writeFd(kernel, new TextEncoder().encode("libudev\0garbage")); // udev's rebroadcast format and garbage are skipped
      for (const e of [KEYBOARD, RENDER, HOTPLUG]) writeFd(kernel, encodeUevent(e));
      writeFd(kernel, encodeUevent(CARD));
      writeFd(kernel, encodeUevent({ ...CARD, devpath: CARD.devpath.replace("card0", "card1"), env: { ...CARD.env, DEVNAME: "dri/card1" } }));
      await Promise.race([first, Bun.sleep(5000).then(() => Promise.reject(new Error("no card noticed within 5 s")))]);
      // Everything was written before the loop ran: the one wake-up drained card1 too, unreported.
      expect(seen).toEqual(["/dev/dri/card0"]);
    } finally {
      watch.close();
      closeFd(kernel);
    }
  });

  test("weft's own stop reason starts the same clean stop as a signal, once", async () => {
    const stops = stopSignals(() => {});
    try {
      stops.stop("a DRM card appeared");
      stops.stop("something else");
      expect(await stops.signalled).toBe("a DRM card appeared");
    } finally {
      stops.off();
    }
  });
});
