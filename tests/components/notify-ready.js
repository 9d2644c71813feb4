// notify-ready: a weft:app component that is ready at once and then answers
// its UI. Calls notify.ready(), then polls ipc.recv() every ~10 ms:
//   "ping" -> ipc.send("pong")
//   "quit" -> returns from run (exit 0)
// anything else is ignored. Sleeping is wasi:clocks/monotonic-clock
// subscribe-duration + pollable.block(), so an idle guest costs no CPU.
import { ready } from 'weft:app/notify@0.1.0';
import { send, recv } from 'weft:app/ipc@0.1.0';
import { subscribeDuration } from 'wasi:clocks/monotonic-clock@0.2.12';

const POLL_NS = 10_000_000n; // 10 ms

function sleep(ns) {
  const pollable = subscribeDuration(ns);
  pollable.block();
  // Drop the pollable now instead of leaving it to the GC, so a long-running
  // guest does not fill the host's resource table.
  pollable[Symbol.dispose]?.();
}

export const run = {
  run() {
    ready();
    for (;;) {
      const msg = recv();
      if (msg === undefined || msg === null) {
        sleep(POLL_NS);
        continue;
      }
      if (msg === 'quit') return;
      if (msg === 'ping') send('pong');
    }
  },
};
