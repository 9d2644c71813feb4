// How late the loop runs a timer: the one number that says whether anything
// (a guest, a client, a slow handler) is stalling the user's experience.
export interface Percentiles {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : 0);
  return { samples: v.length, p50: at(0.5), p99: at(0.99), max: v.length ? v[v.length - 1] : 0 };
}

/**
 * Schedules a timer every `periodMs` for `durationMs` and records how late
 * each one fires (ms). Resolves with the percentiles.
 */
export function measureLateness(durationMs: number, periodMs = 5): Promise<Percentiles> {
  return new Promise((resolve) => {
    const late: number[] = [];
    const end = performance.now() + durationMs;
    const tick = (due: number) => {
      const now = performance.now();
      late.push(Math.max(0, now - due));
      if (now >= end) return resolve(percentiles(late));
      const next = now + periodMs;
      setTimeout(() => tick(next), periodMs);
    };
    const first = performance.now() + periodMs;
    setTimeout(() => tick(first), periodMs);
  });
}
