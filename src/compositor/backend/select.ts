// Which display backend `weft run` uses: DRM when asked (--drm) or when a
// usable card exists (auto), headless otherwise — always with a one-line
// reason, so a device that unexpectedly comes up headless says why.
import { existsSync, readdirSync } from "node:fs";
import type { Backend } from "./backend.ts";
import { DrmBackend } from "./drm.ts";
import { HeadlessBackend, type HeadlessOptions } from "./headless.ts";
import { DrmDevice } from "./kms-drm.ts";

export interface Chosen {
  backend: Backend;
  /** Set when the backend is DRM (session and input hooks need it). */
  drm: DrmBackend | null;
  /** "drm on /dev/dri/card0: …" or "headless: …" */
  why: string;
}

/** The cards to try: $WEFT_DRM_DEVICE alone, else every /dev/dri/card* in order. */
export function candidateCards(env: Record<string, string | undefined> = process.env, dir = "/dev/dri"): { cards: string[]; none?: string } {
  if (env.WEFT_DRM_DEVICE) return { cards: [env.WEFT_DRM_DEVICE] };
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^card\d+$/.test(n));
  } catch {
    return { cards: [], none: `no ${dir} (no GPU or display device)` };
  }
  if (names.length === 0) return { cards: [], none: `no card in ${dir}` };
  return { cards: names.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).map((n) => `${dir}/${n}`) };
}

/**
 * At boot weft may start while udev is still loading drivers (its coldplug:
 * a GPU driver module that creates /dev/dri/card0 a few seconds later), and
 * would then come up headless for good. With no card yet, wait — at most
 * `maxMs` — while udev says events are queued (/run/udev/queue exists, what
 * `udevadm settle` waits on), then look again. Returns how long it waited.
 */
export function settleForCards(env: Record<string, string | undefined> = process.env, dir = "/dev/dri", queue = "/run/udev/queue", maxMs = 10_000): number {
  if (env.WEFT_DRM_DEVICE || candidateCards(env, dir).cards.length > 0) return 0;
  const t0 = performance.now();
  // Before the loop runs anything: a short blocking wait is what a start needs here.
  while (existsSync(queue) && candidateCards(env, dir).cards.length === 0 && performance.now() - t0 < maxMs) Bun.sleepSync(50);
  return Math.round(performance.now() - t0);
}

/** Tries each card; the first with a connected connector and DRM master wins. */
export function openDrm(log: (m: string) => void, env: Record<string, string | undefined> = process.env): { drm: DrmBackend | null; why: string } {
  const { cards, none } = candidateCards(env);
  if (none) return { drm: null, why: none };
  const reasons: string[] = [];
  for (const path of cards) {
    let dev: DrmDevice | null = null;
    try {
      dev = DrmDevice.open(path);
      const drm = new DrmBackend(dev, { log });
      return { drm, why: `${path}: ${drm.outputs.map((o) => `${o.name} ${o.mode.width}x${o.mode.height}`).join(", ")}` };
    } catch (e) {
      dev?.close();
      reasons.push((e as Error).message);
    }
  }
  return { drm: null, why: reasons.join("; ") };
}

export function chooseBackend(mode: "auto" | "drm" | "headless", headless: HeadlessOptions, log: (m: string) => void): Chosen {
  if (mode === "headless") return { backend: new HeadlessBackend(headless), drm: null, why: "headless: asked for (--headless)" };
  const waited = settleForCards();
  if (waited > 0) log(`no card yet; waited ${waited} ms for udev to finish probing devices`);
  const { drm, why } = openDrm(log);
  if (drm) return { backend: drm, drm, why: `drm on ${why}` };
  if (mode === "drm") throw new Error(`--drm: no usable DRM device (${why})`);
  return { backend: new HeadlessBackend(headless), drm: null, why: `headless: no usable DRM device (${why})` };
}
