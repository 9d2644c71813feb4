// sd_notify(3) without libsystemd: the protocol is one datagram of
// "KEY=VALUE\n" lines sent to the Unix socket named by $NOTIFY_SOCKET (a path,
// or "@name" in the abstract namespace). systemd sets it for Type=notify
// units; without it every call here does nothing, so weft runs the same from
// a shell, a test or a unit.
//
// What weft tells systemd (see `weft run` and systemd/weft.service):
//   READY=1      once the compositor, the app daemon and the runtime are up
//   STATUS=…     a line a person reads in `systemctl status weft`
//   WATCHDOG=1   from a timer on the event loop itself, every WATCHDOG_USEC/2:
//                a loop that is stuck stops pinging and systemd restarts weft
//   STOPPING=1   when SIGTERM/SIGINT starts the clean stop
//
// Like sd_notify(unset_environment=1) we take NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID out of process.env, so nothing weft starts inherits them.
import { closeFd, datagramSocket, sendDatagram } from "../../ffi/libc.ts";
import { log } from "./log.ts";

export interface Notifier {
  /** True when NOTIFY_SOCKET was set: messages go somewhere. */
  readonly enabled: boolean;
  /** Watchdog period systemd asked for (WATCHDOG_USEC), in ms; 0 when none. */
  readonly watchdogMs: number;
  /** Sends raw fields ({READY: 1, STATUS: "…"}); false when disabled or the send failed. */
  send(fields: Record<string, string | number>): boolean;
  ready(status?: string): void;
  /** Sends STATUS= only when the text changed since the last one. */
  status(text: string): void;
  stopping(status?: string): void;
  /** Pings WATCHDOG=1 from a loop timer every watchdogMs/2; returns the stop function. */
  startWatchdog(): () => void;
  close(): void;
}

/** Reads (and removes) the notify variables from `env`; a no-op notifier without NOTIFY_SOCKET. */
export function systemdNotifier(env: Record<string, string | undefined> = process.env): Notifier {
  const path = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  const pid = env.WATCHDOG_PID;
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  // WATCHDOG_PID names the process the watchdog is meant for; another one (a child that inherited it) ignores it.
  const watchdogMs = Number.isFinite(usec) && usec > 0 && (!pid || Number(pid) === process.pid) ? usec / 1000 : 0;
  const enabled = !!path && (path.startsWith("/") || path.startsWith("@"));
  if (path && !enabled) log.warn(`NOTIFY_SOCKET=${path} is neither an absolute path nor @abstract; not notifying systemd`);

  let fd = -1;
  let lastStatus: string | null = null;
  let failed = false;
  const encoder = new TextEncoder();

  const send = (fields: Record<string, string | number>): boolean => {
    if (!enabled) return false;
    // A value is one line: a newline would start a new field.
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replaceAll("\n", " ")}\n`)
      .join("");
    try {
      if (fd < 0) fd = datagramSocket();
      sendDatagram(fd, path!, encoder.encode(text));
      failed = false;
      return true;
    } catch (e) {
      // systemd gone or the socket full: worth one line, not a crash, and not one line per ping.
      if (!failed) log.warn(`sd_notify to ${path} failed: ${(e as Error).message}`);
      failed = true;
      return false;
    }
  };

  return {
    enabled,
    watchdogMs,
    send,
    ready(status) {
      if (status !== undefined) lastStatus = status;
      send(status === undefined ? { READY: 1 } : { READY: 1, STATUS: status });
    },
    status(text) {
      if (text === lastStatus) return;
      lastStatus = text;
      send({ STATUS: text });
    },
    stopping(status) {
      if (status !== undefined) lastStatus = status;
      send(status === undefined ? { STOPPING: 1 } : { STOPPING: 1, STATUS: status });
    },
    startWatchdog() {
      if (!enabled || !watchdogMs) return () => {};
      // A plain loop timer on purpose: it fires only while the loop turns.
      const timer = setInterval(() => send({ WATCHDOG: 1 }), Math.max(1, Math.floor(watchdogMs / 2)));
      timer.unref();
      send({ WATCHDOG: 1 });
      return () => clearInterval(timer);
    },
    close() {
      if (fd >= 0) closeFd(fd);
      fd = -1;
    },
  };
}
