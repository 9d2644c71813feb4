// The appd API messages (spec §3): tagged unions with `type` in
// SCREAMING_SNAKE_CASE and snake_case fields. weft may add messages and
// fields but never changes these.

export type Request =
  | { type: "LAUNCH_APP"; app_id: string; surface_id: number }
  | { type: "TERMINATE_APP"; session_id: number }
  | { type: "QUERY_RUNNING" }
  | { type: "QUERY_APP_STATE"; session_id: number }
  | { type: "QUERY_INSTALLED_APPS" }
  | { type: "IPC_FORWARD"; session_id: number; payload: string }
  | { type: "PANEL_GESTURE"; gesture_type: number; fingers: number; dx: number; dy: number }
  // weft's additions
  | { type: "QUERY_LOGS"; session_id: number; lines?: number }
  | { type: "CELL_REVOKE" }
  | { type: "CELL_APPLY_LAYER"; path: string };

export type SessionState = "starting" | "running" | "stopping" | "stopped" | "not_found";

export interface ExitInfo {
  kind: string;
  code?: number;
  message?: string;
}

export type Response =
  | { type: "LAUNCH_ACK"; session_id: number; app_id: string }
  | { type: "APP_READY"; session_id: number; app_id: string }
  | { type: "RUNNING_APPS"; sessions: { session_id: number; app_id: string }[] }
  | { type: "APP_STATE"; session_id: number; state: SessionState; app_id?: string; exit?: ExitInfo; restarts?: number; failed?: boolean }
  | { type: "INSTALLED_APPS"; apps: { app_id: string; name: string; version: string }[] }
  | { type: "IPC_MESSAGE"; session_id: number; payload: string }
  | { type: "NAVIGATION_GESTURE"; gesture_type: number; fingers: number; dx: number; dy: number }
  | { type: "ERROR"; code: number; message: string }
  // weft's additions
  | { type: "LOGS"; session_id: number; lines: { stream: "stdout" | "stderr"; text: string }[] }
  /** Broadcast: an app posted weft:app/notifications.notify (the system UI shows a toast). */
  | { type: "NOTIFICATION"; session_id: number; app_id: string; title: string; body: string; icon: string | null }
  | { type: "CELL_EPOCH"; epoch: number };

export const ErrorCode = {
  badRequest: 1,
  notFound: 2,
  launchFailed: 3,
  frameTooLarge: 4,
  internal: 5,
  unsupported: 6,
  unauthorized: 7,
} as const;

/**
 * WEFT's Rust clients send the compact form: an array whose first element is
 * the tag, then the fields in this order.
 */
export const FIELD_ORDER: Record<Request["type"], readonly string[]> = {
  LAUNCH_APP: ["app_id", "surface_id"],
  TERMINATE_APP: ["session_id"],
  QUERY_RUNNING: [],
  QUERY_APP_STATE: ["session_id"],
  QUERY_INSTALLED_APPS: [],
  IPC_FORWARD: ["session_id", "payload"],
  PANEL_GESTURE: ["gesture_type", "fingers", "dx", "dy"],
  QUERY_LOGS: ["session_id", "lines"],
  CELL_REVOKE: [],
  CELL_APPLY_LAYER: ["path"],
};

type FieldKind = "u32" | "string" | "f64" | "optu32";
const FIELD_KINDS: Record<string, FieldKind> = {
  app_id: "string",
  payload: "string",
  surface_id: "u32",
  session_id: "u32",
  gesture_type: "u32",
  fingers: "u32",
  dx: "f64",
  dy: "f64",
  lines: "optu32",
  path: "string",
};

export class BadRequest extends Error {}

/** Names a bad tag without serialising it: a hostile tag can be a 100k-deep array. */
function describeTag(tag: unknown): string {
  if (typeof tag === "string") return JSON.stringify(tag.slice(0, 64));
  if (tag === undefined) return "(none)";
  return `(a ${tag === null ? "null" : Array.isArray(tag) ? "list" : typeof tag}, not a string)`;
}

/**
 * Turns a decoded message (array or map form) into a typed request, or
 * throws BadRequest naming what is wrong. Unknown extra map fields are
 * ignored (forward compatibility); missing or mistyped ones are not.
 */
export function parseRequest(msg: unknown): Request {
  let tag: unknown;
  let fields: Record<string, unknown>;
  if (Array.isArray(msg)) {
    tag = msg[0];
    const order = typeof tag === "string" ? FIELD_ORDER[tag as Request["type"]] : undefined;
    if (!order) throw new BadRequest(`unknown request type ${describeTag(tag)}`);
    fields = Object.fromEntries(order.map((name, i) => [name, msg[i + 1]]));
  } else if (msg && typeof msg === "object" && !(msg instanceof Uint8Array)) {
    fields = msg as Record<string, unknown>;
    tag = fields.type;
  } else throw new BadRequest("a request must be a map with a `type` field or an array starting with the type");
  if (typeof tag !== "string" || !(tag in FIELD_ORDER)) throw new BadRequest(`unknown request type ${describeTag(tag)}`);
  const out: Record<string, unknown> = { type: tag };
  for (const name of FIELD_ORDER[tag as Request["type"]]) {
    const v = fields[name];
    const kind = FIELD_KINDS[name];
    if (kind === "optu32" && v === undefined) continue;
    if (kind === "string" && typeof v !== "string") throw new BadRequest(`${tag}.${name} must be a string`);
    if ((kind === "u32" || kind === "optu32") && !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff))
      throw new BadRequest(`${tag}.${name} must be an unsigned 32-bit integer`);
    if (kind === "f64" && !(typeof v === "number" && Number.isFinite(v))) throw new BadRequest(`${tag}.${name} must be a finite number`);
    out[name] = v;
  }
  return out as Request;
}
