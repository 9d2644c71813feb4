// wapp.toml: parsing and every rule of spec §2, plus weft's optional
// [runtime] keys (docs/packages.md). Checks report ALL problems at once, each
// naming the file and the field, so a packager fixes everything in one pass.
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { parseCapability, type Capability } from "./capabilities.ts";
import { walkPackage } from "./signature.ts";

export const MANIFEST_FILE = "wapp.toml";
export const APP_ID_RE = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*){2,}$/;
/** Top-level names a package may not ship: the store puts the app's data there (spec §1). */
export const RESERVED_NAMES = ["data"] as const;

export type RestartPolicy = "no" | "on-failure" | "always";

export interface RuntimeConfig {
  /** Package-relative, `/`-separated, normalised (no `.`/`..`/empty segments). */
  module: string;
  restart: RestartPolicy;
  /** Restarts allowed within `restartWindowS` before the app is marked permanently failed. */
  maxRestarts: number;
  restartWindowS: number;
  memoryMib: number;
  cpuPercent: number;
  readyTimeoutS: number;
  /** The session gets a private writable /state that outlives a weft restart (restored with it). */
  persistState: boolean;
}

export interface Manifest {
  id: string;
  name: string;
  version: string;
  description?: string;
  author?: string;
  /** As written in wapp.toml (net:fetch domains lower-cased). */
  capabilities: string[];
  /** The same, parsed for enforcement. */
  caps: Capability[];
  runtime: RuntimeConfig;
  ui: { entry: string };
}

/** WEFT's systemd scope used MemoryMax=512M and CPUQuota=200%; the rest are weft's choices. */
export const RUNTIME_DEFAULTS: Omit<RuntimeConfig, "module"> = {
  restart: "no",
  maxRestarts: 5,
  restartWindowS: 60,
  memoryMib: 512,
  cpuPercent: 200,
  readyTimeoutS: 30,
  persistState: false,
};

export interface CheckResult {
  /** Present when wapp.toml itself is valid, even if the package has other problems. */
  manifest: Manifest | null;
  problems: string[];
  /** Things that do not stop install (unknown keys, duplicate capabilities). */
  warnings: string[];
}

/** A package that cannot be used; `problems` lists every reason. */
export class PackageError extends Error {
  constructor(
    readonly problems: string[],
    what = "package",
  ) {
    super(problems.length === 1 ? problems[0] : `${what} has ${problems.length} problems:\n  ${problems.join("\n  ")}`);
  }
}

const KNOWN_KEYS: Record<string, string[]> = {
  package: ["id", "name", "version", "description", "author", "capabilities"],
  runtime: ["module", "restart", "max_restarts", "restart_window_s", "memory_mib", "cpu_percent", "ready_timeout_s", "persist_state"],
  ui: ["entry"],
};

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : v instanceof Date ? v.toISOString() : JSON.stringify(v));
const typeName = (v: unknown) => (Array.isArray(v) ? "an array" : v instanceof Date ? "a date" : isTable(v) ? "a table" : `a ${typeof v}`);

/**
 * A path inside the package as wapp.toml names it, normalised; or an Error
 * if it could leave the package (absolute, `..`, backslashes, NUL).
 */
export function packagePath(p: string): string | Error {
  if (p.includes("\0")) return new Error("contains a NUL byte");
  if (p.includes("\\")) return new Error("must use / as the separator, not \\");
  if (p.startsWith("/")) return new Error("must be relative to the package, not absolute");
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) return new Error("must stay inside the package (no ..)");
  if (parts.length === 0) return new Error("is empty");
  return parts.join("/");
}

/** Parses and validates wapp.toml text alone (no file system). */
export function parseManifest(text: string, file = MANIFEST_FILE): CheckResult {
  const { paths: _, ...result } = parseParts(text, file);
  return result;
}

