// wl_output (v4) and zxdg_output_manager_v1 (v3): what the screen is.
//
// A client binds wl_output to learn the mode, scale and name; on bind we
// send everything followed by `done`. Surfaces are told which outputs they
// are on (wl_surface.enter) when they are first shown.
import type { Resource } from "../wl.ts";
import { wayland, xdg_output } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Output } from "../backend/backend.ts";

const { wl_output } = wayland;

/** Every bound wl_output resource, by client, so surfaces can be sent `enter`. */
export const outputResources = new Map<number, Set<Resource<typeof wl_output, Output>>>();

export function registerOutput(comp: Compositor): void {
  const out = comp.output;
  comp.server.global(wl_output, 4, (res) => {
    const r = res as Resource<typeof wl_output, Output>;
    r.implement({ release() {} }, out);
    let set = outputResources.get(r.client.ptr);
    if (!set) {
      set = new Set();
      outputResources.set(r.client.ptr, set);
      r.client.onDestroy(() => outputResources.delete(r.client.ptr));
    }
    set.add(r);
    r.onDestroy(() => set.delete(r));
    const e = wl_output.enums;
    r.post("geometry", 0, 0, out.physicalMm.width, out.physicalMm.height, e.subpixel.unknown, out.make, out.model, e.transform.normal);
    r.post("mode", e.mode.current | e.mode.preferred, out.mode.width, out.mode.height, out.mode.refreshMHz);
    r.post("scale", 1);
    r.post("name", out.name);
    r.post("description", out.description);
    r.post("done");
    // Surfaces of this client already on screen learn about the new output.
    for (const s of comp.scene.shownSurfaces()) if (s.client === r.client) enterOutputs(s);
  });

  // xdg_output: the output's position and size in the global (logical) space.
  comp.server.global(xdg_output.zxdg_output_manager_v1, 3, (r) => {
    r.implement(
      {
        destroy() {},
        get_xdg_output(_m, id, _output) {
          id.implement({ destroy() {} }, null);
          id.post("logical_position", 0, 0);
          id.post("logical_size", out.mode.width, out.mode.height);
          id.post("name", out.name);
          id.post("description", out.description);
          // Since v3 xdg_output.done is deprecated: wl_output.done finishes the batch.
          if (id.version < 3) id.post("done");
          else if (_output.is(wl_output)) _output.post("done");
        },
      },
      null,
    );
  });
}

/** Sends wl_surface.enter for every output the client bound (once per surface). */
export function enterOutputs(surface: { resource: Resource; entered: Set<number> }): void {
  const set = outputResources.get(surface.resource.client.ptr);
  if (!set) return;
  for (const o of set) {
    if (surface.entered.has(o.ptr)) continue;
    surface.entered.add(o.ptr);
    if (surface.resource.is(wayland.wl_surface)) {
      surface.resource.post("enter", o);
      // v6: the output's scale and transform are what we would like buffers in.
      surface.resource.post("preferred_buffer_scale", 1);
      surface.resource.post("preferred_buffer_transform", wl_output.enums.transform.normal);
    }
  }
}
