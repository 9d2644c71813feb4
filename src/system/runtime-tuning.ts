// JavaScriptCore settings for the long-running daemon (`weft run`).
//
// JSC reads its options from the environment when the process starts, so
// `weft run` starts itself once more — execve, same PID, same fds, so
// systemd, the VT and the sockets see nothing — with them set. Measured on
// weft with weston-simple-shm at 60 Hz (docs/decisions/0009):
//
//   useFTLJIT=0   JSC's fourth tier (FTL, LLVM-like B3 backend) compiles
//                 functions that run 60 times a second into code that saves
//                 little per call, kept the compiler thread busy for a minute
//                 and more (30–50 µs of CPU per frame 30 s in) and mapped
//                 ~3.5 MiB more of Bun's executable.
//   thresholdFor…AfterWarmUp
//                 per-frame code reaches the optimising tier (DFG) in seconds
//                 rather than the minute it took at JSC's defaults, tuned for
//                 code that runs in bursts; at 60 calls a second a function
//                 met the default threshold after ~20 s.
//
// Whatever the user set explicitly wins. WEFT_TUNED marks the second start
// (and lets a person turn the whole thing off: WEFT_TUNED=0 skips it).
export const RUN_TUNING: Readonly<Record<string, string>> = {
  BUN_JSC_useFTLJIT: "0",
  BUN_JSC_thresholdForJITAfterWarmUp: "100",
  BUN_JSC_thresholdForOptimizeAfterWarmUp: "300",
};

/** The environment `weft run` runs under: the user's, plus the tuning it does not override. */
export function tunedEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(RUN_TUNING)) if (out[k] === undefined) out[k] = v;
  out.WEFT_TUNED = "1";
  return out;
}

/**
 * Called by the process's entry (never by code that imports the CLI) before
 * anything else is loaded: for `weft run` without the tuning yet, replaces
 * this process with itself under the tuned environment (does not return).
 */
export function execTuned(argv: readonly string[]): void {
  if (argv[0] !== "run" || process.env.WEFT_TUNED !== undefined || !process.execve) return;
  // A single-file build's own arguments are only the user's; `bun [flags] weft.ts` needs its flags and script again.
  const self = Bun.main.startsWith("/$bunfs/") ? [] : [...process.execArgv, Bun.main];
  process.execve(process.execPath, [process.execPath, ...self, ...argv], tunedEnv(process.env));
}
