// trap: prints `about to trap` to stdout, then makes the *host* trap the
// guest: it drops a wasi:io/poll pollable and then uses it, and the stale
// handle (0) makes Wasmtime fail the call with "unknown handle index 0".
//
// Why not just `throw`: componentize-js turns any exception escaping
// run() (Error, string, even "too much recursion" or out of memory) into
// run's `err` result, i.e. exit status 1, never a trap. See throw.js for that.
import { subscribeDuration } from 'wasi:clocks/monotonic-clock@0.2.12';

export const run = {
  run() {
    console.log('about to trap');
    const pollable = subscribeDuration(1n);
    pollable[Symbol.dispose]();
    pollable.block(); // handle is now undefined -> 0 -> trap in the host
    console.log('not reached');
  },
};
