// watchFd: run a callback on the main thread whenever an fd is readable.
//
// The native watcher arms each fd oneshot; we re-arm only after the callback
// returns, so a callback runs at most once per readiness and must consume
// everything pending (e.g. wl_event_loop_dispatch(loop, 0)).
import { fdWatch } from "../../ffi/native.ts";
import { loopEvents, startLoop } from "./index.ts";

let nextToken = 1;

export interface FdWatch {
  close(): void;
  /** Stops waking the loop for this fd until resume() (its owner reads it directly meanwhile). */
  pause(): void;
  resume(): void;
}

export function watchFd(fd: number, onReadable: () => void): FdWatch {
  startLoop();
  const token = nextToken++;
  let open = true;
  let paused = false;
  loopEvents.onFd(token, () => {
    // Paused: a hang-up or error is reported even with no events asked for
    // (epoll adds them); resume() re-arms and it is reported again then.
    if (!open || paused) return;
    try {
      onReadable();
    } finally {
      if (open && !paused) fdWatch.rearm(fd, token);
    }
  });
  const rc = fdWatch.watch(fd, token);
  if (rc < 0) {
    loopEvents.offFd(token);
    throw new Error(`cannot watch fd ${fd} (errno ${-rc})`);
  }
  return {
    close() {
      if (!open) return;
      open = false;
      fdWatch.unwatch(fd);
      loopEvents.offFd(token);
    },
    pause() {
      if (!open || paused) return;
      paused = true;
      fdWatch.disarm(fd, token);
    },
    resume() {
      if (!open || !paused) return;
      paused = false;
      // Armed again at once: readiness that came while paused wakes the loop now.
      const rc = fdWatch.rearm(fd, token);
      if (rc < 0) throw new Error(`cannot watch fd ${fd} again (errno ${-rc})`);
    },
  };
}
