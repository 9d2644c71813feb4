// watchFd: the native watcher wakes the loop for any fd, once per readiness.
import { describe, expect, test } from "bun:test";
import { closeSync, readSync, writeSync } from "node:fs";
import { dlopen, FFIType, ptr } from "bun:ffi";
import { watchFd } from "../../src/loop/fd.ts";

const libc = dlopen("libc.so.6", { pipe: { args: [FFIType.ptr], returns: FFIType.i32 } });
function pipe(): [number, number] {
  const fds = new Int32Array(2);
  if (libc.symbols.pipe(ptr(fds)) !== 0) throw new Error("pipe failed");
  return [fds[0], fds[1]];
}

/** Resolves once the loop has handled an fd event raised after this call (a second, live watch proves it). */
async function loopProcessedEvents(): Promise<void> {
  const [r, w] = pipe();
  const done = new Promise<void>((res) => {
    const watch = watchFd(r, () => (watch.close(), res()));
  });
  writeSync(w, "y");
  await done;
  for (const fd of [r, w]) closeSync(fd);
}

describe("watchFd", () => {
  test("calls back on the main thread each time the fd becomes readable", async () => {
    const [r, w] = pipe();
    const seen: string[] = [];
    let wake!: () => void;
    let next = new Promise<void>((res) => (wake = res));
    const watch = watchFd(r, () => {
      const buf = Buffer.alloc(64);
      const n = readSync(r, buf);
      seen.push(buf.subarray(0, n).toString());
      wake();
    });
    try {
      writeSync(w, "one");
      await next;
      next = new Promise<void>((res) => (wake = res));
      writeSync(w, "two");
      await next;
      expect(seen).toEqual(["one", "two"]);
    } finally {
      watch.close();
      closeSync(r);
      closeSync(w);
    }
  });

  test("a closed watch is never called again", async () => {
    const [r, w] = pipe();
    let calls = 0;
    const watch = watchFd(r, () => calls++);
    watch.close();
    writeSync(w, "x");
    await loopProcessedEvents();
    expect(calls).toBe(0);
    for (const fd of [r, w]) closeSync(fd);
  });

  test("a paused watch stays quiet while its owner reads the fd itself; resume wakes it for what came meanwhile", async () => {
    const [r, w] = pipe();
    let calls = 0;
    const { promise: called, resolve: wake } = Promise.withResolvers<void>();
    const watch = watchFd(r, () => {
      calls++;
      readSync(r, Buffer.alloc(64));
      wake();
    });
    try {
      watch.pause();
      writeSync(w, "x");
      await loopProcessedEvents();
      expect(calls).toBe(0);
      watch.resume(); // the byte written while paused is still there
      await called;
      expect(calls).toBe(1);
    } finally {
      watch.close();
      closeSync(r);
      closeSync(w);
    }
  });
  test("a watch closed while paused leaves the watcher: the fd can be watched again", async () => {
    const [r, w] = pipe();
    const first = watchFd(r, () => {});
    first.pause();
    first.close();
    const { promise: called, resolve: wake } = Promise.withResolvers<void>();
    // Were the paused fd still in the watcher's epoll set, this would fail (EEXIST).
    const second = watchFd(r, () => {
      readSync(r, Buffer.alloc(64));
      wake();
    });
    try {
      writeSync(w, "y");
      await called;
    } finally {
      second.close();
      closeSync(r);
      closeSync(w);
    }
  });

  test("a paused watch does not fire on a hang-up either; resume reports it", async () => {
    const [r, w] = pipe();
    let calls = 0;
    const { promise: called, resolve: wake } = Promise.withResolvers<void>();
    const watch = watchFd(r, () => {
      calls++;
      wake();
    });
    try {
      watch.pause();
      closeSync(w); // EPOLLHUP, which epoll reports whatever events were asked for
      await loopProcessedEvents();
      expect(calls).toBe(0);
      watch.resume();
      await called;
      expect(calls).toBe(1);
    } finally {
      watch.close();
      closeSync(r);
    }
  });
});
