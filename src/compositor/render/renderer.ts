// Software compositing with pixman: redraws only the damaged rectangles of
// an output, bottom to top: background, then every shown surface tree.
import { Op, pixman, Repeat, type Image } from "../../../ffi/pixman.ts";
import { intersect, type Rect } from "../geometry.ts";
import type { Scene } from "../scene.ts";
import type { Surface } from "../objects/surface.ts";

export interface Target {
  image: Image;
  width: number;
  height: number;
}

export function render(scene: Scene, target: Target, damage: Rect[]): void {
  if (damage.length === 0) return;
  const bg = scene.background;
  pixman.fillBoxes(
    Op.src,
    target.image,
    bg,
    damage.map((r) => [r.x, r.y, r.x + r.width, r.y + r.height]),
  );
  for (const v of scene.views) {
    if (!v.mapped || v.minimized || v.kind === "cursor") continue;
    scene.forEachSurface(v.surface, (s) => {
      const b = scene.surfaceBounds(s);
      if (!b) return;
      for (const d of damage) {
        const clip = intersect(b, d);
        if (clip) drawSurface(s, b, clip, target);
      }
    });
  }
}

function drawSurface(s: Surface, at: Rect, clip: Rect, t: Target): void {
  const c = s.content;
  if (!c) return;
  if (c.kind === "color") {
    const [r, g, b, a] = c.rgba;
    pixman.fillBoxes(Op.over, t.image, [r, g, b, a], [[clip.x, clip.y, clip.x + clip.width, clip.y + clip.height]]);
    return;
  }
  const vp = s.viewport;
  const scaled = s.scale !== 1 || vp.src || vp.dst;
  if (scaled) {
    // Destination (surface-local) pixels → buffer pixels.
    const srcX = (vp.src?.x ?? 0) * s.scale;
    const srcY = (vp.src?.y ?? 0) * s.scale;
    const srcW = (vp.src?.width ?? c.width / s.scale) * s.scale;
    const srcH = (vp.src?.height ?? c.height / s.scale) * s.scale;
    pixman.setScale(c.img, srcW / Math.max(1, s.width), srcH / Math.max(1, s.height), srcX, srcY);
    pixman.setRepeat(c.img, Repeat.pad);
  }
  pixman.composite(Op.over, c.img, null, t.image, clip.x - at.x, clip.y - at.y, 0, 0, clip.x, clip.y, clip.width, clip.height);
  if (scaled) {
    pixman.setScale(c.img, 1, 1);
    pixman.setRepeat(c.img, Repeat.none);
  }
}
