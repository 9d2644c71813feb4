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
/**
 * A watch on `r` whose callback drains it, counts the call and keeps what it
 * read; next() resolves at its next call (rejects after 5 s).
 */
function drained(r: number) {
  const seen: string[] = [];
  let wake: (() => void) | null = null;
  const w = watch(r, () => {
    seen.push(drain(r));
    wake?.();
  });
  const next = () =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no callback")), 5000);
      wake = () => (clearTimeout(t), (wake = null), resolve());
    });
  return { w, seen, next };
}

describe("watchInLoop", () => {
  test("moves into Bun's epoll and calls back each time the fd becomes readable, counting a loop wake-up", async () => {
    const [r, w] = pair();
    const a = drained(r);
    await a.w.settled;
    expect(a.w.mode).toBe("loop");
    const w0 = loopStats().wakeups;
    for (const word of ["one", "two", "three"]) {
      const called = a.next();
      writeSync(w, word);
      await called;
    }
    expect(a.seen).toEqual(["one", "two", "three"]);
    expect(loopStats().wakeups - w0).toBe(3);
  });

  test("readable from the start: the callback runs, before and after the move", async () => {
    const [r, w] = pair();
    writeSync(w, "early");
    const a = drained(r);
    await a.next();
    await a.w.settled;
    const again = a.next();
    writeSync(w, "late");
    await again;
    expect(a.seen.filter(Boolean)).toEqual(["early", "late"]);
  });

  test("a paused watch stays quiet (another fd's callback runs meanwhile); resume calls back for what came", async () => {
    const [r, w] = pair();
    const [r2, w2] = pair();
    const a = drained(r);
    const b = drained(r2);
    await Promise.all([a.w.settled, b.w.settled]);
    a.w.pause();
    writeSync(w, "x");
    // Written after, on another fd in the same epoll: by its callback, a live `a` would have fired too.
    const otherCalled = b.next();
    writeSync(w2, "y");
    await otherCalled;
    expect(a.seen).toEqual([]);
    const resumed = a.next();
    a.w.resume();
    await resumed;
    expect(a.seen).toEqual(["x"]);
  });

  test("the loop sleeps: 300 ms with one watch drained and one paused on unread data cost next to no CPU", async () => {
    const [r, w] = pair();
    const [r2, w2] = pair();
    const live = drained(r);
    const paused = drained(r2);
    await Promise.all([live.w.settled, paused.w.settled]);
    const called = live.next();
    writeSync(w, "z");
    await called;
    paused.w.pause();
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
    const b = drained(r2); // also starts the loop's own fds before counting
    await b.w.settled;
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
    const otherCalled = b.next();
    writeSync(w2, "y");
    await otherCalled;
    expect(calls).toBe(0);
    drain(r);
    // Bun closes an adopted socket on its next turn; fds come back by then.
    const deadline = Date.now() + 3000;
    while (fds() > before && Date.now() < deadline) await new Promise((res) => setImmediate(res));
    expect(fds()).toBeLessThanOrEqual(before);
  });

  test("any fd but an epoll fd stays on the watcher thread (a hang-up would keep Bun reading its socket for ever)", async () => {
    const [s, w] = socketPair("stream");
    open.push(s, w);
    const a = drained(s);
    await a.w.settled;
    expect(a.w.mode).toBe("thread");
    const called = a.next();
    writeSync(w, "t");
    await called;
  });

  test("WEFT_FD_IN_LOOP=0 keeps the watch on the watcher thread, where it works the same", async () => {
    const [r, w] = pair();
    process.env.WEFT_FD_IN_LOOP = "0";
    try {
      const a = drained(r);
      await a.w.settled;
      expect(a.w.mode).toBe("thread");
      const called = a.next();
      writeSync(w, "t");
      await called;
    } finally {
      delete process.env.WEFT_FD_IN_LOOP;
    }
  });
});
