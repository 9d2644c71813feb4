// throw: prints `about to throw` to stdout, then throws an uncaught Error out
// of run(). componentize-js's bindings turn that into wasi:cli/run's `err`
// result (no message is printed), so the host sees exit status 1, not a trap.
export const run = {
  run() {
    console.log('about to throw');
    throw new Error('throw.js: deliberate failure');
  },
};
