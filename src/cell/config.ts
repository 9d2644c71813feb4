// etc/cell.toml: what a cell (or one of its services) is granted and how
// much it may use. Absent file = nothing granted, default limits. Every
// problem is reported at once, naming the file and the key.
//
//   [limits]
//   memory_mib = 256      # linear memory (default 512; a service's 64, from its parent's pool)
//   cpu_percent = 100     # share of one CPU (like systemd's CPUQuota=)
//   cpu_s = 10            # CPU time budget of the process and all it spawns (pid0's: the whole cell's)
//   timeout_s = 60        # wall-clock limit
//   max_children = 16     # children alive at once (the whole subtree)
//   children_mib = 256    # memory its children and services take together (default 256; a service's 0)
//
//   [env]                 # environment variables (nothing else is inherited)
//   LANG = "C"
//
//   [[dir]]               # a host directory, seen at `guest`
//   host = "/srv/data"
//   guest = "/data"
//   mode = "ro"           # or "rw"; default "ro"
//   wasi = true           # also a WASI preopen; false: weft:cell only. Unset:
//                         # a preopen for Preview 1 modules (revoked with the
//                         # epoch), not for components (they could not lose it)
//
//   [[net]]               # a list of domains, for weft:cell/net
//   name = "api"
//   domains = ["api.example.com", "*.cdn.example.com"]
//
//   [service]             # for svc/<name>/etc/cell.toml only
//   restart = "on-failure" # "no" (default), "on-failure", "always"
//   max_restarts = 5
//   restart_window_s = 60
//   args = ["--port", "80"] # its arguments after its name
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, posix, sep } from "node:path";
import type { RestartPolicy } from "../appd/manifest.ts";
import { CapError, normaliseDomain } from "./caps.ts";
import { ImageError } from "./layers.ts";

export const CONFIG_FILE = "etc/cell.toml";

export interface DirGrant {
  host: string;
  guest: string;
  readOnly: boolean;
  /**
   * Also a WASI preopen (plain libc file I/O), not only a weft:cell
   * capability; null (unset): for Preview 1 modules only, whose preopens
   * follow the epoch (docs/decisions/0007).
   */
  wasi: boolean | null;
}

export interface CellLimits {
  memoryMib: number;
  cpuPercent: number;
  /** 0 = none. */
  cpuS: number;
  /** 0 = none. */
  timeoutS: number;
  maxChildren: number;
  childrenMib: number;
}

export interface NetGrant {
  name: string;
  domains: string[];
}

export interface CellConfig {
  limits: CellLimits;
  env: [string, string][];
  dirs: DirGrant[];
  net: NetGrant[];
  service: { restart: RestartPolicy; maxRestarts: number; restartWindowS: number; args: string[] };
}

export const DEFAULT_LIMITS: CellLimits = { memoryMib: 512, cpuPercent: 100, cpuS: 0, timeoutS: 0, maxChildren: 16, childrenMib: 256 };

/**
 * A service's defaults: its memory and its children's pool come out of its
 * parent's pool (pid0's `children_mib`), so unless it says otherwise a
 * service takes little and spawns nothing.
 */
export const SERVICE_LIMITS: CellLimits = { ...DEFAULT_LIMITS, memoryMib: 64, childrenMib: 0 };

export function defaultConfig(limits: CellLimits = DEFAULT_LIMITS): CellConfig {
  return { limits: { ...limits }, env: [], dirs: [], net: [], service: { restart: "no", maxRestarts: 5, restartWindowS: 60, args: [] } };
}

