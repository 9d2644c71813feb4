// What `weft run` needs to bring a display up: the backend (chosen and
// logged by select.ts), and on DRM the devices and session hooks that come
// with owning a screen — evdev input, Ctrl+Alt+Backspace to stop, and
// SIGUSR1/SIGUSR2 to give the display up and take it back (a VT switcher or
// session manager sends them).
import { log } from "../../system/log.ts";
import type { Compositor } from "../compositor.ts";
import { Input } from "../input/input.ts";
import type { Backend } from "./backend.ts";
import type { HeadlessOptions } from "./headless.ts";
import { chooseBackend } from "./select.ts";

export interface Display {
  backend: Backend;
  /** Starts input for the compositor (DRM only; a no-op headless). */
  startInput(comp: Compositor): { destroy(): void };
}

export function startDisplay(mode: "auto" | "drm" | "headless", headless: HeadlessOptions): Display {
  const chosen = chooseBackend(mode, headless, (m) => log.info(`drm: ${m}`));
  log.info(`display: ${chosen.why}`);
  const drm = chosen.drm;
  return {
    backend: chosen.backend,
    startInput(comp) {
      if (!drm) return { destroy() {} };
      const input = new Input(comp, { onQuit: () => process.kill(process.pid, "SIGTERM"), log: (m) => log.info(m) });
      input.openSystemDevices();
      const off = () => drm.deactivate();
      const on = () => drm.activate();
      process.on("SIGUSR1", off);
      process.on("SIGUSR2", on);
      return {
        destroy() {
          process.off("SIGUSR1", off);
          process.off("SIGUSR2", on);
          input.destroy();
        },
      };
    },
  };
}
