// At boot weft can start before the kernel has a DRM card (the driver is
// still loading); auto selection then falls back to headless, and a device
// would stay dark. A running compositor cannot swap its backend, so weft
// watches kernel uevents for a card that appears later and says so once;
// under systemd `weft run` then stops cleanly and exits for a restart that
// drives the card (Restart=on-failure).
import { ueventSocket } from "../../../ffi/libc.ts";
import { type Uevent, watchUevents } from "./uevent.ts";

/** The /dev path of a DRM card (not a render node) that a uevent adds, if it does. */
export function addedCard(u: Uevent): string | null {
  if (u.action !== "add" || u.env.SUBSYSTEM !== "drm") return null;
  const name = u.env.DEVNAME ?? "";
  return /^dri\/card\d+$/.test(name) ? `/dev/${name}` : null;
}

/**
 * Calls `onCard` once, with its path, when a DRM card appears. `fd` is a
 * kernel uevent socket (tests pass one end of a socket pair). Returns the
 * watch's end; it closes `fd`.
 */
export function watchForCard(onCard: (path: string) => void, fd = ueventSocket()): { close(): void } {
  let done = false;
  return watchUevents((u) => {
    const card = addedCard(u);
    if (card && !done) {
      done = true;
      onCard(card);
    }
  }, fd);
}