const KNOWN: Record<string, string[] | null> = {
  limits: ["memory_mib", "cpu_percent", "cpu_s", "timeout_s", "max_children", "children_mib"],
  env: null, // any key
  dir: ["host", "guest", "mode", "wasi"],
  net: ["name", "domains"],
  service: ["restart", "max_restarts", "restart_window_s", "args"],
};

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses the text of an etc/cell.toml; `file` names it in messages. */
export function parseConfig(text: string, file: string, defaults: CellLimits = DEFAULT_LIMITS): CellConfig {
  let doc: unknown;
  try {
    doc = Bun.TOML.parse(text);
  } catch (e) {
    throw new ImageError(`${file}: not valid TOML (${(e as Error).message})`);
  }
  const cfg = defaultConfig(defaults);
  const problems: string[] = [];
  if (!isTable(doc)) throw new ImageError(`${file}: not a TOML table`);
  for (const [k, v] of Object.entries(doc)) {
    if (!(k in KNOWN)) {
      problems.push(`unknown table [${k}] (known: ${Object.keys(KNOWN).map((t) => `[${t}]`).join(", ")})`);
      continue;
    }
    const tables = k === "dir" || k === "net" ? (Array.isArray(v) ? v : [v]) : [v];
    for (const t of tables) {
      if (!isTable(t)) {
        problems.push(k === "dir" || k === "net" ? `[[${k}]] entries must be tables` : `[${k}] must be a table`);
        continue;
      }
      const known = KNOWN[k];
      if (known) for (const key of Object.keys(t)) if (!known.includes(key)) problems.push(`unknown key [${k}].${key} (known: ${known.join(", ")})`);
    }
  }
  const num = (table: Record<string, unknown>, t: string, key: string, min: number, max: number, integer: boolean): number | undefined => {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(`[${t}].${key} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  if (isTable(doc.limits)) {
    const l = doc.limits;
    cfg.limits.memoryMib = num(l, "limits", "memory_mib", 1, 4096, true) ?? cfg.limits.memoryMib;
    cfg.limits.cpuPercent = num(l, "limits", "cpu_percent", 1, 1000, true) ?? cfg.limits.cpuPercent;
    cfg.limits.cpuS = num(l, "limits", "cpu_s", 0, 86400 * 365, false) ?? cfg.limits.cpuS;
    cfg.limits.timeoutS = num(l, "limits", "timeout_s", 0, 86400 * 365, false) ?? cfg.limits.timeoutS;
    cfg.limits.maxChildren = num(l, "limits", "max_children", 0, 4096, true) ?? cfg.limits.maxChildren;
    cfg.limits.childrenMib = num(l, "limits", "children_mib", 0, 65536, true) ?? cfg.limits.childrenMib;
  }
  if (isTable(doc.env)) {
    for (const [k, v] of Object.entries(doc.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`[env].${k}: not a valid variable name`);
      else if (typeof v !== "string") problems.push(`[env].${k} must be a string, got ${JSON.stringify(v)}`);
      else cfg.env.push([k, v]);
    }
  }
  if (doc.dir !== undefined) {
    for (const [i, d] of (Array.isArray(doc.dir) ? doc.dir : [doc.dir]).entries()) {
      if (!isTable(d)) continue;
      const at = `[[dir]] #${i + 1}`;
      const { host, guest, mode = "ro", wasi = null } = d as { host?: unknown; guest?: unknown; mode?: unknown; wasi?: unknown };
      if (typeof host !== "string" || !isAbsolute(host)) problems.push(`${at}: host must be an absolute path, got ${JSON.stringify(host)}`);
      else {
        let ok = false;
        try {
          ok = statSync(host).isDirectory();
        } catch {}
        if (!ok) problems.push(`${at}: host ${host} is not a directory`);
      }
      if (typeof guest !== "string" || !guest.startsWith("/") || posix.normalize(guest) !== guest || guest === "/")
        problems.push(`${at}: guest must be a normalised absolute path other than "/", got ${JSON.stringify(guest)}`);
      if (mode !== "ro" && mode !== "rw") problems.push(`${at}: mode must be "ro" or "rw", got ${JSON.stringify(mode)}`);
      if (wasi !== null && typeof wasi !== "boolean") problems.push(`${at}: wasi must be true or false, got ${JSON.stringify(wasi)}`);
      if (typeof host === "string" && typeof guest === "string") cfg.dirs.push({ host, guest, readOnly: mode !== "rw", wasi: typeof wasi === "boolean" ? wasi : null });
    }
    const seen = new Set<string>();
    for (const d of cfg.dirs) {
      if (seen.has(d.guest)) problems.push(`[[dir]]: guest path ${d.guest} granted twice`);
      seen.add(d.guest);
    }
  }
  if (doc.net !== undefined) {
    for (const [i, n] of (Array.isArray(doc.net) ? doc.net : [doc.net]).entries()) {
      if (!isTable(n)) continue;
      const at = `[[net]] #${i + 1}`;
      const { name, domains } = n as { name?: unknown; domains?: unknown };
      if (typeof name !== "string" || !/^[a-z0-9][a-z0-9._-]*$/.test(name)) problems.push(`${at}: name must be a-z, 0-9, ".", "_", "-", got ${JSON.stringify(name)}`);
      if (!Array.isArray(domains) || !domains.every((d) => typeof d === "string")) {
        problems.push(`${at}: domains must be a list of strings`);
        continue;
      }
      const list: string[] = [];
      for (const d of domains) {
        try {
          list.push(normaliseDomain(d));
        } catch (e) {
          if (e instanceof CapError) problems.push(`${at}: ${e.message}`);
          else throw e;
        }
      }
      if (typeof name === "string") cfg.net.push({ name, domains: list });
    }
    const names = new Set(cfg.dirs.map((d) => d.guest));
    for (const n of cfg.net) {
      if (names.has(n.name)) problems.push(`[[net]]: capability name ${n.name} used twice`);
      names.add(n.name);
    }
  }
  if (isTable(doc.service)) {
    const s = doc.service;
    if (s.restart !== undefined) {
      if (s.restart === "no" || s.restart === "on-failure" || s.restart === "always") cfg.service.restart = s.restart;
      else problems.push(`[service].restart must be "no", "on-failure" or "always", got ${JSON.stringify(s.restart)}`);
    }
    cfg.service.maxRestarts = num(s, "service", "max_restarts", 0, 1000, true) ?? cfg.service.maxRestarts;
    cfg.service.restartWindowS = num(s, "service", "restart_window_s", 1, 86400, false) ?? cfg.service.restartWindowS;
    if (s.args !== undefined) {
      if (Array.isArray(s.args) && s.args.every((a) => typeof a === "string")) cfg.service.args = s.args as string[];
      else problems.push(`[service].args must be a list of strings, got ${JSON.stringify(s.args)}`);
    }
  }
  if (problems.length) throw new ImageError(problems.map((p) => `${file}: ${p}`).join("\n"));
  return cfg;
}

