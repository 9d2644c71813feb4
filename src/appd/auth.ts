// Who may talk to the appd over HTTP/WebSocket. The Unix socket trusts the
// kernel (mode 0600 + peer uid); a TCP port on 127.0.0.1 is reachable by every
// local user and by any web page the user visits, so here we need:
// - a token only our user can read (0600 file in the 0700 runtime dir),
// - an Origin check, so a page on another site cannot drive the API through
//   the user's browser (browsers always send Origin on WebSocket upgrades),
// - a Host check, so DNS rebinding (evil.example → 127.0.0.1) cannot make a
//   hostile page same-origin with us.
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE = "appd.token";
export const PORT_FILE = "appd.wsport";
export const COOKIE = "weft_token";

/** 32 random bytes as 64 hex characters (WebCrypto's CSPRNG). */
export function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

/**
 * Compares in time independent of where the strings differ. Hashing first
 * makes the lengths equal too, so a wrong-length guess leaks nothing either.
 */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== "string" || given.length === 0 || given.length > 1024) return false;
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(expected), h(given));
}

/** `Authorization: Bearer <token>` → the token, else null. */
export function bearerToken(header: string | null | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1] : null;
}

/**
 * Writes `text` to dir/name so that readers see the old file or the whole new
 * one, never a half (tmp + rename). The tmp file is created 0600 before any
 * byte is written, so the token is never readable by others, even briefly.
 */
export function writeFileAtomic(dir: string, name: string, text: string, mode = 0o600): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode, flag: "w" });
  renameSync(tmp, path);
  return path;
}

/** Removes a file we wrote, unless another weft has replaced it since (its content differs). */
export function removeIfOurs(path: string, text: string): void {
  try {
    if (readFileSync(path, "utf8") === text) unlinkSync(path);
  } catch {}
}

/**
 * Host names a DNS-rebinding attacker cannot point at us: localhost and IP
 * literals. App origins (`s<n>.localhost`, app-ui.ts) are deliberately not
 * among them: http.ts routes those to the app UI before this check, so a
 * system route never answers one.
 */
export function hostAllowed(hostHeader: string | null | undefined): boolean {
  if (!hostHeader) return true; // HTTP/1.0 clients; no browser omits Host
  let name: string;
  try {
    name = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return false;
  }
  if (name === "localhost") return true;
  if (name.startsWith("[") && name.endsWith("]")) return true; // IPv6 literal (URL validated it)
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
}

/** The origins that are us (system clients): the loopback names at our port, and the configured listen host. Never an app origin. */
export function ownOrigins(host: string, port: number): Set<string> {
  const out = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]);
  if (host !== "0.0.0.0" && host !== "::") out.add(`http://${host.includes(":") ? `[${host}]` : host}:${port}`);
  return out;
}
