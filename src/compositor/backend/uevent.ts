// Kernel uevents (netlink, NETLINK_KOBJECT_UEVENT): "ACTION@DEVPATH\0KEY=VALUE\0…".
// The DRM backend re-probes on a drm HOTPLUG=1 change; input watches
// SUBSYSTEM=input add/remove. udev's own rebroadcast (libudev's format) is not used:
// it needs udevd, which a WEFT device may not run.
import { closeFd, readSome, ueventSocket } from "../../../ffi/libc.ts";
import { watchFd } from "../../loop/fd.ts";

export interface Uevent {
  action: string;
  devpath: string;
  env: Record<string, string>;
}

export function parseUevent(buf: Uint8Array): Uevent | null {
  const parts = new TextDecoder().decode(buf).split("\0");
  const head = parts[0];
  const at = head.indexOf("@");
  if (at <= 0) return null; // libudev's "libudev\0…" messages and garbage
  const env: Record<string, string> = {};
  for (const p of parts.slice(1)) {
    const eq = p.indexOf("=");
    if (eq > 0) env[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return { action: head.slice(0, at), devpath: head.slice(at + 1), env };
}

export function encodeUevent(e: Uevent): Uint8Array {
  const parts = [`${e.action}@${e.devpath}`, `ACTION=${e.action}`, `DEVPATH=${e.devpath}`, ...Object.entries(e.env).map(([k, v]) => `${k}=${v}`)];
  return new TextEncoder().encode(parts.join("\0") + "\0");
}

export function isDrmHotplug(e: Uevent): boolean {
  return e.env.SUBSYSTEM === "drm" && e.env.HOTPLUG === "1";
}

/** Hands each uevent pending on a non-blocking uevent socket to `fn` (garbage and libudev's messages skipped). */
export function drainUevents(fd: number, fn: (u: Uevent) => void): void {
  // A 0-byte read (a closed socket-pair peer in tests) ends the drain too: it would repeat forever.
  for (let m = readSome(fd, 8192); m?.length; m = readSome(fd, 8192)) {
    const u = parseUevent(m);
    if (u) fn(u);
  }
}

/**
 * Calls `fn` on the loop for every uevent arriving on `fd` (by default a new
 * kernel uevent socket; throws when there is none). Closing ends the watch
 * and closes `fd`.
 */
export function watchUevents(fn: (u: Uevent) => void, fd = ueventSocket()): { close(): void } {
  const watch = watchFd(fd, () => drainUevents(fd, fn));
  return {
    close() {
      watch.close();
      closeFd(fd);
    },
  };
}
