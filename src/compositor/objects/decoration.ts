// zxdg_decoration_manager_v1: who draws the window frame. weft answers
// server_side (kiosk style: it draws no frame yet, so windows are plain
// rectangles); a client that insists on client_side gets what it asks for.
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
          toplevelRes.onDestroy(() => (d.data.toplevel = null));
          d.onDestroy(() => d.data.toplevel && decorated.delete(tl));
          const send = (r: typeof d, mode: number) => {
            if (!r.data.toplevel) throw new ProtocolError(r, deco.enums.error.orphaned, "toplevel destroyed before its decoration");
            r.post("configure", mode);
            r.data.toplevel.xdg.scheduleConfigure();
          };
        },
      },
      null,
    );
  });
}
