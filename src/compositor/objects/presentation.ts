// wp_presentation: tells clients exactly when their content reached the
// screen. Each commit may carry feedback objects; after the repaint that
// showed the commit we send `presented` (with CLOCK_MONOTONIC time, the
// refresh period and the frame counter) or, if the content was replaced
// before it was shown, `discarded`. The feedback object ends either way.
import type { Resource } from "../wl.ts";
import { presentation_time } from "../protocol/index.ts";
import { CLOCK_MONOTONIC } from "../../../ffi/wayland.ts";
import type { Compositor } from "../compositor.ts";
import type { Surface } from "./surface.ts";
import type { FrameInfo } from "../backend/backend.ts";
import { outputResources } from "./output.ts";

const { wp_presentation, wp_presentation_feedback } = presentation_time;
type FeedbackRes = Resource<typeof wp_presentation_feedback>;

export class Presentation {
  constructor(private readonly comp: Compositor) {
    comp.server.global(wp_presentation, 1, (r) => {
      r.implement(
        {
          destroy() {},
          // The client wants feedback for the surface's next commit.
          feedback(_r, surface, id) {
            id.implement({}, null);
            (surface.data as Surface).pending.feedbacks.push(id);
          },
        },
        null,
      );
      r.post("clock_id", CLOCK_MONOTONIC);
    });
  }

  presented(s: Surface, info: FrameInfo): void {
    const fbs = s.feedbacks;
    if (fbs.length === 0) return;
    s.feedbacks = [];
    const flags = wp_presentation_feedback.enums.kind.vsync | wp_presentation_feedback.enums.kind.hw_clock;
    for (const fb of fbs as FeedbackRes[]) {
      if (fb.destroyed) continue;
      for (const o of outputResources.get(fb.client.ptr) ?? []) fb.post("sync_output", o);
      fb.post("presented", Math.floor(info.sec / 2 ** 32), info.sec >>> 0, info.nsec, info.refreshNs, Math.floor(info.seq / 2 ** 32), info.seq >>> 0, flags);
      fb.destroy();
    }
  }

  discard(fb: Resource): void {
    if (fb.destroyed || !fb.is(wp_presentation_feedback)) return;
    fb.post("discarded");
    fb.destroy();
  }
}
