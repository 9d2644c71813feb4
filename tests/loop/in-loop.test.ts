// watchInLoop: an fd in Bun's own epoll (src/loop/in-loop.ts, decision 0010).
// On the Bun weft pins, the watch must move there — if a Bun upgrade breaks
// that, "moves into Bun's epoll" fails here rather than weft silently
// falling back to the slower watcher thread.
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, readdirSync, readSync, writeSync } from "node:fs";
import { EPOLL, epollCreate, EpollRegistration, socketPair } from "../../ffi/libc.ts";
import { watchInLoop, type InLoopWatch } from "../../src/loop/in-loop.ts";
import { loopStats } from "../../src/loop/index.ts";

const open: number[] = [];
const watches: InLoopWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.close();
  for (const fd of open.splice(0)) closeSync(fd);
});

/**
 * What is watched is an epoll fd, as libwayland's is: `r` holds the socket
 * `s` of a pair; bytes written to `w` make it readable until drain(r) reads `s`.
 */
const sockOf = new Map<number, number>();
function pair(): [number, number] {
  const [s, w] = socketPair("stream");
  const r = epollCreate();
  new EpollRegistration(r, s, BigInt(s)).add(EPOLL.in);
  sockOf.set(r, s);
  open.push(r, s, w);
  return [r, w];
}
function drain(r: number): string {
  const buf = Buffer.alloc(256);
  try {
    return buf.subarray(0, readSync(sockOf.get(r) ?? r, buf)).toString();
  } catch {
    return ""; // EAGAIN: nothing there
  }
}
function watch(fd: number, fn: () => void): InLoopWatch {
  const w = watchInLoop(fd, fn);
  watches.push(w);
  return w;
}
/** Resolves when `fd`'s next callback runs (after `write()`), rejects at the deadline. */
function nextCall(calls: { wake: (() => void) | null }, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no callback")), ms);
    calls.wake = () => (clearTimeout(t), (calls.wake = null), resolve());
  });
}

describe("watchInLoop", () => {
  test("moves into Bun's epoll and calls back each time the fd becomes readable, counting a loop wake-up", async () => {
    const [r, w] = pair();
    const seen: string[] = [];
    const calls = { wake: null as (() => void) | null };
    const wt = watch(r, () => {
      seen.push(drain(r));
      calls.wake?.();
    });
    await wt.settled;
    expect(wt.mode).toBe("loop");
    const w0 = loopStats().wakeups;
    for (const word of ["one", "two", "three"]) {
      const called = nextCall(calls);
      writeSync(w, word);
      await called;
    }
    expect(seen).toEqual(["one", "two", "three"]);
    expect(loopStats().wakeups - w0).toBe(3);
  });

  test("readable from the start: the callback runs, before and after the move", async () => {
    const [r, w] = pair();
    writeSync(w, "early");
    const calls = { wake: null as (() => void) | null };
    const seen: string[] = [];
    const called = nextCall(calls);
    const wt = watch(r, () => (seen.push(drain(r)), calls.wake?.()));
    await called;
    await wt.settled;
    const again = nextCall(calls);
    writeSync(w, "late");
    await again;
    expect(seen.filter(Boolean)).toEqual(["early", "late"]);
  });

  test("a paused watch stays quiet (another fd's callback runs meanwhile); resume calls back for what came", async () => {
    const [r, w] = pair();
    const [r2, w2] = pair();
    let calls = 0;
    const a = watch(r, () => (calls++, drain(r)));
    const other = { wake: null as (() => void) | null };
    const b = watch(r2, () => (drain(r2), other.wake?.()));
    await Promise.all([a.settled, b.settled]);
    a.pause();
    writeSync(w, "x");
    // Written after, on another fd in the same epoll: by its callback, a live `a` would have fired too.
    const otherCalled = nextCall(other);
    writeSync(w2, "y");
    await otherCalled;
    expect(calls).toBe(0);
    const resumed = new Promise<void>((resolve) => {
      const check = setInterval(() => calls > 0 && (clearInterval(check), resolve()), 1);
    });
    a.resume();
    await resumed;
    expect(calls).toBe(1);
  });

  test("the loop sleeps: 300 ms with one watch drained and one paused on unread data cost next to no CPU", async () => {
    const [r, w] = pair();
    const [r2, w2] = pair();
    const calls = { wake: null as (() => void) | null };
    const live = watch(r, () => (drain(r), calls.wake?.()));
    const paused = watch(r2, () => drain(r2));
    await Promise.all([live.settled, paused.settled]);
    const called = nextCall(calls);
    writeSync(w, "z");
    await called;
    paused.pause();
    writeSync(w2, "unread");
    // An fd left readable in a level-triggered epoll (a pause that only set
    // a flag), or a readable fd whose socket has no byte for Bun to read,
    // has Bun poll again at once, forever: a core at 100 %.
    const c0 = process.cpuUsage();
    await new Promise((res) => setTimeout(res, 300));
    const c = process.cpuUsage(c0);
    expect((c.user + c.system) / 1000).toBeLessThan(100);
  });

  test("a closed watch is never called again, and leaves no fd behind (200 watches)", async () => {
    const [r, w] = pair();
    const [r2, w2] = pair();
    const other = { wake: null as (() => void) | null };
    const b = watch(r2, () => (drain(r2), other.wake?.())); // also starts the loop's own fds before counting
    await b.settled;
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    for (let i = 0; i < 200; i++) {
      const wt = watchInLoop(r, () => {});
      if (i % 2) await wt.settled; // half closed after the move, half before it
      wt.close();
    }
    let calls = 0;
    const last = watchInLoop(r, () => calls++);
    last.close();
    writeSync(w, "x");
    const otherCalled = nextCall(other);
    writeSync(w2, "y");
    await otherCalled;
    expect(calls).toBe(0);
    drain(r);
    // Bun closes an adopted socket on its next turn; fds come back by then.
    const deadline = Date.now() + 3000;
    while (fds() > before + 2 && Date.now() < deadline) await new Promise((res) => setImmediate(res));
    expect(fds()).toBeLessThanOrEqual(before);
  });

  test("any fd but an epoll fd stays on the watcher thread (a hang-up would keep Bun reading its socket for ever)", async () => {
    const [s, w] = socketPair("stream");
    open.push(s, w);
    const calls = { wake: null as (() => void) | null };
    const wt = watch(s, () => (drain(s), calls.wake?.()));
    await wt.settled;
    expect(wt.mode).toBe("thread");
    const called = nextCall(calls);
    writeSync(w, "t");
    await called;
  });

  test("WEFT_FD_IN_LOOP=0 keeps the watch on the watcher thread, where it works the same", async () => {
    const [r, w] = pair();
    process.env.WEFT_FD_IN_LOOP = "0";
    let wt: InLoopWatch;
    try {
      const calls = { wake: null as (() => void) | null };
      wt = watch(r, () => (drain(r), calls.wake?.()));
      await wt.settled;
      expect(wt.mode).toBe("thread");
      const called = nextCall(calls);
      writeSync(w, "t");
      await called;
    } finally {
      delete process.env.WEFT_FD_IN_LOOP;
    }
  });
});
