// The one dispatcher for the appd API (spec §3). Transports (Unix socket,
// WebSocket, the CLI) hand it decoded messages and send back what it
// returns; it never throws — every failure is an ERROR response.
import { BadRequest, ErrorCode, parseRequest, type Request, type Response } from "../ipc/messages.ts";
import { Listeners } from "../system/listeners.ts";
import { log } from "../system/log.ts";
import { listInstalled } from "./package-store.ts";
import { LaunchError, type SessionManager } from "./sessions.ts";

export type Broadcast = (msg: Response) => void;

const err = (code: number, message: string): Response => ({ type: "ERROR", code, message });

/** A running cell's controls (`weft cell run` sets them; docs/cells.md). */
export interface CellControl {
  /** Advances the epoch: every weft:cell handle issued so far is stale. Returns the new epoch. */
  revoke(): number;
  /** Merges a layer over the running image and advances the epoch. */
  applyLayer(path: string): Promise<number>;
}

export class Api {
  private subscribers = new Listeners<Response>("broadcast to a client");
  cell: CellControl | null = null;

  constructor(readonly sessions: SessionManager) {
    sessions.on((e) => {
      const s = e.session;
      if (e.type === "launched") this.broadcast({ type: "LAUNCH_ACK", session_id: s.id, app_id: s.appId });
      else if (e.type === "ready") this.broadcast({ type: "APP_READY", session_id: s.id, app_id: s.appId });
      else if (e.type === "state") this.broadcast(this.stateOf(s.id));
      else if (e.type === "ipc") this.broadcast({ type: "IPC_MESSAGE", session_id: s.id, payload: e.payload });
      else if (e.type === "notification") {
        const n = e.notification;
        this.broadcast({ type: "NOTIFICATION", session_id: s.id, app_id: s.appId, title: n.title, body: n.body, icon: n.icon });
      }
    });
  }

  /** System clients (authenticated WebSockets) get every broadcast. */
  subscribe(fn: Broadcast): () => void {
    return this.subscribers.add(fn);
  }

  broadcast(msg: Response): void {
    this.subscribers.emit(msg);
  }

  /** Parses and answers one request (array or map form). */
  async handle(raw: unknown): Promise<Response> {
    let req: Request;
    try {
      req = parseRequest(raw);
    } catch (e) {
      return err(ErrorCode.badRequest, e instanceof BadRequest ? e.message : "malformed request");
    }
    try {
      return await this.dispatch(req);
    } catch (e) {
      log.error(`${req.type} failed: ${(e as Error).stack ?? e}`);
      return err(ErrorCode.internal, `${req.type} failed: ${(e as Error).message}`);
    }
  }

  private stateOf(id: number): Response {
    const s = this.sessions.sessions.get(id);
    if (!s) return { type: "APP_STATE", session_id: id, state: "not_found" };
    return {
      type: "APP_STATE",
      session_id: id,
      state: s.state,
      app_id: s.appId,
      ...(s.exit ? { exit: s.exit } : {}),
      ...(s.restarts ? { restarts: s.restarts } : {}),
      ...(s.failed ? { failed: true } : {}),
    };
  }

  private async dispatch(req: Request): Promise<Response> {
    switch (req.type) {
      case "LAUNCH_APP": {
        try {
          const s = await this.sessions.launch(req.app_id);
          return { type: "LAUNCH_ACK", session_id: s.id, app_id: s.appId };
        } catch (e) {
          if (e instanceof LaunchError) return err(ErrorCode.launchFailed, e.message);
          throw e;
        }
      }
      case "TERMINATE_APP": {
        const s = this.sessions.sessions.get(req.session_id);
        if (!s) return err(ErrorCode.notFound, `no session ${req.session_id}`);
        await s.terminate(); // answers only once the guest is really gone
        return this.stateOf(s.id);
      }
      case "QUERY_RUNNING":
        return { type: "RUNNING_APPS", sessions: this.sessions.running().map((s) => ({ session_id: s.id, app_id: s.appId })) };
      case "QUERY_APP_STATE":
        return this.stateOf(req.session_id);
      case "QUERY_INSTALLED_APPS": {
        const apps = await listInstalled();
        return { type: "INSTALLED_APPS", apps: apps.filter((a) => a.manifest).map((a) => ({ app_id: a.id, name: a.manifest!.name, version: a.manifest!.version })) };
      }
      case "IPC_FORWARD": {
        const s = this.sessions.sessions.get(req.session_id);
        if (!s || !s.alive) return err(ErrorCode.notFound, `no running session ${req.session_id}`);
        if (!s.isComponent) return err(ErrorCode.unsupported, `session ${req.session_id} runs a Preview 1 module, which has no weft:app/ipc to receive messages`);
        const why = s.ipcForward(req.payload);
        return why ? err(ErrorCode.unsupported, why) : this.stateOf(s.id);
      }
      case "PANEL_GESTURE": {
        const msg: Response = { type: "NAVIGATION_GESTURE", gesture_type: req.gesture_type, fingers: req.fingers, dx: req.dx, dy: req.dy };
        this.broadcast(msg);
        return msg;
      }
      case "QUERY_LOGS": {
        const s = this.sessions.sessions.get(req.session_id);
        if (!s) return err(ErrorCode.notFound, `no session ${req.session_id}`);
        const n = req.lines ?? 100;
        return { type: "LOGS", session_id: s.id, lines: s.log.slice(-n) };
      }
      case "CELL_REVOKE":
      case "CELL_APPLY_LAYER": {
        if (!this.cell) return err(ErrorCode.unsupported, "this weft runs no cell (see `weft cell run`)");
        try {
          const epoch = req.type === "CELL_REVOKE" ? this.cell.revoke() : await this.cell.applyLayer(req.path);
          return { type: "CELL_EPOCH", epoch };
        } catch (e) {
          if (e instanceof Error && e.name === "ImageError") return err(ErrorCode.badRequest, e.message);
          throw e;
        }
      }
    }
  }
}
