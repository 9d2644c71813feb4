// Which apps were running when weft stopped, so the next start brings them
// back (spec §1). WEFT wrote a plain JSON array of app ids and deleted it
// after loading; we still read that, and write a richer object atomically
// (tmp + fsync + rename) so `kill -9` mid-save loses at most that save.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { log } from "../system/log.ts";
import { APP_ID_RE } from "./manifest.ts";

export const SESSION_FILE = "last-session.json";

export interface SavedSessions {
  version: 1;
  saved_at: string;
  sessions: { app_id: string }[];
}

export function saveSessions(runtimeDir: string, appIds: string[]): void {
  const file = join(runtimeDir, SESSION_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const body: SavedSessions = { version: 1, saved_at: new Date().toISOString(), sessions: appIds.map((app_id) => ({ app_id })) };
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
 * The app ids to restore, consuming the file. A corrupt or half-written file
 * is set aside (`.corrupt-<time>`) with a warning; start-up goes on.
 */
export function takeSavedSessions(runtimeDir: string): string[] {
  const file = join(runtimeDir, SESSION_FILE);
  if (!existsSync(file)) return [];
  let ids: string[] | null = null;
  try {
    const data: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (Array.isArray(data) && data.every((x) => typeof x === "string")) ids = data; // WEFT's form
    else if (data && typeof data === "object" && (data as SavedSessions).version === 1 && Array.isArray((data as SavedSessions).sessions))
      ids = (data as SavedSessions).sessions.map((s) => s?.app_id).filter((x): x is string => typeof x === "string");
  } catch {
    ids = null;
  }
  if (ids === null) {
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    log.warn(`${file} is not a session file weft understands; set aside as ${aside}`);
    return [];
  }
  unlinkSync(file);
  const bad = ids.filter((id) => !APP_ID_RE.test(id));
  if (bad.length) log.warn(`${file}: ignoring entries that are not app ids: ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
  return ids.filter((id) => APP_ID_RE.test(id));
}
