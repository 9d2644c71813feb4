// A running cell: pid0 (the image's bin/main.wasm) with the merged tree
// read-only at `/`, the caller's stdio and only what etc/cell.toml grants;
// then each svc/<name>/ as a supervised background session (the same
// sessions `weft ps` lists and `weft stop` ends). When pid0 ends the cell
// ends: services are stopped and pid0's status is the cell's.
import type { Manifest } from "../appd/manifest.ts";
import type { Session, SessionManager } from "../appd/sessions.ts";
import type { Component, Module } from "../../ffi/wasmtime.ts";
import { loadWasmAsync, wasmKind } from "../runtime/cache.ts";
import type { ExitStatus } from "../runtime/exit.ts";
import { Guest, type OutputMode, type Preopen } from "../runtime/guest.ts";
import { cpuPools } from "../../ffi/native.ts";
import { log } from "../system/log.ts";
import { configGrants } from "./caps.ts";
import { CONFIG_FILE, nestedGrantProblems, parseConfig, type CellConfig } from "./config.ts";
import "./host.ts"; // weft:cell's host functions, registered before any guest is linked
import { BudgetError, ImageError, mergeLayers, mergeOnto } from "./layers.ts";
import { MAIN, type Image, type ImageNode } from "./image.ts";
import { CellProcess, type CellLike } from "./procs.ts";
import { lstat } from "node:fs/promises";
import { join } from "node:path";

export interface CellOptions {
  /** pid0's arguments after its name. */
  args?: string[];
  stdin?: "inherit" | "none";
  stdout?: OutputMode;
  stderr?: OutputMode;
  onOutput?: (stream: "stdout" | "stderr", bytes: Uint8Array) => void;
  /** Where services run; without one the image's services are not started. */
  sessions?: SessionManager;
}

/**
 * The [[dir]]s a node's main gets as WASI preopens: those with `wasi = true`,
 * and with `wasi` unset only for a Preview 1 module — its preopens are
 * revoked with the epoch, a component's could not be (docs/decisions/0007),
 * so a component reaches an unmarked [[dir]] through weft:cell only.
 */
function wasiDirs(node: ImageNode): CellConfig["dirs"] {
  const component = wasmKind(node.wasm) === "component";
  return node.config.dirs.filter((d) => d.wasi === true || (d.wasi === null && !component));
}

/**
 * The preopens a node's config grants: its own tree read-only at `/` (the
 * image, not a grant: never revoked), then its WASI [[dir]]s (wasiDirs),
 * revoked with the epoch (Preview 1 modules: docs/decisions/0007).
 */
export function preopensOf(node: ImageNode): Preopen[] {
  return [{ host: node.root, guest: "/", readOnly: true }, ...wasiDirs(node).map((d) => ({ host: d.host, guest: d.guest, readOnly: d.readOnly, revocable: true }))];
}

function limitsOf(c: CellConfig) {
  return {
    memoryBytes: c.limits.memoryMib * 1048576,
    cpuPercent: c.limits.cpuPercent,
    cpuMs: c.limits.cpuS * 1000,
    timeoutMs: c.limits.timeoutS * 1000,
  };
}

/** A service as the session manager sees an app: its restart policy and limits from its own etc/. */
function serviceManifest(node: ImageNode): Manifest {
  const c = node.config;
  return {
    id: node.path,
    name: node.path,
    version: "0",
    capabilities: [],
    caps: [],
    runtime: {
      module: `/${MAIN}`,
      restart: c.service.restart,
      maxRestarts: c.service.maxRestarts,
      restartWindowS: c.service.restartWindowS,
      memoryMib: c.limits.memoryMib,
      cpuPercent: c.limits.cpuPercent,
      readyTimeoutS: 30,
      persistState: false,
    },
    ui: { entry: "" },
  };
}

/**
 * Compiles every wasm of the image off the loop; names the one that fails.
 * The compiled code is handed on, not looked up again: the in-memory cache
 * keeps only the most recent entries, and a miss later would compile on the loop.
 */
async function compileAll(image: Image): Promise<Map<ImageNode, Module | Component>> {
  const compiled = new Map<ImageNode, Module | Component>();
  for (const node of [image, ...image.services]) {
    try {
      compiled.set(node, await loadWasmAsync(node.wasm));
    } catch (e) {
      const where = node.path ? `${node.path}/${MAIN}` : MAIN;
      throw new ImageError(`${where}: invalid: ${(e as Error).message.replace(/^compile: /, "").split("\n")[0]}`);
    }
  }
  return compiled;
}

