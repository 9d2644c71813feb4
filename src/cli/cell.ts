// `weft cell run LAYER...`: run a cell image (docs/cells.md). `weft run` stays
// the desktop entry; cells get their own command so neither reads ambiguous.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describeExit, EXIT_CODES, exitCode } from "../runtime/exit.ts";
import { UsageError, type Command } from "./command.ts";

const help = `Usage: weft cell run [OPTIONS] LAYER... [-- ARGS...]
       weft cell revoke [--socket PATH]
       weft cell apply [--socket PATH] LAYER

Run a cell image in-process. Each LAYER is a directory or a .tar / .tar.zst
archive; they are merged per file in order (a later layer replaces a file,
directories merge, nothing is deleted). A single directory is used in place.
The merged image's bin/main.wasm (a WASI Preview 1 command module or a WASI
0.2 component) runs as pid0 with this terminal's stdio, the merged tree
read-only at /, ARGS as its arguments and nothing else unless the image's
etc/cell.toml grants it (host directories, environment, limits). Each
svc/<name>/ in the image (a nested image) then runs as a background
service: no terminal, output kept for \`weft logs\`, restarted as its own
etc/cell.toml says, listed by \`weft ps\` and stopped by \`weft stop\`. When
pid0 ends, the services are stopped and weft exits with pid0's status.

While it runs, the cell serves the appd API on a Unix socket (services are
its sessions: \`weft ps\`, \`weft logs\`, \`weft stop\`), and two controls:

  revoke       Advance the cell's epoch: every weft:cell capability handle
               issued so far fails with "stale epoch" at its next use, and so
               do the [[dir]] WASI directories of Preview 1 processes
               (ENOTCAPABLE; a component only has those its etc/ marks
               wasi = true, and keeps them: docs/decisions/0007);
               the processes keep running and acquire fresh handles. Prints
               the epoch.
  apply LAYER  Merge LAYER over the running image (a later layer wins, no
               deletions; not for a single directory run in place), read
               etc/cell.toml again and advance the epoch.

Options:
  --socket PATH  The cell's appd socket. Default: WEFT_APPD_SOCKET, else
                 $XDG_RUNTIME_DIR/weft/appd.sock; \`weft cell run\` uses
                 $XDG_RUNTIME_DIR/weft/cell-<pid>.sock instead when a running
                 weft already serves that (and says so on stderr).
  -h, --help     Show this help.

Exit status:
  pid0's own exit code, or
  ${EXIT_CODES.usage}    bad command line
  1    the image is invalid (bad layer, no bin/main.wasm, bad etc/cell.toml,
       a service that does not fit in its parent's [limits].children_mib)
  ${EXIT_CODES.cannotLoad}  bin/main.wasm is not a valid WASI command
  ${EXIT_CODES.trap}  pid0 trapped
  ${EXIT_CODES.outOfMemory}  pid0 ran out of memory ([limits].memory_mib)
  ${EXIT_CODES.timeout}  [limits].timeout_s reached
  ${EXIT_CODES.cpuLimit}  [limits].cpu_s reached (the cell's: pid0, children and services)
  ${EXIT_CODES.stopped}  stopped (SIGINT/SIGTERM)

Examples:
  weft cell run ./base ./app.tar.zst -- --verbose
  WEFT_APPD_SOCKET=/tmp/c.sock weft cell run ./img   # then: weft ps
`;

export interface CellArgs {
  sub: "run" | "revoke" | "apply";
  layers: string[];
  args: string[];
  socket?: string;
}

const SUBS = ["run", "revoke", "apply"] as const;

export function parseCellArgs(argv: string[]): CellArgs | "help" {
  if (argv.length === 0) throw new UsageError("missing subcommand (weft cell run LAYER...)");
  const [sub, ...rest] = argv;
  if (sub === "-h" || sub === "--help" || sub === "help") return "help";
  if (!(SUBS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand '${sub}' (known: ${SUBS.join(", ")})`);
  const out: CellArgs = { sub: sub as CellArgs["sub"], layers: [], args: [] };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--" && out.sub === "run") {
      out.args = rest.slice(i + 1);
      break;
    }
    if (a === "-h" || a === "--help") return "help";
    if (a === "--socket" || a.startsWith("--socket=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : rest[++i];
      if (!v) throw new UsageError("--socket needs a path");
      out.socket = v;
    } else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option '${a}'`);
    else out.layers.push(a);
  }
  if (out.sub === "revoke" && out.layers.length) throw new UsageError(`unexpected argument '${out.layers[0]}'`);
  if (out.sub !== "revoke" && !out.layers.length) throw new UsageError("missing LAYER (a directory, .tar or .tar.zst)");
  if (out.sub === "apply" && out.layers.length > 1) throw new UsageError("apply takes one LAYER at a time");
  return out;
}

