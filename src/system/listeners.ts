// A set of callbacks that all hear every event; one that throws is logged and
// the others still hear it (a broken client must not silence the rest).
import { log } from "./log.ts";

export class Listeners<T> {
  private fns = new Set<(value: T) => void>();

  constructor(
    private readonly what: string,
    private readonly level: "warn" | "error" = "warn",
  ) {}

  /** Adds `fn`; returns what removes it. */
  add(fn: (value: T) => void): () => void {
    this.fns.add(fn);
    return () => void this.fns.delete(fn);
  }

  emit(value: T): void {
    for (const fn of this.fns) {
      try {
        fn(value);
      } catch (e) {
        log[this.level](`${this.what} failed: ${(e as Error).message}`);
      }
    }
  }
}
