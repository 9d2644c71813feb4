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
import type { CellConfig } from "./config.ts";
import { ImageError } from "./layers.ts";
import { MAIN, type Image, type ImageNode } from "./image.ts";

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

export class Cell {
  readonly services: Session[] = [];
  readonly exited: Promise<ExitStatus>;
  private constructor(
    readonly image: Image,
    readonly pid0: Guest,
  ) {
    this.exited = pid0.exited.then(async (status) => {
      await Promise.all(this.services.map((s) => s.terminate()));
      return status;
    });
  }

  /** Compiles the image's wasm, starts pid0, then the services. Throws ImageError for a bad image. */
  static async start(image: Image, opts: CellOptions = {}): Promise<Cell> {
    await compileAll(image);
    const pid0 = new Guest(await loadWasmAsync(image.wasm), {
      argv: [`/${MAIN}`, ...(opts.args ?? [])],
      env: image.config.env,
      preopens: preopensOf(image),
      stdin: opts.stdin ?? "inherit",
      stdout: opts.stdout ?? "inherit",
      stderr: opts.stderr ?? "inherit",
      onOutput: opts.onOutput,
      ...limitsOf(image.config),
    });
    const cell = new Cell(image, pid0);
    if (opts.sessions && pid0.running) {
      for (const node of image.services) {
        const l = limitsOf(node.config);
        cell.services.push(
          opts.sessions.startSession(node.path, serviceManifest(node), loadWasm(node.wasm) /* compiled by compileAll */, preopensOf(node), {
            argv: [`/${MAIN}`, ...node.config.service.args],
            env: node.config.env,
            readyOnStart: true,
            quiet: true,
            timeoutMs: l.timeoutMs,
            cpuMs: l.cpuMs,
          }),
        );
      }
    }
    return cell;
  }

  /** Stops pid0 (and so the cell). */
  stop(): void {
    this.pid0.stop();
  }
}