export class Cell implements CellLike {
  readonly services: Session[] = [];
  private readonly serviceProcs: CellProcess[] = [];
  readonly exited: Promise<ExitStatus>;
  /** weft:cell handles are issued in this epoch; advancing it makes older ones stale. */
  epoch = 1;
  maxChildren: number;
  liveChildren = 0;
  /** pid0 as weft:cell sees it: its grants, its children. */
  readonly root: CellProcess;
  private pid0Guest: Guest | null = null;

  /** Accounts every guest of the cell (no limit of its own); pid0's budget is a child of it. */
  private readonly cellPool = cpuPools.create(null, 0);
  private finalCpuMs: number | null = null;

  private constructor(readonly image: Image) {
    const c = image.config;
    this.maxChildren = c.limits.maxChildren;
    // pid0's budget ([limits].cpu_s) covers pid0, its children and the services.
    this.root = new CellProcess(this, "pid0", null, c.limits.childrenMib, c.limits.cpuPercent, cpuPools.create(this.cellPool, c.limits.cpuS * 1e9));
    this.root.caps.setConfigGrants(configGrants(c));
    this.root.imageRoot = image.root;
    let ended!: (s: ExitStatus) => void;
    this.exited = new Promise<ExitStatus>((r) => (ended = r)).then(async (status) => {
      await Promise.all(this.services.map((s) => s.terminate()));
      await Promise.all(this.serviceProcs.map((p) => p.stopTree()));
      await this.root.stopTree();
      this.finalCpuMs = cpuPools.usedNs(this.cellPool) / 1e6;
      cpuPools.release(this.cellPool);
      return status;
    });
    this.markEnded = ended;
  }

  /** CPU time (ms) every guest of the cell used so far (pid0, children, services), from their threads' CPU clocks. */
  get cpuUsedMs(): number {
    return this.finalCpuMs ?? cpuPools.usedNs(this.cellPool) / 1e6;
  }
  private markEnded: (s: ExitStatus) => void;

  get pid0(): Guest {
    return this.pid0Guest!;
  }

  /**
   * Makes every weft:cell handle issued so far stale (`weft cell revoke`),
   * and the [[dir]] WASI preopens of pid0 and of the services' current runs
   * (Preview 1 modules; a service's next run gets fresh ones). A component
   * keeps its WASI directories until it ends (docs/decisions/0007): weft's
   * log says so. Returns the new epoch.
   */
  advanceEpoch(): number {
    const from = this.epoch++;
    const running: [string, Guest | null, ImageNode][] = [
      ["pid0", this.pid0Guest, this.image],
      ...this.services.map((s, i) => [s.appId, s.alive ? s.guest : null, this.image.services[i]] as [string, Guest | null, ImageNode]),
    ];
    for (const [who, guest, node] of running) {
      const dirs = wasiDirs(node).map((d) => d.guest);
      if (!guest?.running || !dirs.length) continue;
      if (guest.revokeDirs()) log.info(`cell: epoch ${from} → ${this.epoch}: ${who}'s WASI directories ${dirs.join(", ")} are revoked (its file calls on them fail with ENOTCAPABLE)`);
      else
        log.warn(
          `cell: epoch ${from} → ${this.epoch}: ${who} is a component and keeps the WASI directories its etc/ marks wasi = true (${dirs.join(", ")}) until it ends (docs/decisions/0007; leave wasi unset to reach them through weft:cell only)`,
        );
    }
    return this.epoch;
  }

  /**
   * Merges one more layer over the running image (later wins, no deletions),
   * reads etc/cell.toml again (pid0's grants, max_children) and advances the
   * epoch, so every capability is re-derived from the new configuration.
   * pid0's WASI view (the tree at /) sees the new files; its WASI [[dir]]
   * preopens and limits were fixed at start and stay.
   */
  async applyLayer(layer: string): Promise<number> {
    if (this.image.tree.inPlace)
      throw new ImageError(`the image runs in place from ${this.image.tree.root}; applying a layer would write into it (start the cell from an archive or from two layers)`);
    const add = await mergeLayers([layer]);
    let cfg: CellConfig | null = null;
    try {
      // A layer's etc/cell.toml replaces the running one whole (later wins): check it before changing anything.
      const cfgFile = join(add.root, CONFIG_FILE);
      if (await lstat(cfgFile).catch(() => null)) cfg = parseConfig(await Bun.file(cfgFile).text(), `${layer}: ${CONFIG_FILE}`);
      if (cfg) {
        const nested = nestedGrantProblems([
          { who: `${layer}: ${CONFIG_FILE}`, dirs: cfg.dirs, image: this.image.root },
          ...this.image.services.map((n) => ({ who: `${n.path}/${CONFIG_FILE}`, dirs: n.config.dirs, image: n.root })),
        ]);
        if (nested.length) throw new ImageError(nested.join("\n"));
      }
      await mergeOnto(add.root, this.image.tree.root, this.image.tree.layers.length + 1, layer);
    } finally {
      await add.cleanup();
    }
    this.image.tree.layers.push({ given: layer, path: layer, kind: add.layers[0].kind });
    if (cfg) {
      this.root.caps.setConfigGrants(configGrants(cfg));
      this.maxChildren = cfg.limits.maxChildren;
    }
    return this.advanceEpoch();
  }

