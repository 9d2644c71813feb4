// Pointer acceleration for relative devices (mice): the gain grows with
// speed above a threshold, up to a cap — slow, precise moves stay 1:1, fast
// flicks cross the screen. The idea of libinput's adaptive profile, in
// miniature; sub-pixel remainders are carried so slow moves do not get lost.
export interface AccelOptions {
  /** Speed (device units per ms) below which motion is 1:1. */
  threshold: number;
  /** Gain added per unit/ms above the threshold. */
  slope: number;
  /** Largest gain. */
  max: number;
}

export const DEFAULT_ACCEL: AccelOptions = { threshold: 0.4, slope: 0.6, max: 3.5 };

export class PointerAccel {
  private lastUs = -1;
  private restX = 0;
  private restY = 0;

  constructor(private readonly o: AccelOptions = DEFAULT_ACCEL) {}

  /** The gain at a speed in units/ms. */
  gain(speed: number): number {
    return speed <= this.o.threshold ? 1 : Math.min(this.o.max, 1 + (speed - this.o.threshold) * this.o.slope);
  }

  /** Motion (dx, dy) in device units at time `us` → whole pixels to move. */
  apply(dx: number, dy: number, us: number): [number, number] {
    // The first motion, or one after a pause, counts as slow.
    const dtMs = this.lastUs < 0 ? 100 : Math.min(100, Math.max(1, (us - this.lastUs) / 1000));
    this.lastUs = us;
    const g = this.gain(Math.hypot(dx, dy) / dtMs);
    const x = dx * g + this.restX;
    const y = dy * g + this.restY;
    const ix = Math.trunc(x);
    const iy = Math.trunc(y);
    this.restX = x - ix;
    this.restY = y - iy;
    return [ix, iy];
  }
}