/** parseManifest, plus the module and UI paths whenever they are valid, so their files get checked even when other fields are wrong. */
function parseParts(text: string, file: string): CheckResult & { paths: { module?: string; entry?: string } } {
  const problems: string[] = [];
  const warnings: string[] = [];
  let doc: Record<string, unknown>;
  try {
    doc = Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    return { manifest: null, problems: [`${file}: not valid TOML: ${(err as Error).message.replace(/^TOML Parse error: /, "")}`], warnings, paths: {} };
  }

  const tables: Record<string, Record<string, unknown>> = {};
  for (const t of ["package", "runtime", "ui"]) {
    const v = doc[t];
    if (v === undefined) problems.push(`${file}: missing the [${t}] table`);
    else if (!isTable(v)) problems.push(`${file}: ${t} must be a table ([${t}]), got ${typeName(v)}`);
    tables[t] = isTable(v) ? v : {};
  }
  for (const key of Object.keys(doc)) if (!(key in KNOWN_KEYS)) warnings.push(`${file}: unknown top-level key "${key}" (ignored)`);
  for (const [t, keys] of Object.entries(KNOWN_KEYS))
    for (const key of Object.keys(tables[t])) if (!keys.includes(key)) warnings.push(`${file}: unknown key [${t}].${key} (ignored)`);

  // Each reader records a problem and returns undefined when the value is absent or wrong.
  const str = (t: string, key: string, required: boolean): string | undefined => {
    const v = tables[t][key];
    if (v === undefined) {
      if (required) problems.push(`${file}: [${t}].${key} is required`);
      return undefined;
    }
    if (typeof v !== "string") {
      problems.push(`${file}: [${t}].${key} must be a string, got ${typeName(v)} ${show(v)}`);
      return undefined;
    }
    return v;
  };
  const num = (t: string, key: string, min: number, max: number, integer: boolean): number | undefined => {
    const v = tables[t][key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      problems.push(`${file}: [${t}].${key} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max}, got ${show(v)}`);
      return undefined;
    }
    return v;
  };
  const bool = (t: string, key: string): boolean | undefined => {
    const v = tables[t][key];
    if (v === undefined || typeof v === "boolean") return v;
    problems.push(`${file}: [${t}].${key} must be true or false, got ${show(v)}`);
    return undefined;
  };
  const path = (t: string, key: string): string | undefined => {
    const v = str(t, key, true);
    if (v === undefined) return undefined;
    const p = packagePath(v);
    if (p instanceof Error) {
      problems.push(`${file}: [${t}].${key} ${show(v)} ${p.message}`);
      return undefined;
    }
    return p;
  };

  const id = str("package", "id", true);
  if (id !== undefined && !APP_ID_RE.test(id)) problems.push(`${file}: [package].id ${show(id)} must match ${APP_ID_RE.source}`);
  const name = str("package", "name", true);
  if (name !== undefined) {
    const n = [...name].length;
    if (n < 1 || n > 64) problems.push(`${file}: [package].name must be 1–64 characters, got ${n}`);
    // biome-ignore lint: control characters are exactly what we look for
    else if (/[\u0000-\u001f\u007f]/.test(name)) problems.push(`${file}: [package].name must not contain control characters`);
  }
  const version = str("package", "version", true);
  if (version === "") problems.push(`${file}: [package].version must not be empty`);
  const description = str("package", "description", false);
  if (description !== undefined && [...description].length > 256)
    problems.push(`${file}: [package].description must be at most 256 characters, got ${[...description].length}`);
  const author = str("package", "author", false);

  const capabilities: string[] = [];
  const caps: Capability[] = [];
  const rawCaps = tables.package.capabilities;
  if (rawCaps !== undefined && !Array.isArray(rawCaps))
    problems.push(`${file}: [package].capabilities must be an array of strings, got ${typeName(rawCaps)} ${show(rawCaps)}`);
  for (const [i, c] of (Array.isArray(rawCaps) ? rawCaps : []).entries()) {
    if (typeof c !== "string") {
      problems.push(`${file}: [package].capabilities[${i}] must be a string, got ${typeName(c)} ${show(c)}`);
      continue;
    }
    const cap = parseCapability(c);
    if (cap instanceof Error) {
      problems.push(`${file}: [package].capabilities[${i}] ${cap.message}`);
      continue;
    }
    const canonical = c.startsWith("net:fetch:") ? c.toLowerCase() : c;
    if (capabilities.includes(canonical)) warnings.push(`${file}: [package].capabilities lists "${c}" twice`);
    else capabilities.push(canonical), caps.push(cap);
  }

  const module = path("runtime", "module");
  const restartRaw = str("runtime", "restart", false);
  let restart: RestartPolicy = RUNTIME_DEFAULTS.restart;
  if (restartRaw !== undefined) {
    if (restartRaw === "no" || restartRaw === "on-failure" || restartRaw === "always") restart = restartRaw;
    else problems.push(`${file}: [runtime].restart must be "no", "on-failure" or "always", got ${show(restartRaw)}`);
  }
  const runtimeRest = {
    maxRestarts: num("runtime", "max_restarts", 0, 1000, true) ?? RUNTIME_DEFAULTS.maxRestarts,
    restartWindowS: num("runtime", "restart_window_s", 1, 86400, false) ?? RUNTIME_DEFAULTS.restartWindowS,
    // wasm32 linear memory cannot exceed 4 GiB.
    memoryMib: num("runtime", "memory_mib", 1, 4096, true) ?? RUNTIME_DEFAULTS.memoryMib,
    cpuPercent: num("runtime", "cpu_percent", 1, 1000, true) ?? RUNTIME_DEFAULTS.cpuPercent,
    readyTimeoutS: num("runtime", "ready_timeout_s", 1, 600, false) ?? RUNTIME_DEFAULTS.readyTimeoutS,
    persistState: bool("runtime", "persist_state") ?? RUNTIME_DEFAULTS.persistState,
  };
  const entry = path("ui", "entry");

  if (problems.length > 0 || id === undefined || name === undefined || version === undefined || module === undefined || entry === undefined)
    return { manifest: null, problems, warnings, paths: { module, entry } };
  const manifest: Manifest = {
    id,
    name,
    version,
    ...(description !== undefined && { description }),
    ...(author !== undefined && { author }),
    capabilities,
    caps,
    runtime: { module, restart, ...runtimeRest },
    ui: { entry },
  };
  return { manifest, problems, warnings, paths: { module, entry } };
}