/** Is something accepting connections on this Unix socket? */
async function live(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  return Bun.connect({ unix: path, socket: { data() {}, open(s) { s.end(); } } }).then(
    () => true,
    () => false,
  );
}

/** `weft cell revoke` / `apply`: one request to the running cell. */
async function control(parsed: CellArgs): Promise<number> {
  if (parsed.socket) process.env.WEFT_APPD_SOCKET = resolve(parsed.socket);
  const { request, NotRunning } = await import("./appctl.ts");
  try {
    const r = await request(parsed.sub === "revoke" ? { type: "CELL_REVOKE" } : { type: "CELL_APPLY_LAYER", path: resolve(parsed.layers[0]) });
    if (r.type === "ERROR") {
      console.error(`weft cell ${parsed.sub}: ${r.message}`);
      return 1;
    }
    if (r.type === "CELL_EPOCH") console.log(`epoch ${r.epoch}`);
    return 0;
  } catch (e) {
    if (e instanceof NotRunning) {
      console.error(`weft cell ${parsed.sub}: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

async function run(argv: string[]): Promise<number> {
  const parsed = parseCellArgs(argv);
  if (parsed === "help") {
    process.stdout.write(help);
    return 0;
  }
  if (parsed.sub !== "run") return control(parsed);
  // pid0 owns the terminal: weft itself says only what goes wrong.
  process.env.WEFT_LOG ??= "warn";
  const { openImage } = await import("../cell/image.ts");
  const { Cell } = await import("../cell/cell.ts");
  const { BudgetError, ImageError } = await import("../cell/layers.ts");
  let image;
  try {
    image = await openImage(parsed.layers);
  } catch (e) {
    if (e instanceof ImageError) {
      console.error(`weft cell: ${e.message}`);
      return 1;
    }
    throw e;
  }
  let daemon: Awaited<ReturnType<typeof import("../appd/daemon.ts").startDaemon>> | null = null;
  try {
    const { appdSocketPath, startDaemon } = await import("../appd/daemon.ts");
    let path = parsed.socket;
    if (!path) {
      try {
        path = appdSocketPath();
      } catch {
        // No place for a socket: fine for a cell without services (no ps/revoke then).
        if (image.services.length) throw new Error("neither WEFT_APPD_SOCKET nor XDG_RUNTIME_DIR is set; pass --socket PATH to run services");
      }
    }
    if (path) {
      if (!parsed.socket) {
        if (await live(path)) {
          const mine = join(dirname(path), `cell-${process.pid}.sock`);
          console.error(`weft cell: ${path} is in use by a running weft; this cell's API (its services, revoke, apply) is on ${mine} (WEFT_APPD_SOCKET=${mine} weft ps)`);
          path = mine;
        }
      } else if (await live(path)) throw new Error(`${path} is in use by a running weft`);
      daemon = await startDaemon({ socketPath: path, httpPort: false, restore: false });
    }
    let cell: import("../cell/cell.ts").Cell;
    try {
      cell = await Cell.start(image, { args: parsed.args, sessions: daemon?.sessions });
    } catch (e) {
      if (e instanceof ImageError) {
        console.error(`weft cell: ${e.message}`);
        return e instanceof BudgetError ? 1 : EXIT_CODES.cannotLoad; // a bad etc/, like a bad cell.toml; else bad wasm
      }
      throw e;
    }
    if (daemon) daemon.api.cell = { revoke: () => cell.advanceEpoch(), applyLayer: (p) => cell.applyLayer(p) };
    const stopOnSignal = () => cell.stop();
    process.on("SIGINT", stopOnSignal);
    process.on("SIGTERM", stopOnSignal);
    const status = await cell.exited;
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
    const line = describeExit(status);
    if (line) console.error(`weft cell: pid0: ${line}`);
    return exitCode(status);
  } finally {
    await daemon?.close();
    await image.close();
  }
}

export default { name: "cell", summary: "run a cell image (layers, pid0, services)", help, run } satisfies Command;
