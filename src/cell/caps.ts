// Capabilities of a cell's processes (weft:cell, wit/weft-cell.wit).
//
// A grant is what a capability lets its holder do: a host directory (maybe
// read-only) or a list of network domains. A process holds grants by name:
// pid0 those its etc/cell.toml gives, a child what its parent passed at
// spawn, attenuated — never more than the parent holds: read-only stays
// read-only, a directory can only narrow to a subdirectory, a domain list
// can only shrink. The host checks all of it; a guest only names handles.
//
// Revocation by epoch: a handle is issued in the cell's current epoch.
// Advancing the epoch (the API/CLI, or applying a layer) makes every older
// handle fail with `stale epoch` at its next use. The process keeps running
// and acquires fresh handles by name; those are derived again from the
// current configuration (a child's from its parent's current grant), so a
// grant a new layer removed is gone for the whole subtree.
import { realpathSync, statSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

export type Grant =
  /**
   * `host` is the configured directory; `sub` (a narrowed grant's) a
   * symlink-free path inside it, opened beneath it at every use (beneath.ts).
   */
  | { kind: "dir"; host: string; sub?: string; readOnly: boolean }
  | { kind: "net"; domains: string[] };

export class CapError extends Error {}

/** What a parent asks for one capability it passes to a child. */
export interface Attenuation {
  readOnly?: boolean;
  /** A relative path inside the directory ("" = all of it). */
  subdir?: string;
  /** A subset of the parent's domains (undefined = the same list). */
  domains?: string[];
}

/** `a.example.com` is covered by `a.example.com` and by `*.example.com`. */
export function domainCovered(domain: string, list: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return list.some((p) => p === d || (p.startsWith("*.") && (d.endsWith(p.slice(1)) || (d.startsWith("*.") && d.endsWith(p.slice(1))))));
}

export function normaliseDomain(d: string): string {
  const s = d.trim().toLowerCase();
  if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(s) && s !== "localhost")
    throw new CapError(`"${d}" is not a domain name (a.b.c or *.b.c)`);
  return s;
}