export const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d] as const;

/** "module" (core, version 1), "component" (layer 1) or null when the bytes are not wasm. */
export function wasmFlavour(head: Uint8Array): "module" | "component" | null {
  if (head.length < 4 || !WASM_MAGIC.every((b, i) => head[i] === b)) return null;
  return head[6] === 0x01 && head[7] === 0x00 ? "component" : "module";
}

/** Why the file at `rel` (already a normalised package path) is not a regular file, or null. */
async function regularFileProblem(dir: string, rel: string): Promise<string | null> {
  const st = await lstat(join(dir, rel)).catch(() => null);
  if (!st) return "no such file in the package";
  if (st.isSymbolicLink()) return "is a symlink (packages may not contain symlinks)";
  if (!st.isFile()) return "is not a regular file";
  return null;
}

/**
 * Checks a package directory: wapp.toml, the files it names, and the
 * package's files as a whole (no symlinks or special files, nothing in the
 * reserved names). `exclude` skips top-level names (the store passes
 * ["data"] for an installed app, whose data lives there). Never throws for a
 * bad package; reads only.
 */
export async function checkPackage(dir: string, opts: { exclude?: readonly string[] } = {}): Promise<CheckResult> {
  const st = await lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return { manifest: null, problems: [`${dir}: not a directory`], warnings: [] };
  const manifestPath = join(dir, MANIFEST_FILE);
  const mp = await regularFileProblem(dir, MANIFEST_FILE);
  if (mp) return { manifest: null, problems: [`${MANIFEST_FILE}: ${mp === "no such file in the package" ? "missing (every package needs one)" : mp}`], warnings: [] };
  const result = parseParts(await Bun.file(manifestPath).text(), MANIFEST_FILE);
  const { manifest, problems, paths } = result;

  const walk = await walkPackage(dir, opts.exclude);
  problems.push(...walk.problems);
  for (const name of RESERVED_NAMES.filter((n) => !opts.exclude?.includes(n)))
    if (walk.files.some((f) => f === name || f.startsWith(`${name}/`)) || walk.dirs.includes(name))
      problems.push(`${name}: reserved for the app's own data (spec §1); a package may not ship it`);

  if (paths.module !== undefined) {
    const mod = await regularFileProblem(dir, paths.module);
    if (mod) problems.push(`${MANIFEST_FILE}: [runtime].module "${paths.module}": ${mod}`);
    else {
      const head = new Uint8Array(await Bun.file(join(dir, paths.module)).slice(0, 8).arrayBuffer());
      if (!wasmFlavour(head)) problems.push(`${paths.module}: not a WebAssembly file (does not start with the magic bytes 00 61 73 6d)`);
    }
  }
  if (paths.entry !== undefined) {
    const ui = await regularFileProblem(dir, paths.entry);
    if (ui) problems.push(`${MANIFEST_FILE}: [ui].entry "${paths.entry}": ${ui}`);
  }
  return { manifest, problems, warnings: result.warnings };
}

/** The package's manifest, or a PackageError listing every problem. */
export async function loadManifest(dir: string): Promise<Manifest> {
  const r = await checkPackage(dir);
  if (!r.manifest || r.problems.length) throw new PackageError(r.problems);
  return r.manifest;
}
