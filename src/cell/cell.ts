// A running cell: pid0 (the image's bin/main.wasm) with the merged tree
// read-only at `/`, the caller's stdio and only what etc/cell.toml grants;
// then each svc/<name>/ as a supervised background session (the same
// sessions `weft ps` lists and `weft stop` ends). When pid0 ends the cell
// ends: services are stopped and pid0's status is the cell's.
import type { Manifest } from "../appd/manifest.ts";
import type { Session, SessionManager } from "../appd/sessions.ts";
import { loadWasm, loadWasmAsync } from "../runtime/cache.ts";
import type { ExitStatus } from "../runtime/exit.ts";
import { Guest, type OutputMode, type Preopen } from "../runtime/guest.ts";
import { configGrants } from "./caps.ts";
import { CONFIG_FILE, parseConfig, type CellConfig } from "./config.ts";
import "./host.ts"; // weft:cell's host functions, registered before any guest is linked
import { ImageError, mergeLayers, mergeOnto } from "./layers.ts";
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

/** The preopens a node's config grants: its own tree read-only at `/`, then its [[dir]]s. */
export function preopensOf(node: ImageNode): Preopen[] {
  return [{ host: node.root, guest: "/", readOnly: true }, ...node.config.dirs.map((d) => ({ host: d.host, guest: d.guest, readOnly: d.readOnly }))];
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

/** Compiles every wasm of the image off the loop; names the one that fails. */
async function compileAll(image: Image): Promise<void> {
  for (const node of [image, ...image.services]) {
    try {
      await loadWasmAsync(node.wasm);
    } catch (e) {
      const where = node.path ? `${node.path}/${MAIN}` : MAIN;
      throw new ImageError(`${where}: invalid: ${(e as Error).message.replace(/^compile: /, "").split("\n")[0]}`);
    }
  }
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

  private constructor(readonly image: Image) {
    const c = image.config;
    this.maxChildren = c.limits.maxChildren;
    this.root = new CellProcess(this, "pid0", null, c.limits.childrenMib, c.limits.cpuPercent);
    this.root.caps.setConfigGrants(configGrants(c));
    let ended!: (s: ExitStatus) => void;
    this.exited = new Promise<ExitStatus>((r) => (ended = r)).then(async (status) => {
      await this.root.stopTree();
      await Promise.all(this.services.map((s) => s.terminate()));
      await Promise.all(this.serviceProcs.map((p) => p.stopTree()));
      return status;
    });
    this.markEnded = ended;
  }
  private markEnded: (s: ExitStatus) => void;

  get pid0(): Guest {
    return this.pid0Guest!;
  }

  /** Makes every weft:cell handle issued so far stale (`weft cell revoke`). Returns the new epoch. */
  advanceEpoch(): number {
    return ++this.epoch;
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

  /** Compiles the image's wasm, starts pid0, then the services. Throws ImageError for a bad image. */
  static async start(image: Image, opts: CellOptions = {}): Promise<Cell> {
    await compileAll(image);
    const cell = new Cell(image);
    const pid0 = new Guest(await loadWasmAsync(image.wasm), {
      argv: [`/${MAIN}`, ...(opts.args ?? [])],
      env: image.config.env,
      preopens: preopensOf(image),
      stdin: opts.stdin ?? "inherit",
      stdout: opts.stdout ?? "inherit",
      stderr: opts.stderr ?? "inherit",
      onOutput: opts.onOutput,
      context: { cell: cell.root },
      ...limitsOf(image.config),
    });
    cell.pid0Guest = pid0;
    pid0.exited.then((st) => cell.markEnded(st));
    if (opts.sessions && pid0.running) {
      for (const node of image.services) {
        const l = limitsOf(node.config);
        // A service holds its own etc/ grants through weft:cell (one process record across restarts).
        const proc = new CellProcess(cell, node.path, null, node.config.limits.childrenMib, node.config.limits.cpuPercent);
        proc.caps.setConfigGrants(configGrants(node.config));
        cell.serviceProcs.push(proc);
        const session = opts.sessions.startSession(node.path, serviceManifest(node), loadWasm(node.wasm) /* compiled by compileAll */, preopensOf(node), {
          argv: [`/${MAIN}`, ...node.config.service.args],
          env: node.config.env,
          readyOnStart: true,
          quiet: true,
          timeoutMs: l.timeoutMs,
          cpuMs: l.cpuMs,
          context: { cell: proc },
        });
        // Its children do not outlive a run of it (a restart starts with none).
        const off = opts.sessions.on((e) => {
          if (e.session !== session || e.type !== "state" || session.state === "running") return;
          proc.killChildren();
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
