// XDG paths (spec §1). Every path weft writes is derived here.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { setenvBoth } from "../../ffi/libc.ts";
import { join } from "node:path";

export function cacheDir(): string {
  if (process.env.WEFT_CACHE_DIR) return process.env.WEFT_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "weft");
}

/** Session state of apps with persist_state: $XDG_STATE_HOME/weft/session-state (~/.local/state/…). */
export function sessionStateRoot(): string {
  const base = process.env.XDG_STATE_HOME || join(process.env.HOME || homedir(), ".local", "state");
  return join(base, "weft", "session-state");
}

export function runtimeDir(): string {
  const base = process.env.XDG_RUNTIME_DIR;
  if (!base) throw new Error("XDG_RUNTIME_DIR is not set");
  return join(base, "weft");
}

/**
 * For `weft run` only: when XDG_RUNTIME_DIR is unset (a bare root shell, a
 * container), use /run/user/<uid> if it exists, else a private /tmp dir, and
 * export it so everything weft starts agrees. Returns the dir chosen, or null
 * when XDG_RUNTIME_DIR was already set.
 */
export function ensureXdgRuntimeDir(): string | null {
  if (process.env.XDG_RUNTIME_DIR) return null;
  const uid = process.getuid?.() ?? 0;
  let dir = `/run/user/${uid}`;
  if (!existsSync(dir)) {
    dir = join(tmpdir(), `weft-runtime-${uid}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (st.uid !== uid || (st.mode & 0o077) !== 0) throw new Error(`${dir} is not a private directory of uid ${uid}; set XDG_RUNTIME_DIR`);
  }
  setenvBoth("XDG_RUNTIME_DIR", dir);
  return dir;
}
