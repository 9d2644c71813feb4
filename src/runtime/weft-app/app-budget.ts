// A per-app sliding window: at most `max` events in any `windowMs`, keyed by
// app id (not session, so a restarted app does not get a fresh budget).
// weft:app's notifications and clipboard writes each keep one.
export class AppBudget {
  private recent = new Map<string, number[]>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** The app's events still inside the window. */
  private inWindow(appId: string): number[] {
    const now = performance.now();
    const times = (this.recent.get(appId) ?? []).filter((t) => now - t < this.windowMs);
    if (this.recent.size > 10_000) this.recent.clear(); // bounded: ids come and go
    this.recent.set(appId, times);
    return times;
  }

  /** Whether the app had any event inside the window. */
  active(appId: string): boolean {
    return this.inWindow(appId).length > 0;
  }

  /** Counts one event and returns true, or returns false (nothing counted) when the app is over its budget. */
  take(appId: string): boolean {
    const times = this.inWindow(appId);
    if (times.length >= this.max) return false;
    times.push(performance.now());
    return true;
  }

  /** What a refusal says, e.g. "at most 10 per 10 s". */
  get limit(): string {
    return `at most ${this.max} per ${this.windowMs / 1000} s`;
  }
}
