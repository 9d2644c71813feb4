// The app daemon: sessions + the API on its transports, in this process and
// on this loop. `weft run` starts it (with the compositor when present).
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { runtimeDir } from "../system/paths.ts";
import { log } from "../system/log.ts";
import { Api } from "./api.ts";
import { SessionManager, type SessionOptions } from "./sessions.ts";
import { serveUnix, type UnixServer } from "./unix-server.ts";

export interface DaemonOptions extends SessionOptions {
  /** Unix socket path; default per spec §1. */
  socketPath?: string;
}

export interface Daemon {
  api: Api;
  sessions: SessionManager;
  unix: UnixServer;
  /** Stops every session, then closes the transports. */
  close(): Promise<void>;
}

/** Spec §1: WEFT_APPD_SOCKET, else $XDG_RUNTIME_DIR/weft/appd.sock; an error if neither is set. */
export function appdSocketPath(): string {
  if (process.env.WEFT_APPD_SOCKET) return process.env.WEFT_APPD_SOCKET;
  if (!process.env.XDG_RUNTIME_DIR) throw new Error("neither WEFT_APPD_SOCKET nor XDG_RUNTIME_DIR is set; cannot place the appd socket");
  return join(runtimeDir(), "appd.sock");
}

/** Creates $XDG_RUNTIME_DIR/weft (0700) when that is where things go. */
export function ensureRuntimeDir(): string | null {
  if (!process.env.XDG_RUNTIME_DIR) return null;
  const dir = runtimeDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  ensureRuntimeDir();
  const sessions = new SessionManager(opts);
  const api = new Api(sessions);
  const socketPath = opts.socketPath ?? appdSocketPath();
  const unix = serveUnix(socketPath, api);
  log.info(`appd listening on ${socketPath}`);
  return {
    api,
    sessions,
    unix,
    async close() {
      await sessions.terminateAll();
      unix.close();
    },
  };
}
