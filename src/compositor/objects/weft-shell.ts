// zweft_shell_manager_v1 (v2): WEFT's shell protocol (spec §6).
//
// A trusted shell describes windows by role instead of by xdg dance:
// create_window answers at once with configure. Roles decide the layer:
// a `panel` is the shell's own full-output surface (below apps, configured
// maximized); `overlay` floats above everything; `application`, `dialog`
// and `normal` are ordinary windows. Unlike WEFT, weft emits every event:
// focus_changed, window_closed (on destroy of the manager, of the surface,
// or when weft closes it), presentation_feedback after each frame that
// showed the window's new content, and navigation_gesture (≥3-finger swipe
// of ≥100 px) to panels.
import { ProtocolError, type Resource } from "../wl.ts";
import { weft_shell } from "../protocol/index.ts";
import { WL_DISPLAY_ERROR } from "../../../ffi/wayland.ts";
import type { Compositor } from "../compositor.ts";
import { View, type Layer } from "../scene.ts";
import type { Role, Surface } from "./surface.ts";

const { zweft_shell_manager_v1: manager, zweft_shell_window_v1: windowIface } = weft_shell;
const STATE = windowIface.enums.state;
export const ROLES = ["panel", "application", "dialog", "overlay", "normal"] as const;
type WindowRes = Resource<typeof windowIface, ShellWindow>;

export class ShellWindow {
  closed = false;
  focused = false;
  view: View | null = null;
  constructor(
    readonly res: WindowRes,
    readonly comp: Compositor,
    public appId: string,
    public title: string,
    public role: string,
    readonly surface: Surface | null,
    public rect: { x: number; y: number; width: number; height: number },
  ) {}

  layer(): Layer {
    return this.role === "panel" ? "background" : this.role === "overlay" ? "overlay" : "normal";
  }

  /** Sends our decision about geometry and state. */
  configure(): void {
    if (this.closed) return;
    const out = this.comp.scene.output;
    let { x, y, width, height } = this.rect;
    let state = this.focused ? STATE.activated : 0;
    if (this.role === "panel") {
      ({ x, y, width, height } = out);
      state |= STATE.maximized;
    } else {
      if (width <= 0) width = Math.min(640, out.width);
      if (height <= 0) height = Math.min(480, out.height);
    }
    this.rect = { x, y, width, height };
    if (this.view) {
      this.comp.scene.setLayer(this.view, this.layer());
      this.comp.scene.move(this.view, x, y);
    }
    this.res.post("configure", x, y, width, height, state);
    this.comp.server.scheduleFlush();
  }

  /** Surface commit: shown while it has content. */
  commit(s: Surface): void {
    if (this.closed) return;
    const scene = this.comp.scene;
    if (!s.content) {
      if (this.view?.mapped) scene.unmap(this.view);
      return;
    }
    if (!this.view) {
      this.view = new View(s, this.layer(), "weft", {
        activated: (on) => {
          if (this.closed || this.focused === on) return;
          this.focused = on;
          this.res.post("focus_changed", on ? 1 : 0);
          this.configure();
        },
        presented: (t, refresh) => {
          if (!this.closed) this.res.post("presentation_feedback", t.sec >>> 0, t.nsec, refresh);
        },
      });
    }
    if (!this.view.mapped) {
      this.view.x = this.rect.x;
      this.view.y = this.rect.y;
      scene.map(this.view);
      if (this.role !== "panel" && this.role !== "overlay") scene.focus(this.view);
      this.comp.seat.repick();
    }
  }

  /** weft closes the window: the client hears window_closed; later requests are errors. */
  close(): void {
    if (this.closed) return;
    if (this.view?.mapped) this.comp.scene.unmap(this.view);
    this.closed = true;
    this.res.post("window_closed");
    this.comp.server.scheduleFlush();
  }
}

function live(r: WindowRes): ShellWindow {
  if (r.data.closed) throw new ProtocolError(r, windowIface.enums.error.defunct_window, "request on a closed window");
  return r.data;
}

const windowImpl = {
  destroy(r: WindowRes) {
    const w = r.data;
    if (w.view?.mapped) w.comp.scene.unmap(w.view);
    w.closed = true;
  },
  update_metadata(r: WindowRes, title: string, role: string) {
    const w = live(r);
    w.title = title;
    w.role = normalRole(role);
    w.configure();
  },
  set_geometry(r: WindowRes, x: number, y: number, width: number, height: number) {
    const w = live(r);
    w.rect = { x, y, width, height };
    w.configure();
  },
};

function normalRole(role: string): string {
  return (ROLES as readonly string[]).includes(role) ? role : "normal";
}

export class WeftShell {
  readonly windows = new Set<ShellWindow>();

  constructor(private readonly comp: Compositor) {
    const shell = this;
    comp.server.global(manager, 2, (r) => {
      const mine = new Set<ShellWindow>();
      r.implement(
        {
          // Every window of this manager hears window_closed first.
          destroy() {
            for (const w of mine) w.close();
          },
          create_window(m, id, appId, title, role, surfaceRes, x, y, width, height) {
            const surface = surfaceRes ? (surfaceRes.data as Surface) : null;
            const w = new ShellWindow(id as WindowRes, comp, appId, title, normalRole(role), surface, { x, y, width, height });
            if (surface) {
              const roleObj: Role = { name: "zweft_shell_window", commit: (s) => w.commit(s) };
              if (surface.role) throw new ProtocolError(m, WL_DISPLAY_ERROR.invalid_object, `surface already has role ${surface.role.name}`);
              surface.setRole(roleObj, m, WL_DISPLAY_ERROR.invalid_object);
              surface.onDestroy(() => w.close());
            }
            (id as WindowRes).implement(windowImpl, w);
            mine.add(w);
            shell.windows.add(w);
            id.onDestroy(() => {
              mine.delete(w);
              shell.windows.delete(w);
            });
            w.configure();
          },
        },
        null,
      );
    });
  }

  /** A touch gesture ended; ≥3 fingers moving ≥100 px is a navigation swipe for the panels. */
  gesture(g: { type: number; fingers: number; dx: number; dy: number }): void {
    if (g.fingers < 3 || (Math.abs(g.dx) < 100 && Math.abs(g.dy) < 100)) return;
    for (const w of this.windows) if (w.role === "panel" && !w.closed) w.res.post("navigation_gesture", g.type, g.fingers, g.dx, g.dy);
    this.comp.server.scheduleFlush();
  }

  closeAll(): void {
    for (const w of this.windows) w.close();
  }
}
