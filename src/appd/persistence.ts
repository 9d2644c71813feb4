// Which apps were running when weft stopped, so the next start brings them
// back (spec §1). WEFT wrote a plain JSON array of app ids and deleted it
// after loading; we still read that, and write a richer object atomically
// (tmp + fsync + rename) so `kill -9` mid-save loses at most that save.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { log } from "../system/log.ts";
import { APP_ID_RE } from "./manifest.ts";

export const SESSION_FILE = "last-session.json";

/** One running app; `state` names its /state directory when the app opted in (`persist_state`). */
export interface SavedSession {
  app_id: string;
  state?: string;
}

export interface SavedSessions {
  version: 1;
  saved_at: string;
  sessions: SavedSession[];
}

/** A state token: what names a session's state directory (never a path). */
export const STATE_TOKEN_RE = /^[0-9a-f]{32}$/;

export function saveSessions(runtimeDir: string, sessions: SavedSession[]): void {
  const file = join(runtimeDir, SESSION_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const body: SavedSessions = { version: 1, saved_at: new Date().toISOString(), sessions };
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(body, null, 2) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * The sessions to restore, consuming the file. A corrupt or half-written file
 * is set aside (`.corrupt-<time>`) with a warning; start-up goes on. Entries
 * whose id is not an app id are dropped, and a state token that is not one is
 * dropped from its entry (the app then starts with fresh state).
 */
export function takeSavedSessions(runtimeDir: string): SavedSession[] {
  const file = join(runtimeDir, SESSION_FILE);
  if (!existsSync(file)) return [];
  let entries: SavedSession[] | null = null;
  try {
    const data: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (Array.isArray(data) && data.every((x) => typeof x === "string")) entries = data.map((app_id) => ({ app_id })); // WEFT's form
    else if (data && typeof data === "object" && (data as SavedSessions).version === 1 && Array.isArray((data as SavedSessions).sessions))
      entries = (data as SavedSessions).sessions
        .filter((s): s is SavedSession => typeof s?.app_id === "string")
        .map((s) => (typeof s.state === "string" ? { app_id: s.app_id, state: s.state } : { app_id: s.app_id }));
  } catch {
    entries = null;
  }
  if (entries === null) {
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    log.warn(`${file} is not a session file weft understands; set aside as ${aside}`);
    return [];
  }
  unlinkSync(file);
  const bad = entries.filter((e) => !APP_ID_RE.test(e.app_id));
  if (bad.length) log.warn(`${file}: ignoring entries that are not app ids: ${bad.map((b) => JSON.stringify(b.app_id)).join(", ")}`);
  return entries
    .filter((e) => APP_ID_RE.test(e.app_id))
    .map((e) => {
      if (e.state === undefined || STATE_TOKEN_RE.test(e.state)) return e;
      log.warn(`${file}: ${e.app_id}: ignoring a state token that is not one (${JSON.stringify(e.state).slice(0, 80)}); it starts afresh`);
      return { app_id: e.app_id };
    });
}
