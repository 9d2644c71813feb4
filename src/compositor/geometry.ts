// Rectangles in integer pixels, and the small set operations damage needs.
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function rect(x: number, y: number, width: number, height: number): Rect {
  return { x, y, width, height };
}

export function isEmpty(r: Rect): boolean {
  return r.width <= 0 || r.height <= 0;
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  return x2 > x1 && y2 > y1 ? { x: x1, y: y1, width: x2 - x1, height: y2 - y1 } : null;
}

export function union(a: Rect, b: Rect): Rect {
  const x1 = Math.min(a.x, b.x);
  const y1 = Math.min(a.y, b.y);
  return { x: x1, y: y1, width: Math.max(a.x + a.width, b.x + b.width) - x1, height: Math.max(a.y + a.height, b.y + b.height) - y1 };
}

export function contains(r: Rect, x: number, y: number): boolean {
  return x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height;
}

/** A region as a list of rects; only adds, kept short by merging into bounding boxes. */
export class Damage {
  rects: Rect[] = [];
  add(r: Rect): void {
    if (isEmpty(r)) return;
    for (let i = 0; i < this.rects.length; i++) {
      const o = this.rects[i];
      if (intersect(o, r)) {
        this.rects.splice(i, 1);
        this.add(union(o, r));
        return;
      }
    }
    this.rects.push(r);
    if (this.rects.length > 16) {
      const all = this.rects.reduce(union);
      this.rects = [all];
    }
  }
  get empty(): boolean {
    return this.rects.length === 0;
  }
  clear(): Rect[] {
    const r = this.rects;
    this.rects = [];
    return r;
  }
}

/**
 * wl_region state: adds and subtracts kept as an ordered list (tested in
 * order). A client may send millions of adds; past MAX_OPS the list
 * collapses to the bounding box of what was added (input regions only need
 * to be roughly right, and memory must stay bounded).
 */
const MAX_OPS = 256;
export class Region {
  ops: { add: boolean; r: Rect }[] = [];
  push(add: boolean, r: Rect): void {
    this.ops.push({ add, r });
    if (this.ops.length > MAX_OPS) {
      const adds = this.ops.filter((o) => o.add).map((o) => o.r);
      this.ops = adds.length ? [{ add: true, r: adds.reduce(union) }] : [];
    }
  }
  contains(x: number, y: number): boolean {
    let inside = false;
    for (const op of this.ops) if (contains(op.r, x, y)) inside = op.add;
    return inside;
  }
  clone(): Region {
    const c = new Region();
    c.ops = this.ops.slice();
    return c;
  }
}
