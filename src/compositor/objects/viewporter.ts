// wp_viewporter: crop (source rectangle) and scale (destination size) a
// surface's buffer. State is double-buffered on the surface.
import { ProtocolError, type Resource } from "../wl.ts";
import { viewporter } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Surface } from "./surface.ts";

const { wp_viewporter, wp_viewport } = viewporter;
type ViewportRes = Resource<typeof wp_viewport, { surface: Surface | null; src: Surface["viewport"]["src"]; dst: Surface["viewport"]["dst"] }>;

export function registerViewporter(comp: Compositor): void {
  const hasViewport = new WeakSet<Surface>();
  comp.server.global(wp_viewporter, 1, (r) => {
    r.implement(
      {
        destroy() {},
        get_viewport(m, id, surfaceRes) {
          const surface = surfaceRes.data as Surface;
          if (hasViewport.has(surface)) throw new ProtocolError(m, wp_viewporter.enums.error.viewport_exists, "surface already has a viewport");
          hasViewport.add(surface);
          const vp = id as ViewportRes;
          vp.implement(viewportImpl, { surface, src: null, dst: null });
          surface.onDestroy(() => (vp.data.surface = null));
          // Destroying the viewport removes crop and scale with the next commit.
          vp.onDestroy(() => {
            if (!vp.data.surface) return;
            hasViewport.delete(surface);
            surface.pending.viewport = { src: null, dst: null };
          });
        },
      },
      null,
    );
  });
}

function live(r: ViewportRes): Surface {
  if (!r.data.surface) throw new ProtocolError(r, wp_viewport.enums.error.no_surface, "the surface is gone");
  return r.data.surface;
}

const viewportImpl = {
  destroy() {},
  set_source(r: ViewportRes, x: number, y: number, width: number, height: number) {
    const s = live(r);
    const unset = x === -1 && y === -1 && width === -1 && height === -1;
    if (!unset && (x < 0 || y < 0 || width <= 0 || height <= 0)) throw new ProtocolError(r, wp_viewport.enums.error.bad_value, "bad source rectangle");
    r.data.src = unset ? null : { x, y, width, height };
    s.pending.viewport = { src: r.data.src, dst: r.data.dst };
  },
  set_destination(r: ViewportRes, width: number, height: number) {
    const s = live(r);
    const unset = width === -1 && height === -1;
    if (!unset && (width <= 0 || height <= 0)) throw new ProtocolError(r, wp_viewport.enums.error.bad_value, "bad destination size");
    r.data.dst = unset ? null : { width, height };
    s.pending.viewport = { src: r.data.src, dst: r.data.dst };
  },
};
