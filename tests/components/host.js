// world: host-guest
// host: one guest for every host function weft answers on its loop. It runs
// commands, one line of output each (stdout, and ipc.send in ipc mode):
//
//   fetch|METHOD|URL[|BODY[|NAME=VALUE,...]]
//                      -> `fetch: ok <status> <content-type> <body length> <body as text, first 200 chars>` / `fetch: err <message>`
//   notify|TITLE|BODY[|ICON]  -> `notify: ok` / `notify: err <message>`
//   clip-read          -> `clipboard.read: ok <JSON text>` / `clipboard.read: err <message>`
//   clip-write|TEXT    -> `clipboard.write: ok` / `clipboard.write: err <message>`
//   echo|TEXT          -> `echo: <answer>` (test interface weft:test-guests/echo)
//   call-big|BYTES     -> calls echo.call with BYTES bytes: `call: ok <n>` / `call: err <message>`
//   many|N             -> N echo calls, then `many: done N`
//   bench|N            -> N calls each of ipc.recv (a native host function) and
//                         echo (a host call), timed one by one with the
//                         monotonic clock: `bench: recv p50=<ns> p99=<ns> echo p50=<ns> p99=<ns>`
//   spin               -> loops forever
//
// With arguments (argv[1..]), each is a command; then it returns (exit 0).
// Without: ipc mode — notify.ready(), then each ipc.recv() message is a
// command answered with ipc.send(line); `quit` returns; polls every 5 ms.
import { ready } from 'weft:app/notify@0.1.0';
import { send, recv } from 'weft:app/ipc@0.1.0';
import { fetch } from 'weft:app/fetch@0.1.0';
import { notify } from 'weft:app/notifications@0.1.0';
import { read, write } from 'weft:app/clipboard@0.1.0';
import { echo, call } from 'weft:test-guests/echo';
import { now, subscribeDuration } from 'wasi:clocks/monotonic-clock@0.2.12';
import { getArguments } from 'wasi:cli/environment@0.2.12';

function message(e) {
  if (e && typeof e === 'object' && 'payload' in e) return String(e.payload);
  if (e instanceof Error) return e.message;
  return String(e);
}

function attempt(name, fn) {
  try {
    return `${name}: ok${fn()}`;
  } catch (e) {
    return `${name}: err ${message(e)}`;
  }
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function timed(n, fn) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const a = now();
    fn();
    t.push(Number(now() - a));
  }
  t.sort((x, y) => x - y);
  return `p50=${percentile(t, 0.5)} p99=${percentile(t, 0.99)}`;
}

function run1(line) {
  const [cmd, ...a] = line.split('|');
  switch (cmd) {
    case 'fetch':
      return attempt('fetch', () => {
        const headers = a[3] ? a[3].split(',').map((h) => h.split('=')) : [];
        const body = a[2] ? new TextEncoder().encode(a[2]) : undefined;
        const r = fetch(a[1], a[0], headers, body);
        const text = new TextDecoder().decode(r.body).slice(0, 200);
        return ` ${r.status} ${r.contentType} ${r.body.length} ${text}`;
      });
    case 'notify':
      return attempt('notify', () => (notify(a[0], a[1], a[2]), ''));
    case 'clip-read':
      return attempt('clipboard.read', () => ` ${JSON.stringify(read())}`);
    case 'clip-write':
      return attempt('clipboard.write', () => (write(a[0] ?? ''), ''));
    case 'echo':
      return `echo: ${echo(a[0] ?? '')}`;
    case 'call-big':
      return attempt('call', () => ` ${call(new Uint8Array(Number(a[0]))).length}`);
    case 'many': {
      const n = Number(a[0]);
      for (let i = 0; i < n; i++) echo(String(i));
      return `many: done ${n}`;
    }
    case 'bench': {
      const n = Number(a[0]);
      const r = timed(n, () => recv());
      const e = timed(n, () => echo('x'));
      return `bench: recv ${r} echo ${e}`;
    }
    case 'spin':
      for (;;) {}
  }
  return `unknown command ${cmd}`;
}

function sleep(ns) {
  const p = subscribeDuration(ns);
  p.block();
  p[Symbol.dispose]?.();
}

export const run = {
  run() {
    const args = getArguments().slice(1);
    if (args.length) {
      for (const line of args) console.log(run1(line));
      return;
    }
    ready();
    for (;;) {
      const msg = recv();
      if (msg === undefined || msg === null) {
        sleep(5_000_000n);
        continue;
      }
      if (msg === 'quit') return;
      const out = run1(msg);
      console.log(out);
      send(out);
    }
  },
};
