// watchInLoop: an fd in Bun's own epoll — the loop wakes on it directly.
//
// watchFd (fd.ts) wakes the loop through the native helper's watcher
// thread: the fd fires in the thread's epoll, the thread queues an event
// and writes the wake socket, and Bun wakes on that socket. For a request a
// client waits on (a round trip) that is two thread wake-ups where weston
// has one, and ~10 µs of the watcher's CPU each time (docs/decisions/0010).
//
// Bun has no call to watch an fd, but it watches every socket it adopts in
// its own epoll (level-triggered) under a data word that points to its poll
// object; when that word comes back from epoll_wait, Bun reads from the
// socket the object names — not from the fd that fired. So: adopt one end
// of a socket pair that always holds one byte, add `fd` to Bun's epoll under
// that socket's data word, and take the socket's own registration out. `fd`
// readable → Bun reads the byte → data() → onReadable(), and one byte is put
// back. The registration is found in /proc/self/fdinfo (an epoll lists
// every fd it watches with its data word).
//
// Only for fds that never hang up or fail (libwayland's epoll fd): epoll
// reports EPOLLHUP/EPOLLERR even with no events asked for, and Bun would
// take them as the socket's and close it. Where anything of this is missing
// (another Bun, no /proc), the watch stays on the watcher thread: it starts
// there, and moves once Bun has adopted the socket. WEFT_FD_IN_LOOP=0 keeps
// it there (diagnosis).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { closeFd, EPOLL, epollCtl, socketPair, writeFd } from "../../ffi/libc.ts";
import { watchFd, type FdWatch } from "./fd.ts";
import { countWakeup } from "./index.ts";

export type InLoopWatch = FdWatch & {
  /** "thread" until the move to Bun's epoll (or for good, where that is not possible); "loop" after. */
  readonly mode: "thread" | "loop";
  /** Resolves once the move is done or given up. */
  readonly settled: Promise<void>;
};

const ONE = new Uint8Array([1]);

/** Where Bun's epoll watches `fd`: the epoll's fd and the registration's data word. */
export function bunRegistration(fd: number): { ep: number; data: bigint } | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc/self/fd");
  } catch {
    return null;
  }
  const line = new RegExp(`^tfd:\\s+${fd}\\s+events:\\s*[0-9a-f]+\\s+data:\\s*([0-9a-f]+)`, "m");
  for (const e of entries) {
    try {
      if (readlinkSync(`/proc/self/fd/${e}`) !== "anon_inode:[eventpoll]") continue;
      const m = readFileSync(`/proc/self/fdinfo/${e}`, "utf8").match(line);
      if (m) return { ep: Number(e), data: BigInt(`0x${m[1]}`) };
    } catch {
      // closed meanwhile
    }
  }
  return null;
}

export function watchInLoop(fd: number, onReadable: () => void): InLoopWatch {
  let thread: FdWatch | null = watchFd(fd, onReadable);
  if (process.env.WEFT_FD_IN_LOOP === "0") return Object.assign(thread, { mode: "thread" as const, settled: Promise.resolve() });
  let open = true;
  let paused = false;
  let mode: "thread" | "loop" = "thread";
  let reg: { ep: number; data: bigint } | null = null;
  let sock: { terminate(): void; unref(): void } | null = null;
  const [mine, peer] = socketPair("stream");
  writeFd(peer, ONE);

  // Back to the watcher thread (Bun closed the socket, or the move failed half way).
  const fallBack = (why: string) => {
    if (reg) epollCtl(reg.ep, EPOLL.ctlDel, fd, 0, 0n);
    reg = null;
    if (mode === "loop") console.error(`weft: fd ${fd} back on the watcher thread: ${why}`);
    mode = "thread";
    if (open && !thread) {
      thread = watchFd(fd, onReadable);
      if (paused) thread.pause();
    }
  };

  const adopt = {
    fd: mine,
    socket: {
      data() {
        if (mode !== "loop") return;
        // The byte goes back first: without one, a readable `fd` would wake Bun for nothing, again and again.
        writeFd(peer, ONE);
        if (!open || paused) return;
        countWakeup();
        onReadable();
      },
      close() {
        if (open && mode === "loop") fallBack("Bun closed its socket");
      },
      error(_s: unknown, e: Error) {
        if (open && mode === "loop") fallBack(`socket error: ${e.message}`);
      },
    },
  } as unknown as import("bun").UnixSocketOptions<undefined>;

  const settled = Bun.connect(adopt).then(
    (s) => {
      sock = s;
      s.unref(); // like the wake socket: watching must not keep the process alive
      if (!open) return void s.terminate();
      const r = bunRegistration(mine);
      if (!r) return; // stays on the thread
      if (epollCtl(r.ep, EPOLL.ctlAdd, fd, paused ? 0 : EPOLL.in, r.data) !== 0) return;
      reg = r;
      if (epollCtl(r.ep, EPOLL.ctlDel, mine, 0, 0n) !== 0) return fallBack("cannot take the socket out of Bun's epoll");
      mode = "loop";
      // Bun may have read the first byte already (data() ignores it on the thread); two are read as one.
      writeFd(peer, ONE);
      thread?.close();
      thread = null;
    },
    () => closeFd(mine), // stays on the thread
  );

  return {
    get mode() {
      return mode;
    },
    settled,
    close() {
      if (!open) return;
      open = false;
      thread?.close();
      thread = null;
      // Out of Bun's epoll before Bun frees the poll object its data word points to.
      if (reg) epollCtl(reg.ep, EPOLL.ctlDel, fd, 0, 0n);
      reg = null;
      sock?.terminate();
      closeFd(peer);
    },
    pause() {
      if (!open || paused) return;
      paused = true;
      if (reg) epollCtl(reg.ep, EPOLL.ctlMod, fd, 0, reg.data);
      else thread?.pause();
    },
    resume() {
      if (!open || !paused) return;
      paused = false;
      if (reg) {
        const rc = epollCtl(reg.ep, EPOLL.ctlMod, fd, EPOLL.in, reg.data);
        if (rc < 0) throw new Error(`cannot watch fd ${fd} again (errno ${-rc})`);
      } else thread?.resume();
    },
  };
}
