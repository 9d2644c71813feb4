// wl_output (v4) and zxdg_output_manager_v1 (v3): what the screen is.
//
// A client binds wl_output to learn the mode, scale and name; on bind we
// send everything followed by `done`. Surfaces are told which outputs they
// are on (wl_surface.enter) when they are first shown.
import type { Global, Resource } from "../wl.ts";
import { wayland, xdg_output } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Output } from "../backend/backend.ts";

const { wl_output } = wayland;

/** Every bound wl_output resource, by client, so surfaces can be sent `enter`. */
export const outputResources = new Map<number, Set<Resource<typeof wl_output, Output>>>();

/** Outputs that were unplugged: their resources stay until clients release them, but get no `enter`. */
const retired = new WeakSet<Output>();
const globals = new WeakMap<Compositor, Map<Output, Global>>();

export function registerOutput(comp: Compositor): void {
  syncOutputs(comp);

  // xdg_output: the output's position and size in the global (logical) space.
  comp.server.global(xdg_output.zxdg_output_manager_v1, 3, (r) => {
    r.implement(
      {
        destroy() {},
        get_xdg_output(_m, id, _output) {
          id.implement({ destroy() {} }, null);
          const out = (_output.is(wl_output) ? (_output as Resource<typeof wl_output, Output>).data : null) ?? comp.output;
          id.post("logical_position", out.x, out.y);
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

/** One wl_output global per backend output: adds the new ones, removes the unplugged ones (hotplug). */
export function syncOutputs(comp: Compositor): void {
  let map = globals.get(comp);
  if (!map) globals.set(comp, (map = new Map()));
  const now = new Set(comp.backend.outputs);
  for (const [out, g] of map)
    if (!now.has(out)) {
      g.destroy();
      map.delete(out);
      retired.add(out);
    }
  for (const out of now) if (!map.has(out)) map.set(out, comp.server.global(wl_output, 4, (res) => bindOutput(comp, res as Resource<typeof wl_output, Output>, out)));
}

function bindOutput(comp: Compositor, r: Resource<typeof wl_output, Output>, out: Output): void {
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
  r.post("geometry", out.x, out.y, out.physicalMm.width, out.physicalMm.height, e.subpixel.unknown, out.make, out.model, e.transform.normal);
  r.post("mode", e.mode.current | e.mode.preferred, out.mode.width, out.mode.height, out.mode.refreshMHz);
  r.post("scale", 1);
  r.post("name", out.name);
  r.post("description", out.description);
  r.post("done");
  // Surfaces of this client already on screen learn about the new output.
  for (const s of comp.scene.shownSurfaces()) if (s.client === r.client) enterOutputs(s);
}

/** Sends wl_surface.enter for every output the client bound (once per surface). */
export function enterOutputs(surface: { resource: Resource; entered: Set<number> }): void {
  const set = outputResources.get(surface.resource.client.ptr);
  if (!set) return;
  for (const o of set) {
    if (surface.entered.has(o.ptr) || retired.has(o.data)) continue;
    surface.entered.add(o.ptr);
    if (surface.resource.is(wayland.wl_surface)) {
      surface.resource.post("enter", o);
      // v6: the output's scale and transform are what we would like buffers in.
      surface.resource.post("preferred_buffer_scale", 1);
      surface.resource.post("preferred_buffer_transform", wl_output.enums.transform.normal);
    }
  }
}