/** Is `child` (a real path) inside `parent` (a real path)? */
const within = (parent: string, child: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/**
 * The grant a child gets from `parent` with `a` applied; throws CapError when
 * `a` would widen it. `name` is for messages.
 */
export function attenuate(parent: Grant, a: Attenuation, name: string): Grant {
  if (parent.kind === "dir") {
    if (a.domains !== undefined) throw new CapError(`${name} is a directory; it has no domains to narrow`);
    if (parent.readOnly && a.readOnly === false) throw new CapError(`cannot widen ${name}: it is read-only`);
    let sub = parent.sub;
    if (a.subdir) {
      const n = posix.normalize(a.subdir);
      if (n.startsWith("/") || n === ".." || n.startsWith("../")) throw new CapError(`cannot widen ${name}: subdir "${a.subdir}" is not inside it`);
      let hostReal: string, real: string;
      try {
        hostReal = realpathSync(parent.host);
        real = realpathSync(join(hostReal, parent.sub ?? "", n));
      } catch {
        throw new CapError(`${name}: no directory "${a.subdir}" in it`);
      }
      // A symlink inside the directory must not lead a child out of it.
      if (!within(join(hostReal, parent.sub ?? ""), real)) throw new CapError(`cannot widen ${name}: "${a.subdir}" leads outside it`);
      if (!statSync(real).isDirectory()) throw new CapError(`${name}: "${a.subdir}" is not a directory`);
      // Kept relative to the configured directory and free of symlinks: every use opens it
      // beneath that directory refusing symlinks, so swapping it later cannot move it.
      sub = relative(hostReal, real) || undefined;
    }
    return { kind: "dir", host: parent.host, ...(sub ? { sub } : {}), readOnly: parent.readOnly || a.readOnly === true };
  }
  if (a.subdir) throw new CapError(`${name} is a domain list; it has no subdirectories`);
  // read-only means nothing for a domain list: ignored.
  if (a.domains === undefined) return { kind: "net", domains: [...parent.domains] };
  const domains = a.domains.map(normaliseDomain);
  for (const d of domains) if (!domainCovered(d, parent.domains)) throw new CapError(`cannot widen ${name}: ${d} is not among its domains (${parent.domains.join(", ") || "none"})`);
  return { kind: "net", domains };
}

/** Where a process's grant `name` comes from, so it can be derived again after a revocation. */
export type Source = { from: "config"; grant: Grant } | { from: "parent"; parent: CapHolder; name: string; attenuation: Attenuation };

/** A process as far as capabilities go: its named grants and the handles it was issued. */
export class CapHolder {
  private readonly sources = new Map<string, Source>();
  private readonly handles = new Map<number, { name: string; epoch: number; grant: Grant }>();
  private nextHandle = 1;

  constructor(
    /** The cell's epoch, read at every issue and use. */
    private readonly epoch: () => number,
    readonly label: string,
  ) {}

  /** pid0's grants, replaced when a new layer changes etc/cell.toml. */
  setConfigGrants(grants: Map<string, Grant>): void {
    for (const [n, s] of this.sources) if (s.from === "config") this.sources.delete(n);
    for (const [n, g] of grants) this.sources.set(n, { from: "config", grant: g });
  }

  names(): string[] {
    return [...this.sources.keys()].sort();
  }

  /** The grant `name` as it stands now (derived again through every parent). */
  current(name: string): Grant {
    const s = this.sources.get(name);
    if (!s) throw new CapError(`${this.label} holds no capability named "${name}"`);
    if (s.from === "config") return s.grant;
    let parent: Grant;
    try {
      parent = s.parent.current(s.name);
    } catch (e) {
      throw new CapError(`"${name}" was revoked: ${(e as Error).message}`);
    }
    return attenuate(parent, s.attenuation, `"${name}"`);
  }

  /** A handle to `name` in the current epoch. */
  acquire(name: string): number {
    const grant = this.current(name);
    const h = this.nextHandle++;
    this.handles.set(h, { name, epoch: this.epoch(), grant });
    return h;
  }

  /** The grant behind `handle`; throws `stale epoch` for a handle of an older epoch. */
  use(handle: number, kind: Grant["kind"]): Grant & { name: string } {
    const h = this.handles.get(handle);
    if (!h) throw new CapError(`no capability handle ${handle}`);
    const now = this.epoch();
    if (h.epoch !== now) throw new CapError(`stale epoch: capability handle ${handle} ("${h.name}") was issued in epoch ${h.epoch}; the cell is in epoch ${now} (acquire it again)`);
    if (h.grant.kind !== kind) throw new CapError(`capability handle ${handle} ("${h.name}") is a ${h.grant.kind === "dir" ? "directory" : "domain list"}, not a ${kind === "dir" ? "directory" : "domain list"}`);
    return { ...h.grant, name: h.name };
  }

  /**
   * Gives `child` the capability behind `handle` as `childName`, attenuated.
   * Checked now (a stale handle or a widening fails the spawn) and again at
   * every acquire in the child.
   */
  delegate(handle: number, child: CapHolder, childName: string, a: Attenuation): void {
    const h = this.handles.get(handle);
    if (!h) throw new CapError(`no capability handle ${handle}`);
    this.use(handle, h.grant.kind); // stale epoch?
    if (child.sources.has(childName)) throw new CapError(`the child already gets a capability named "${childName}"`);
    attenuate(h.grant, a, `"${h.name}"`);
    child.sources.set(childName, { from: "parent", parent: this, name: h.name, attenuation: a });
  }

  /** Drops every handle (a process that ended). */
  clear(): void {
    this.handles.clear();
  }
}

/** Grants from etc/cell.toml: each [[dir]] by its guest path, each [[net]] by its name. */
export function configGrants(cfg: { dirs: { host: string; guest: string; readOnly: boolean }[]; net: { name: string; domains: string[] }[] }): Map<string, Grant> {
  const out = new Map<string, Grant>();
  for (const d of cfg.dirs) out.set(d.guest, { kind: "dir", host: d.host, readOnly: d.readOnly });
  for (const n of cfg.net) out.set(n.name, { kind: "net", domains: n.domains });
  return out;
}
