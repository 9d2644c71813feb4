// The signals that stop `weft run`: the first SIGINT or SIGTERM starts the
// clean stop (apps saved, input, VT and CRTCs given back). One more while
// that runs (Ctrl+C again, a second kill) ends weft at once — through
// process.exit, so the exit handlers still run: on DRM, the VT's handler
// puts the console back in text mode with its keyboard on. Left to the
// signal's default action, weft would die with the console in graphics
// mode and the keyboard off — unusable, Ctrl+Alt+Fn included.
const CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export function stopSignals(log: (msg: string) => void): { signalled: Promise<string>; stop(reason: string): void; off(): void } {
  let first: string | null = null;
  let resolve!: (sig: string) => void;
  const signalled = new Promise<string>((r) => (resolve = r));
  const handlers = (Object.keys(CODES) as (keyof typeof CODES)[]).map((sig) => {
    const h = () => {
      if (first === null) {
        first = sig;
        return resolve(sig);
      }
      log(`${sig} while stopping (after ${first}): exiting now`);
      process.exit(CODES[sig]);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    signalled,
    /** Starts the same clean stop without a signal (weft's own reason); ignored once stopping. */
    stop(reason: string) {
      if (first !== null) return;
      first = reason;
      resolve(reason);
    },
    off() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/**
 * SIGUSR1 and SIGUSR2 end a Bun process unless something listens. A display
 * session takes them (a VT switch; without a VT, a session manager's "give
 * the display up" and "take it back"), but only once it has started — and a
 * headless weft has none. So `weft run` listens from its first moment and,
 * when no session listens too, says it ignored one instead of dying.
 */
export function ignoreStrayUserSignals(log: (msg: string) => void): void {
  for (const sig of ["SIGUSR1", "SIGUSR2"] as const) {
    process.on(sig, () => {
      if (process.listenerCount(sig) === 1) log(`${sig} ignored: no display session takes it (headless, or not started yet)`);
    });
  }
}
