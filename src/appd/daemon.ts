// The app daemon: sessions + the API on its transports, in this process and
// on this loop. `weft run` starts it (with the compositor when present).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeDir } from "../system/paths.ts";
import { log } from "../system/log.ts";
import { Api } from "./api.ts";
import { serveHttp, type HttpServer } from "./http.ts";
import { listInstalled, installPackage, userStoreRoot } from "./package-store.ts";
import { saveSessions, takeSavedSessions } from "./persistence.ts";
import { loadTrustedKeys, readKeyFile, trustedKeyDirs, type TrustedKey } from "./signature.ts";
import { SessionManager, type SessionOptions } from "./sessions.ts";
import { serveUnix, type UnixServer } from "./unix-server.ts";

export interface DaemonOptions extends SessionOptions {
  /** Unix socket path; default per spec §1. */
  socketPath?: string;
  /** Relaunch the apps saved at the last stop (default true). */
  restore?: boolean;
  /** Package dirs installed when no app is installed at all. */
  bundledApps?: string[];
  /** The .pub file the bundled apps are signed with (null/absent: install them unsigned). */
  bundledKey?: string | null;
  /** HTTP/WebSocket port (0 = any free one); false = no HTTP transport. Default: WEFT_APPD_WS_PORT or 7410. */
  httpPort?: number | false;
}

export interface Daemon {
  api: Api;
  sessions: SessionManager;
  unix: UnixServer;
  http: HttpServer | null;
  /** Stops every session, then closes the transports. */
  close(): Promise<void>;
  /** Saves the running apps (for the next start), then close(). */
  shutdown(): Promise<void>;
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

/**
 * First start: an empty store gets the bundled apps, so there is something
 * to launch. They are signed (scripts/build-examples.sh); their public key
 * comes with weft and is added to the user's trusted keys as
 * `weft-bundled.pub` (delete it to stop trusting them), so every launch
 * verifies them like any other signed app. Without a key they are installed
 * as unsigned.
 */
async function installBundled(dirs: string[], keyFile: string | null): Promise<void> {
  if (!dirs.length || (await listInstalled()).length) return;
  let keys: TrustedKey[] | null = null;
  if (keyFile) {
    try {
      const publicHex = await readKeyFile(keyFile);
      const userDir = trustedKeyDirs().at(-1)!;
      const known = (await loadTrustedKeys()).keys.some((k) => k.publicHex === publicHex);
      if (!known) {
        mkdirSync(userDir, { recursive: true, mode: 0o700 });
        writeFileSync(join(userDir, "weft-bundled.pub"), `${publicHex}\n`, { mode: 0o644 });
        log.info(`trusting the bundled apps' signing key: ${join(userDir, "weft-bundled.pub")}`);
      }
      keys = [{ id: "weft-bundled", file: keyFile, publicHex }];
    } catch (e) {
      log.warn(`bundled apps' key ${keyFile}: ${(e as Error).message}; installing them as unsigned`);
    }
  }
  for (const dir of dirs) {
    try {
      const r = await installPackage(dir, keys ? { root: userStoreRoot(), trustedKeys: keys } : { root: userStoreRoot(), allowUnsigned: true });
      log.info(`installed bundled app ${r.id} ${r.version}`);
    } catch (e) {
      log.warn(`could not install bundled app ${dir}: ${(e as Error).message}`);
    }
  }
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const rtDir = ensureRuntimeDir();
  const sessions = new SessionManager(opts);
  const api = new Api(sessions);
  const socketPath = opts.socketPath ?? appdSocketPath();
  const unix = serveUnix(socketPath, api);
  log.info(`appd listening on ${socketPath}`);
  let http: HttpServer | null = null;
  if (opts.httpPort !== false) {
    try {
      http = await serveHttp(api, { port: opts.httpPort, runtimeDir: rtDir });
      log.info(`appd HTTP/WebSocket on ${http.url} (token in ${rtDir ?? "memory"})`);
    } catch (e) {
      unix.close();
      throw e;
    }
  }
  await installBundled(opts.bundledApps ?? [], opts.bundledKey ?? null);
  if (rtDir && opts.restore !== false) {
    const saved = takeSavedSessions(rtDir);
    const swept = sessions.sweepState(saved);
    if (swept.length) log.info(`removed ${swept.length} session state dir(s) no saved session names (left by a crash): ${swept.join(", ")}`);
    for (const { app_id: id, state } of saved) {
      sessions.launch(id, { state }).then(
        (s) => log.info(`restored ${id} as session ${s.id}${s.stateToken && s.stateToken === state ? " with its state" : ""}`),
        (e) => log.warn(`could not restore ${id}: ${(e as Error).message}`),
      );
    }
  }
  const close = async () => {
    await sessions.terminateAll();
    unix.close();
    await http?.close();
  };
  return {
    api,
    sessions,
    unix,
    http,
    close,
    async shutdown() {
      const running = sessions.running();
      if (rtDir) for (const s of running) s.keepState = true;
      if (rtDir) saveSessions(rtDir, running.map((s) => (s.stateToken ? { app_id: s.appId, state: s.stateToken } : { app_id: s.appId })));
      await close();
    },
  };
}
