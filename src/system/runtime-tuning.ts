// JavaScriptCore and allocator settings for the long-running daemon (`weft run`).
//
// JSC and Bun's allocator (mimalloc) read their options from the
// environment when the process starts, so `weft run` starts itself once
// more — execve: same PID, same stdin/stdout/stderr (the VT), same
// NOTIFY_SOCKET, so systemd sees one process — with them set. Measured on
// weft with weston-simple-shm at 60 Hz (docs/decisions/0009):
//
//   useFTLJIT=0   JSC's fourth tier (FTL, LLVM-like B3 backend) compiles
//                 functions that run 60 times a second into code that saves
//                 little per call, kept the compiler thread busy for a minute
//                 and more (30–50 µs of CPU per frame 30 s in) and mapped
//                 ~3.5 MiB more of Bun's executable.
//   thresholdFor…AfterWarmUp
//                 per-frame code reaches the optimising tier (DFG) about 2 s
//                 into an animation rather than the 20 s and more it took at
//                 JSC's defaults (500/1000, made for code that runs in
//                 bursts): at 60 calls a second a counter climbs slowly. At
//                 50/150, start-up to READY measured no slower (268–344 vs
//                 291–328 ms) and 10–20 ms more CPU. Lower ones move more of
//                 the JIT's work out of an animation's first seconds but
//                 leave code compiled on less profiling slower for good
//                 (decision 0009's table).
//   MIMALLOC_PURGE_HOLES_MIN_INTERVAL=2000
//                 Bun's allocator returns free memory inside its pages to
//                 the kernel from a "mi-scavenger" thread; while a client
//                 animates it woke 12–13 times a second and took 15–20 µs of
//                 CPU per frame. At most every 2 s instead: 1–2 wake-ups a
//                 second, 5–9 µs per frame, resident memory the same (the
//                 memory a frame frees is used again by the next one).
//
// Whatever the user set explicitly wins. WEFT_TUNED marks the second start
// (and lets a person turn the whole thing off: WEFT_TUNED=0 skips it).
export const RUN_TUNING: Readonly<Record<string, string>> = {
  BUN_JSC_useFTLJIT: "0",
  BUN_JSC_thresholdForJITAfterWarmUp: "50",
  BUN_JSC_thresholdForOptimizeAfterWarmUp: "150",
  MIMALLOC_PURGE_HOLES_MIN_INTERVAL: "2000",
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
 * Bun's own flags to give the second start: those on the command line, less
 * `--cwd` (Bun has already changed there; a relative one would fail) and
 * those that came from BUN_OPTIONS (still in the environment, so they would
 * apply twice).
 */
export function replayedFlags(execArgv: readonly string[], bunOptions = ""): string[] {
  const fromEnv = bunOptions.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (a === "--cwd") {
      i++;
      continue;
    }
    if (a.startsWith("--cwd=")) continue;
    const k = fromEnv.indexOf(a);
    if (k >= 0) {
      fromEnv.splice(k, 1);
      continue;
    }
    out.push(a);
  }
  return out;
}

/**
 * Called by the process's entry (never by code that imports the CLI) before
 * main() loads anything: for `weft run` without the tuning yet, replaces
 * this process with itself under the tuned environment. Only stdin, stdout
 * and stderr survive an execve from Bun, so a socket-activated start
 * (LISTEN_FDS) runs untuned. If the execve fails, weft runs untuned too.
 */
export function execTuned(argv: readonly string[], warn: (m: string) => void = (m) => console.error(m)): void {
  if (argv[0] !== "run" || process.env.WEFT_TUNED !== undefined || !process.execve || process.env.LISTEN_FDS) return;
  // A single-file build's own arguments are only the user's; `bun [flags] weft.ts` needs its flags and script again.
  const self = Bun.main.startsWith("/$bunfs/") ? [] : [...replayedFlags(process.execArgv, process.env.BUN_OPTIONS), Bun.main];
  try {
    process.execve(process.execPath, [process.execPath, ...self, ...argv], tunedEnv(process.env));
  } catch (err) {
    process.env.WEFT_TUNED = "0";
    warn(`weft run: running without the daemon's JSC and allocator settings: cannot start ${process.execPath} again (${err instanceof Error ? err.message : String(err)})`);
  }
}