  /**
   * Each service's process record, its memory (memory_mib + children_mib)
   * taken out of its parent's pool — pid0's `children_mib` for svc/<name>,
   * the enclosing service's for a nested one — for the cell's whole life, and
   * its CPU budget a child of its parent's. Throws ImageError naming the
   * service when a pool cannot hold it: the cell does not start.
   */
  private reserveServices(): void {
    const byPath = new Map<string, CellProcess>([["", this.root]]);
    for (const node of this.image.services) {
      const parentPath = node.path.replace(/\/?svc\/[^/]+$/, "");
      const parent = byPath.get(parentPath)!;
      const c = node.config.limits;
      const want = c.memoryMib + c.childrenMib;
      const free = parent.poolMib - parent.poolUsedMib;
      if (want > free)
        throw new BudgetError(
          `${node.path}: memory budget: the service asks ${c.memoryMib} MiB ([limits].memory_mib) + ${c.childrenMib} MiB ([limits].children_mib); ${parent.label} has ${free} of ${parent.poolMib} MiB left ([limits].children_mib of ${parentPath ? `${parentPath}/` : ""}${CONFIG_FILE})`,
        );
      parent.poolUsedMib += want;
      const proc = new CellProcess(this, node.path, parent, c.childrenMib, c.cpuPercent, cpuPools.create(parent.cpuPool, c.cpuS * 1e9));
      proc.caps.setConfigGrants(configGrants(node.config));
      proc.imageRoot = node.root;
      byPath.set(node.path, proc);
      this.serviceProcs.push(proc);
    }
  }

  /** Compiles the image's wasm, starts pid0, then the services. Throws ImageError for a bad image. */
  static async start(image: Image, opts: CellOptions = {}): Promise<Cell> {
    const compiled = await compileAll(image);
    const cell = new Cell(image);
    if (opts.sessions) {
      try {
        cell.reserveServices();
      } catch (e) {
        for (const p of cell.serviceProcs) p.end();
        cell.root.end();
        cpuPools.release(cell.cellPool);
        throw e;
      }
    }
    const pid0 = new Guest(compiled.get(image)!, {
      argv: [`/${MAIN}`, ...(opts.args ?? [])],
      env: image.config.env,
      preopens: preopensOf(image),
      stdin: opts.stdin ?? "inherit",
      stdout: opts.stdout ?? "inherit",
      stderr: opts.stderr ?? "inherit",
      onOutput: opts.onOutput,
      context: { cell: cell.root },
      cpuPool: cell.root.cpuPool,
      ...limitsOf(image.config),
    });
    cell.pid0Guest = pid0;
    pid0.exited.then((st) => cell.markEnded(st));
    if (opts.sessions && pid0.running) {
      for (const node of image.services) {
        const l = limitsOf(node.config);
        const proc = cell.serviceProcs[image.services.indexOf(node)];
        const session = opts.sessions.startSession(node.path, serviceManifest(node), compiled.get(node)!, preopensOf(node), {
          argv: [`/${MAIN}`, ...node.config.service.args],
          env: node.config.env,
          readyOnStart: true,
          quiet: true,
          timeoutMs: l.timeoutMs,
          cpuMs: l.cpuMs,
          cpuPool: proc.cpuPool,
          context: { cell: proc },
        });
        // Its children do not outlive a run of it (a restart starts with none, and a fresh cpu_s).
        const off = opts.sessions.on((e) => {
          if (e.session !== session || e.type !== "state" || session.state === "running") return;
          proc.killChildren();
          if (!proc.ended) cpuPools.reset(proc.cpuPool);
          if (session.state === "stopped") off();
        });
        cell.services.push(session);
      }
    }
    return cell;
  }

  /** Stops pid0 (and so the cell). */
  stop(): void {
    this.pid0.stop();
  }
}
