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
// Only for epoll fds (libwayland's): they never hang up or fail. epoll
// reports EPOLLHUP/EPOLLERR even with no events asked for; Bun would then
// read the socket again and again in one turn — each read finds the byte
// put back — and never return to its loop. Any other fd, and wherever
// anything of this is missing (another Bun, no /proc), stays on the watcher
// thread: the watch starts there, and moves once Bun has adopted the
// socket. WEFT_FD_IN_LOOP=0 keeps it there (diagnosis).
//
// Pausing costs nothing until it matters. A paused watch only has to keep
// the loop from calling back. In Bun's epoll the fd is level-triggered and
// polled again when Bun next waits, so an owner that pauses, reads the fd
// itself and resumes within one turn of the loop (decision 0008: every
// frame) leaves nothing to report — no epoll_ctl is needed. Only if the loop
// turns while paused and finds the fd readable is it taken out of the epoll
// (events 0: otherwise Bun would poll again at once, forever), and put back
// at resume.
import { fstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { closeFd, EPOLL, EpollRegistration, socketPair, writeFd } from "../../ffi/libc.ts";
import { watchFd, type FdWatch } from "./fd.ts";
import { countWakeup } from "./index.ts";

export type InLoopWatch = FdWatch & {
  /** "thread" until the move to Bun's epoll (or for good, where that is not possible); "loop" after. */
  readonly mode: "thread" | "loop";
  /** Resolves once the move is done or given up. */
  readonly settled: Promise<void>;
};

const ONE = new Uint8Array([1]);

/**
 * Where Bun's epoll watches `fd`: the epoll's fd and the registration's data
 * word. An epoll entry outlives close() while its file is open elsewhere (a
 * dup, a child between fork and exec), so the entry must be for `fd`'s own
 * file (its inode) and the only one; anything else is no answer.
 */
export function bunRegistration(fd: number): { ep: number; data: bigint } | null {
  let entries: string[];
  let ino: number;
  try {
    entries = readdirSync("/proc/self/fd");
    ino = fstatSync(fd).ino;
  } catch {
    return null;
  }
  const line = new RegExp(`^tfd:\\s+${fd}\\s+events:\\s*[0-9a-f]+\\s+data:\\s*([0-9a-f]+)\\s+pos:\\d+\\s+ino:([0-9a-f]+)`, "gm");
  const found: { ep: number; data: bigint }[] = [];
  for (const e of entries) {
    try {
      if (!isEpoll(Number(e))) continue;
      for (const m of readFileSync(`/proc/self/fdinfo/${e}`, "utf8").matchAll(line)) {
        if (parseInt(m[2], 16) === ino) found.push({ ep: Number(e), data: BigInt(`0x${m[1]}`) });
      }
    } catch {
      // closed meanwhile
    }
  }
  return found.length === 1 ? found[0] : null;
}

function isEpoll(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[eventpoll]";
  } catch {
    return false;
  }
}

export function watchInLoop(fd: number, onReadable: () => void): InLoopWatch {
  let thread: FdWatch | null = watchFd(fd, onReadable);
  if (process.env.WEFT_FD_IN_LOOP === "0" || !isEpoll(fd)) return Object.assign(thread, { mode: "thread" as const, settled: Promise.resolve() });
  let open = true;
  let paused = false;
  /** Paused and out of Bun's epoll (events 0) since the loop found it readable. */
  let disarmed = false;
  let mode: "thread" | "loop" = "thread";
  let reg: EpollRegistration | null = null;
  let sock: { terminate(): void; unref(): void } | null = null;
  const [mine, peer] = socketPair("stream");
  writeFd(peer, ONE);

  // Back to the watcher thread (Bun closed the socket, or the move failed half way).
  const fallBack = (why: string) => {
    reg?.del();
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
        if (!open) return;
        if (paused) {
          if (!disarmed && reg) {
            if (reg.mod(0) === 0) disarmed = true;
            else fallBack("cannot pause it in Bun's epoll"); // else Bun would poll it again at once, forever
          }
          return;
        }
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
      // Where the move is not possible the watch stays on the thread, said once per watch.
      const stay = (why: string) => console.warn(`weft: fd ${fd} stays on the watcher thread: ${why}`);
      const found = bunRegistration(mine);
      if (!found) return stay("Bun's registration of its socket not found in /proc/self/fdinfo");
      const r = new EpollRegistration(found.ep, fd, found.data);
      const rc = r.add(EPOLL.in);
      if (rc !== 0) return stay(`cannot add it to Bun's epoll (errno ${-rc})`);
      reg = r;
      if (new EpollRegistration(found.ep, mine, 0n).del() !== 0) return fallBack("cannot take the socket out of Bun's epoll");
      mode = "loop";
      // Bun may have read the first byte already (data() ignores it on the thread); two are read as one.
      writeFd(peer, ONE);
      thread?.close();
      thread = null;
    },
    (e) => {
      closeFd(mine);
      console.warn(`weft: fd ${fd} stays on the watcher thread: Bun did not adopt the socket (${(e as Error).message})`);
    },
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
      reg?.del();
      reg = null;
      sock?.terminate();
      closeFd(peer);
    },
    pause() {
      if (!open || paused) return;
      paused = true;
      if (!reg) thread?.pause();
    },
    resume() {
      if (!open || !paused) return;
      paused = false;
      if (reg) {
        if (!disarmed) return;
        disarmed = false;
        const rc = reg.mod(EPOLL.in);
        if (rc < 0) fallBack(`cannot resume it in Bun's epoll (errno ${-rc})`);
      } else thread?.resume();
    },
  };
}
