// What `weft run` needs to bring a display up: the backend (chosen and
// logged by select.ts), and on DRM the devices and session that come with
// owning a screen — evdev input, Ctrl+Alt+Backspace to stop, and the VT
// (vt-session.ts): switching away and back with Ctrl+Alt+Fn or chvt, or,
// without a VT, SIGUSR1/SIGUSR2 from a session manager.
import { watchForCard } from "./card-watch.ts";
import { log } from "../../system/log.ts";
import type { Compositor } from "../compositor.ts";
import { Input } from "../input/input.ts";
import type { Backend } from "./backend.ts";
import type { HeadlessOptions } from "./headless.ts";
import { chooseBackend } from "./select.ts";
import type { VirtualTerminal } from "./vt.ts";
import { openLinuxVt } from "./vt-linux.ts";
import { VtSession } from "./vt-session.ts";

export interface Display {
  backend: Backend;
  /** Starts input and the session for the compositor (DRM only; a no-op headless). */
  startInput(comp: Compositor): { destroy(): void };
  /**
   * Headless only because no card was usable at start (auto): calls `onCard`
   * once if a DRM card appears later (card-watch.ts); null otherwise.
   */
  watchForCard(onCard: (path: string) => void): { close(): void } | null;
}

/** The VT to own, or null (logged either way); never throws — weft can drive the card without one. */
function findVt(): VirtualTerminal | null {
  try {
    const { vt, why } = openLinuxVt();
    log.info(vt ? `session: VT ${vt.number} (${why})` : `session: no VT (${why}); SIGUSR1/SIGUSR2 give the display up and take it back`);
    return vt;
  } catch (e) {
    log.warn(`session: no VT: ${(e as Error).message}`);
    return null;
  }
}

export function startDisplay(mode: "auto" | "drm" | "headless", headless: HeadlessOptions): Display {
  const chosen = chooseBackend(mode, headless, (m) => log.info(`drm: ${m}`));
  log.info(`display: ${chosen.why}`);
  const drm = chosen.drm;
  return {
    backend: chosen.backend,
    watchForCard(onCard) {
      if (mode !== "auto" || drm) return null;
      try {
        return watchForCard(onCard);
      } catch (e) {
        log.warn(`display: cannot watch for a DRM card appearing later (${(e as Error).message})`);
        return null;
      }
    },
    startInput(comp) {
      if (!drm) return { destroy() {} };
      let session: VtSession | null = null;
      const input = new Input(comp, {
        onQuit: () => process.kill(process.pid, "SIGTERM"),
        onVtSwitch: (n) => session?.switchTo(n),
        log: (m) => log.info(m),
      });
      input.openSystemDevices();
      const parts = { display: drm, input, log: (m: string) => log.info(`session: ${m}`) };
      session = new VtSession(findVt(), parts);
      try {
        session.start();
      } catch (e) {
        log.warn(`session: cannot take VT ${session.vt?.number} over (${(e as Error).message}); using SIGUSR1/SIGUSR2 instead`);
        try {
          session.vt?.close();
        } catch {
          // it was not taken over
        }
        session = new VtSession(null, parts);
        session.start();
      }
      return {
        destroy() {
          session?.destroy();
          input.destroy();
        },
      };
    },
  };
}
