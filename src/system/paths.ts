// XDG paths (spec §1). Every path weft writes is derived here.
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDir(): string {
  if (process.env.WEFT_CACHE_DIR) return process.env.WEFT_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "weft");
}

export function runtimeDir(): string {
  const base = process.env.XDG_RUNTIME_DIR;
  if (!base) throw new Error("XDG_RUNTIME_DIR is not set");
  return join(base, "weft");
}
