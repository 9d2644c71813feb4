// What the DRM backend's per-frame copy costs: shadow image → scanout
// buffer with pixman (what src/compositor/backend/drm.ts does), side by side
// with a plain memory copy of the same bytes (Uint8Array.set) as the floor.
// Run: bun bench/drm-copy.ts
import { Format, Op, pixman } from "../ffi/pixman.ts";

const SIZES = [
  [1280, 720],
  [1920, 1080],
  [3840, 2160],
] as const;
const RUNS = 60;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log("| size | pixman copy p50 | Uint8Array.set p50 | ratio |");
console.log("|---|---|---|---|");
for (const [w, h] of SIZES) {
  const src = new Uint8Array(w * h * 4).fill(0x5a);
  // Scanout buffers have padded rows on real drivers; pad like the fake device does.
  const stride = Math.ceil((w * 4) / 256) * 256;
  const dst = new Uint8Array(stride * h);
  const a = pixman.createBits(Format.x8r8g8b8, w, h, src, w * 4);
  const b = pixman.createBits(Format.x8r8g8b8, w, h, dst, stride);
  const px: number[] = [];
  const mc: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    pixman.composite(Op.src, a, null, b, 0, 0, 0, 0, 0, 0, w, h);
    px.push(performance.now() - t);
    t = performance.now();
    dst.set(src.subarray(0, dst.length < src.length ? dst.length : src.length));
    mc.push(performance.now() - t);
  }
  pixman.unref(a);
  pixman.unref(b);
  const p = median(px);
  const m = median(mc);
  console.log(`| ${w}×${h} | ${p.toFixed(2)} ms | ${m.toFixed(2)} ms | ${(p / m).toFixed(2)}× |`);
}

// What the backend copies now (damage tracking): only what changed in the
// last two frames — here a 256×256 client animating on a 4K screen, so two
// 256×256 rects per frame — against the whole frame it copied before.
{
  const [w, h] = [3840, 2160];
  const src = new Uint8Array(w * h * 4).fill(0x5a);
  const stride = Math.ceil((w * 4) / 256) * 256;
  const dst = new Uint8Array(stride * h);
  const a = pixman.createBits(Format.x8r8g8b8, w, h, src, w * 4);
  const b = pixman.createBits(Format.x8r8g8b8, w, h, dst, stride);
  const full: number[] = [];
  const damage: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    pixman.composite(Op.src, a, null, b, 0, 0, 0, 0, 0, 0, w, h);
    full.push(performance.now() - t);
    t = performance.now();
    for (const [x, y] of [
      [1000, 600],
      [1004, 600],
    ])
      pixman.composite(Op.src, a, null, b, x, y, 0, 0, x, y, 256, 256);
    damage.push(performance.now() - t);
  }
  pixman.unref(a);
  pixman.unref(b);
  const f = median(full);
  const d = median(damage);
  console.log("");
  console.log("| 3840×2160, a 256×256 client animating | p50 | ratio |");
  console.log("|---|---|---|");
  console.log(`| whole frame copied | ${f.toFixed(2)} ms | 1 |`);
  console.log(`| damage of the last two frames copied | ${d.toFixed(3)} ms | ${(d / f).toFixed(4)}× |`);
}

