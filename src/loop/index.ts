// The loop's one door to everything that happens off the main thread.
//
// The native helper's threads (fd watcher, guest workers) push events to one
// queue and write one byte to a socket when it goes from empty to non-empty.
// Here Bun adopts the loop's end of that socket pair — Bun cannot watch an
// arbitrary fd itself (ARCHITECTURE.md) — and on every wake-up drain the whole
// queue on the main thread, handing each event to whoever registered its id.
import { drainEvents, EventKind, initNative } from "../../ffi/native.ts";
import { setThreadNormal, setThreadRealtime } from "../../ffi/libc.ts";

type Handler = () => void;

const fdHandlers = new Map<number, Handler>();
const compileHandlers = new Map<number, Handler>();
interface GuestHandlers {
  exit: Handler;
  output: Handler;
  ready?: Handler;
  ipc?: Handler;
  hostCall?: Handler;
}
const guests = new Map<number, GuestHandlers>();

let started = false;
let wakeups = 0;
let realtime = false;
let realtimeAllowed = false;

// SCHED_RR is only needed while SCHED_IDLE guests run (docs/decisions/0002):
// without them a normal loop thread wakes on time, and an RR loop that spins
// (heavy compositing, a bug) would take a core from every normal process —
// the Wayland clients it serves included.
function followGuests(): void {
  if (!realtimeAllowed) return;
  const want = guests.size > 0;
  if (want === realtime) return;
  if (want) realtime = setThreadRealtime(1);
  else if (setThreadNormal()) realtime = false;
}

function dispatch(kind: number, id: number): void {
  let h: Handler | undefined;
  if (kind === EventKind.fdReady) h = fdHandlers.get(id);
  else if (kind === EventKind.compiled) h = compileHandlers.get(id);
  else {
    const g = guests.get(id);
    h =
      kind === EventKind.guestExit ? g?.exit
      : kind === EventKind.guestOutput ? g?.output
      : kind === EventKind.guestReady ? g?.ready
      : kind === EventKind.hostCall ? g?.hostCall
      : g?.ipc;
  }
  if (!h) return; // unregistered meanwhile (e.g. an fd closed after it fired)
  try {
    h();
  } catch (err) {
    // One faulty handler must not kill the loop that serves everything else.
    console.error(`weft: event handler failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

/** Starts the helper's threads and the pipe reader once. */
export function startLoop(): void {
  if (started) return;
  started = true;
  // On this kernel (EEVDF, HZ=250) a thread that sleeps 5-10 ms and wakes on
  // a CPU busy with SCHED_IDLE guests waits up to a tick (p99 ~4 ms); at
  // SCHED_RR 1 it runs at once (p99 ~0.3 ms). See docs/decisions/0002.
  realtimeAllowed = process.env.WEFT_LOOP_PRIORITY !== "normal";
  const fd = initNative();
  // Bun adopts the helper's socket; each data callback means "events queued".
  const adopt = {
    fd,
    socket: {
      data() {
        wakeups++;
        drainEvents(dispatch);
      },
      error(_s: unknown, e: Error) {
        console.error(`weft: loop wake-up socket failed: ${e.message}`);
      },
    },
  } as unknown as import("bun").UnixSocketOptions<undefined>;
  Bun.connect(adopt).then(
    (s) => {
      wakeSocket = s;
      if (holds === 0) s.unref(); // the wake-up socket alone must not keep the process alive
    },
    (e) => console.error(`weft: cannot watch the native helper: ${(e as Error).message}`),
  );
}

let wakeSocket: { ref(): void; unref(): void } | null = null;
let holds = 0;

/**
 * Keeps the process alive while something off the main thread will still
 * report (a running guest): the wake-up socket is ref'd while any hold is
 * taken. Without it, a program whose only pending work is a guest has no
 * ref'd handle, and Bun polls its event loop without blocking (a core at
 * 100 % for as long as the guest runs). Returns the release (idempotent).
 */
export function holdLoop(): () => void {
  if (holds++ === 0) wakeSocket?.ref();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--holds === 0) wakeSocket?.unref();
  };
}

export const loopEvents = {
  onFd(token: number, h: Handler) {
    fdHandlers.set(token, h);
  },
  offFd(token: number) {
    fdHandlers.delete(token);
  },
  onCompiled(token: number, h: Handler) {
    compileHandlers.set(token, h);
  },
  offCompiled(token: number) {
    compileHandlers.delete(token);
  },
  onGuest(id: number, handlers: GuestHandlers) {
    guests.set(id, handlers);
    followGuests();
  },
  offGuest(id: number) {
    guests.delete(id);
    followGuests();
  },
};

/** A wake-up that came another way than the wake socket (in-loop.ts: an fd in Bun's own epoll). */
export function countWakeup(): void {
  wakeups++;
}

export function loopStats() {
  return { wakeups, fds: fdHandlers.size, guests: guests.size, realtime };
}
