// trap: prints `about to trap` to stdout, then throws an uncaught exception
// out of run.
export const run = {
  run() {
    console.log('about to trap');
    throw new Error('trap.js: deliberate failure');
  },
};
