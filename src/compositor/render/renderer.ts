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
  /** The target's origin in the global space (outputs side by side); default 0,0. */
  x?: number;
  y?: number;
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
  const ox = target.x ?? 0;
  const oy = target.y ?? 0;
  const area = { x: ox, y: oy, width: target.width, height: target.height };
  for (const d0 of damage) {
    const d = intersect(d0, area);
    if (!d) continue;
    let first = layers.length - 1;
    while (first >= 0 && !(layers[first].opaque && covers(layers[first].at, d))) first--;
    if (first < 0) pixman.fillBoxes(Op.src, target.image, scene.background, [[d.x - ox, d.y - oy, d.x + d.width - ox, d.y + d.height - oy]]);
    for (let i = Math.max(0, first); i < layers.length; i++) {
      const l = layers[i];
      const clip = intersect(l.at, d);
      if (!clip) continue;
      if (l.color) pixman.fillBoxes(Op.src, target.image, l.color, [[clip.x - ox, clip.y - oy, clip.x + clip.width - ox, clip.y + clip.height - oy]]);
      else drawSurface(l.s!, l.at, clip, target, i === first ? Op.src : Op.over);
    }
  }
}

function drawSurface(s: Surface, at: Rect, clip: Rect, t: Target, op: number): void {
  const c = s.content;
  if (!c) return;
  if (c.kind === "color") {
    const ox = t.x ?? 0;
    const oy = t.y ?? 0;
    pixman.fillBoxes(op, t.image, c.rgba, [[clip.x - ox, clip.y - oy, clip.x + clip.width - ox, clip.y + clip.height - oy]]);
    return;
  }
  const m = surfaceToBuffer(s);
  withImage(c, (img) => {
    if (m) {
      pixman.setAffine(img, m);
      pixman.setRepeat(img, Repeat.pad);
    }
    pixman.composite(op, img, null, t.image, clip.x - at.x, clip.y - at.y, 0, 0, clip.x - (t.x ?? 0), clip.y - (t.y ?? 0), clip.width, clip.height);
    if (m) {
      pixman.setAffine(img, IDENTITY);
      pixman.setRepeat(img, Repeat.none);
    }
  });
}

const IDENTITY = [1, 0, 0, 0, 1, 0] as const;
type Affine = [number, number, number, number, number, number];
/** a ∘ b: first b, then a. */
const compose = (a: Affine, b: Affine): Affine => [
  a[0] * b[0] + a[1] * b[3],
  a[0] * b[1] + a[1] * b[4],
  a[0] * b[2] + a[1] * b[5] + a[2],
  a[3] * b[0] + a[4] * b[3],
  a[3] * b[1] + a[4] * b[4],
  a[3] * b[2] + a[4] * b[5] + a[5],
];

/**
 * The map from surface-local pixels (what the user sees) to buffer pixels,
 * or null when they are the same. In the protocol's order: the viewport
 * (crop, then scale to the destination size) works in the surface's own
 * coordinates; those times the buffer scale are the buffer's pixels once
 * its transform is undone; the transform (a flip, then a turn
 * counter-clockwise) then says where each lies in the buffer as drawn.
 */
export function surfaceToBuffer(s: Surface): Affine | null {
  const vp = s.viewport;
  if (s.scale === 1 && s.transform === 0 && !vp.src && !vp.dst) return null;
  const tb = s.transformedBufferSize();
  const src = vp.src ?? { x: 0, y: 0, width: tb.width / s.scale, height: tb.height / s.scale };
  const viewport: Affine = [src.width / Math.max(1, s.width), 0, src.x, 0, src.height / Math.max(1, s.height), src.y];
  const scale: Affine = [s.scale, 0, 0, 0, s.scale, 0];
  const W = tb.width;
  const H = tb.height;
  // (x, y) in the untransformed picture → buffer pixel, per wl_output.transform.
  const turn: Affine[] = [
    [1, 0, 0, 0, 1, 0], // normal
    [0, 1, 0, -1, 0, W], // 90
    [-1, 0, W, 0, -1, H], // 180
    [0, -1, H, 1, 0, 0], // 270
    [-1, 0, W, 0, 1, 0], // flipped
    [0, 1, 0, 1, 0, 0], // flipped 90
    [1, 0, 0, 0, -1, H], // flipped 180
    [0, -1, H, -1, 0, W], // flipped 270
  ];
  return compose(turn[s.transform], compose(scale, viewport));
}