/**
 * A [[dir]] whose host directory lies inside another [[dir]] granted
 * writable — to any process of the cell (pid0, a service) — is refused: a
 * holder of the writable one could rename it away and put a symlink in its
 * place (WASI lets a guest create one pointing anywhere), and whatever opens
 * the inner grant's path later (weft:cell's fs, a service's next WASI
 * preopens) would follow it out of every grant. Returns the problems, each
 * naming both grants.
 */
export function nestedGrantProblems(configs: { who: string; dirs: DirGrant[]; image?: string }[]): string[] {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p; // (a missing directory is reported where the file is checked)
    }
  };
  const all = configs.flatMap(({ who, dirs }) => dirs.map((d) => ({ who, d, real: real(d.host) })));
  // Each process's own image directory (its "/", handle 0 of spawn-file) is at stake the same way.
  const images = configs.flatMap(({ who, image }) => (image ? [{ who, d: { host: image, guest: "/", readOnly: true, wasi: true }, real: real(image) }] : []));
  const problems: string[] = [];
  for (const w of all) {
    if (w.d.readOnly) continue;
    for (const inner of [...all, ...images])
      if (inner.real.startsWith(w.real === sep ? sep : w.real + sep))
        problems.push(
          `${inner.who}: ${inner.d.guest === "/" ? "the image" : `[[dir]] ${inner.d.guest}`} (${inner.d.host}) lies inside ${w.who}'s writable [[dir]] ${w.d.guest} (${w.d.host}), which could replace it with a symlink leading anywhere; grant it apart, or the outer one read-only`,
        );
  }
  return problems;
}
