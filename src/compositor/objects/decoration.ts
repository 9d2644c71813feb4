// zxdg_decoration_manager_v1: who draws the window frame. weft prefers
// server_side and then draws a simple title bar above the window (click to
// focus, drag to move, a close button); a client that insists on
// client_side gets what it asks for and draws its own.
import { ProtocolError, type Resource } from "../wl.ts";
import { xdg_decoration } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Toplevel } from "./xdg-shell.ts";

const { zxdg_decoration_manager_v1: manager, zxdg_toplevel_decoration_v1: deco } = xdg_decoration;
const MODE = deco.enums.mode;
/** error.invalid_mode, added to the protocol after the version Debian 12 ships. */
const INVALID_MODE = 3;

export function registerDecoration(comp: Compositor): void {
  const decorated = new WeakSet<Toplevel>();
  comp.server.global(manager, 1, (r) => {
    r.implement(
      {
        destroy() {},
        get_toplevel_decoration(_m, id, toplevelRes) {
          const tl = toplevelRes.data as Toplevel;
          if (decorated.has(tl)) throw new ProtocolError(id, deco.enums.error.already_constructed, "toplevel already has a decoration object");
          if (tl.xdg.surface.content) throw new ProtocolError(id, deco.enums.error.unconfigured_buffer, "decoration created after a buffer was attached");
          decorated.add(tl);
          const d = id as Resource<typeof deco, { toplevel: Toplevel | null }>;
          d.implement(
            {
              destroy() {},
              set_mode(r, mode) {
                if (mode !== MODE.client_side && mode !== MODE.server_side) throw new ProtocolError(r, INVALID_MODE, `bad mode ${mode}`);
                send(r, mode);
              },
              unset_mode(r) {
                send(r, MODE.server_side);
              },
            },
            { toplevel: tl },
          );
          // Our preference, before the toplevel's next configure.
          send(d, MODE.server_side);
          toplevelRes.onDestroy(() => (d.data.toplevel = null));
          // Without the object, the client draws its own frame again.
          d.onDestroy(() => {
            if (!d.data.toplevel) return;
            decorated.delete(tl);
            tl.decoration = "client";
            tl.xdg.scheduleConfigure();
          });
          function send(r: typeof d, mode: number) {
            const t = r.data.toplevel;
            if (!t) throw new ProtocolError(r, deco.enums.error.orphaned, "toplevel destroyed before its decoration");
            r.post("configure", mode);
            t.decoration = mode === MODE.server_side ? "server" : "client";
            t.xdg.scheduleConfigure();
          }
        },
      },
      null,
    );
  });
}
