// wp_cursor_shape_manager_v1: clients name a cursor shape instead of
// drawing one. The seat remembers the shape of the focused client.
import { ProtocolError, type Resource } from "../wl.ts";
import { cursor_shape } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";

const { wp_cursor_shape_manager_v1: manager, wp_cursor_shape_device_v1: device } = cursor_shape;
const MAX_SHAPE = Math.max(...Object.values(device.enums.shape));

export function registerCursorShape(comp: Compositor): void {
  const implement = (id: Resource<typeof device>) =>
    id.implement(
      {
        destroy() {},
        // Only honoured from the client that has pointer focus (like set_cursor).
        set_shape(r, _serial, shape) {
          if (shape < 1 || shape > MAX_SHAPE) throw new ProtocolError(r, device.enums.error.invalid_shape, `unknown shape ${shape}`);
          if (comp.seat.pointerFocus?.client === r.client) comp.seat.setCursorShape(shape);
        },
      },
      null,
    );
  comp.server.global(manager, 1, (r) => {
    r.implement(
      {
        destroy() {},
        get_pointer(_m, id) {
          implement(id);
        },
        get_tablet_tool_v2(_m, id) {
          implement(id);
        },
      },
      null,
    );
  });
}
