// Software compositing with pixman: redraws only the damaged rectangles of
// an output, bottom to top: background, then every shown surface tree.
// Per damaged rectangle, drawing starts at the topmost opaque surface that
// covers it all (nothing below can show), so a client redrawing itself
// costs one copy, not background + blend.
import { Op, pixman, Repeat, type Image } from "../../../ffi/pixman.ts";
import { intersect, type Rect } from "../geometry.ts";
import type { Scene } from "../scene.ts";
import type { Surface } from "../objects/surface.ts";
import { withImage } from "../objects/buffer.ts";

export interface Target {
  image: Image;
  width: number;
  height: number;
}

interface Layer {
  s: Surface | null;
  at: Rect;
  opaque: boolean;
  /** For weft's own title bar pieces: a solid colour. */
  color?: [number, number, number, number];
}

const TITLE_ACTIVE: [number, number, number, number] = [0.2, 0.36, 0.6, 1];
const TITLE_INACTIVE: [number, number, number, number] = [0.32, 0.33, 0.36, 1];
const CLOSE: [number, number, number, number] = [0.8, 0.25, 0.22, 1];

const covers = (a: Rect, b: Rect) => a.x <= b.x && a.y <= b.y && a.x + a.width >= b.x + b.width && a.y + a.height >= b.y + b.height;

export function render(scene: Scene, target: Target, damage: Rect[]): void {
  if (damage.length === 0) return;
  const layers: Layer[] = [];
  for (const v of scene.views) {
    if (!v.mapped || v.minimized || v.kind === "cursor") continue;
    const bar = v.titleBar();
    if (bar) {
      layers.push({ s: null, at: bar, opaque: true, color: scene.focused === v ? TITLE_ACTIVE : TITLE_INACTIVE });
      layers.push({ s: null, at: v.closeButton()!, opaque: true, color: CLOSE });
    }
    scene.forEachSurface(v.surface, (s) => {
      const at = scene.surfaceBounds(s);
      const c = s.content;
      if (!at || !c) return;
      layers.push({ s, at, opaque: c.kind === "color" ? c.rgba[3] >= 1 : c.opaque });
    });
  }
  for (const d of damage) {
    let first = layers.length - 1;
    while (first >= 0 && !(layers[first].opaque && covers(layers[first].at, d))) first--;
    if (first < 0) pixman.fillBoxes(Op.src, target.image, scene.background, [[d.x, d.y, d.x + d.width, d.y + d.height]]);
    for (let i = Math.max(0, first); i < layers.length; i++) {
      const l = layers[i];
      const clip = intersect(l.at, d);
      if (!clip) continue;
      if (l.color) pixman.fillBoxes(Op.src, target.image, l.color, [[clip.x, clip.y, clip.x + clip.width, clip.y + clip.height]]);
      else drawSurface(l.s!, l.at, clip, target, i === first ? Op.src : Op.over);
    }
  }
}

function drawSurface(s: Surface, at: Rect, clip: Rect, t: Target, op: number): void {
  const c = s.content;
  if (!c) return;
  if (c.kind === "color") {
    pixman.fillBoxes(op, t.image, c.rgba, [[clip.x, clip.y, clip.x + clip.width, clip.y + clip.height]]);
    return;
  }
  const vp = s.viewport;
  const scaled = s.scale !== 1 || vp.src || vp.dst;
  withImage(c, (img) => {
    if (scaled) {
      // Destination (surface-local) pixels → buffer pixels.
      const srcX = (vp.src?.x ?? 0) * s.scale;
      const srcY = (vp.src?.y ?? 0) * s.scale;
      const srcW = (vp.src?.width ?? c.width / s.scale) * s.scale;
      const srcH = (vp.src?.height ?? c.height / s.scale) * s.scale;
      pixman.setScale(img, srcW / Math.max(1, s.width), srcH / Math.max(1, s.height), srcX, srcY);
      pixman.setRepeat(img, Repeat.pad);
    }
    pixman.composite(op, img, null, t.image, clip.x - at.x, clip.y - at.y, 0, 0, clip.x, clip.y, clip.width, clip.height);
    if (scaled) {
      pixman.setScale(img, 1, 1);
      pixman.setRepeat(img, Repeat.none);
    }
  });
}
