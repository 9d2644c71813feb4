// wp_single_pixel_buffer_manager_v1: 1×1 buffers of one colour (clients
// use them with a viewport for backgrounds and dim layers). No memory is
// shared; the colour is premultiplied, each channel scaled to u32.
import type { Resource } from "../wl.ts";
import { single_pixel_buffer, wayland } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { OwnBuffer } from "./buffer.ts";

export function registerSinglePixelBuffer(comp: Compositor): void {
  comp.server.global(single_pixel_buffer.wp_single_pixel_buffer_manager_v1, 1, (r) => {
    r.implement(
      {
        destroy() {},
        create_u32_rgba_buffer(_m, id, red, green, blue, alpha) {
          const k = 0xffffffff;
          (id as Resource<typeof wayland.wl_buffer, OwnBuffer>).implement({ destroy() {} }, { rgba: [red / k, green / k, blue / k, alpha / k] });
        },
      },
      null,
    );
  });
}
