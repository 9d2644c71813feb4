// Clients of a running weft: `weft apps`, `weft launch`, `weft ps`,
// `weft stop`, `weft logs`. Each is one request over the appd Unix socket.
import { decode } from "@msgpack/msgpack";
import { existsSync } from "node:fs";
import { appdSocketPath } from "../appd/daemon.ts";
import type { Response } from "../ipc/messages.ts";
import { encodeFrame, FrameReader } from "../ipc/framing.ts";
import { UsageError, type Command } from "./command.ts";

export class NotRunning extends Error {}

export async function request(msg: unknown): Promise<Response> {
  let path: string;
  try {
    path = appdSocketPath();
  } catch (e) {
    throw new NotRunning((e as Error).message);
  }
  if (!existsSync(path)) throw new NotRunning(`weft is not running (no socket at ${path}); start it with \`weft run\``);
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    let done = false;
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(encodeFrame(msg));
        },
        data(s, chunk) {
          const [body] = reader.push(chunk);
          if (!body) return;
          done = true;
          resolve(decode(body) as Response);
          s.end();
        },
        close() {
          if (!done) reject(new NotRunning(`weft closed the connection at ${path} without answering`));
        },
      },
    }).catch(() => reject(new NotRunning(`weft is not running (cannot connect to ${path}); start it with \`weft run\``)));
  });
}

class Refused extends Error {}

/** A request whose ERROR answer becomes a Refused error (one line, exit 1). */
async function ask(msg: unknown): Promise<Response> {
  const r = await request(msg);
  if (r.type === "ERROR") throw new Refused(r.message);
  return r;
}

/** Runs a client action; prints failures as one line and maps them to exit codes. */
async function withWeft(action: () => Promise<void>): Promise<number> {
  try {
    await action();
    return 0;
  } catch (e) {
    if (e instanceof Refused || e instanceof NotRunning) {
      console.error(`weft: ${e.message}`);
      return e instanceof Refused ? 1 : 3;
    }
    throw e;
  }
}

function sessionArg(argv: string[], usage: string): number {
  const [sid, ...rest] = argv.filter((a) => !a.startsWith("-"));
  if (sid === undefined) throw new UsageError(`missing SESSION_ID (${usage})`);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const n = Number(sid);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`SESSION_ID must be a positive integer, got '${sid}'`);
  return n;
}

const wantsHelp = (argv: string[]) => argv.includes("-h") || argv.includes("--help");
const EXIT_NOTE = "Exit status: 0 ok, 1 weft answered with an error, 2 bad command line, 3 weft is not running.\n";

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function cmd(name: string, summary: string, usage: string, body: (argv: string[]) => Promise<number>): Command {
  const help = `Usage: weft ${usage}\n\n${summary[0].toUpperCase()}${summary.slice(1)}.\n\n${EXIT_NOTE}`;
  return {
    name,
    summary,
    help,
    run: (argv) => {
      if (wantsHelp(argv)) return (process.stdout.write(help), Promise.resolve(0));
      return body(argv);
    },
  };
}

export const apps = cmd("apps", "list the installed apps", "apps", async (argv) => {
  if (argv.length) throw new UsageError(`unexpected argument '${argv[0]}'`);
  return withWeft(async () => {
    const r = await ask({ type: "QUERY_INSTALLED_APPS" });
    if (r.type !== "INSTALLED_APPS") return;
    if (!r.apps.length) return console.log("no apps installed (see `weft pack install`)");
    console.log(table([["APP", "NAME", "VERSION"], ...r.apps.map((a) => [a.app_id, a.name, a.version])]));
  });
});

export const launch = cmd("launch", "launch an installed app; prints its session id", "launch APP_ID", async (argv) => {
  const [id, ...rest] = argv;
  if (!id) throw new UsageError("missing APP_ID");
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  return withWeft(async () => {
    const r = await ask({ type: "LAUNCH_APP", app_id: id, surface_id: 0 });
    if (r.type === "LAUNCH_ACK") console.log(`session ${r.session_id}: ${r.app_id} starting`);
  });
});

export const ps = cmd("ps", "list running sessions", "ps", async (argv) => {
  if (argv.length) throw new UsageError(`unexpected argument '${argv[0]}'`);
  return withWeft(async () => {
    const r = await ask({ type: "QUERY_RUNNING" });
    if (r.type !== "RUNNING_APPS") return;
    const rows: string[][] = [["SESSION", "APP", "STATE"]];
    for (const s of r.sessions) {
      const st = await ask({ type: "QUERY_APP_STATE", session_id: s.session_id });
      rows.push([String(s.session_id), s.app_id, st.type === "APP_STATE" ? st.state : "?"]);
    }
    console.log(rows.length > 1 ? table(rows) : "no apps running");
  });
});

export const stop = cmd("stop", "stop a session; returns once its guest is gone", "stop SESSION_ID", async (argv) => {
  const sid = sessionArg(argv, "weft stop SESSION_ID");
  return withWeft(async () => {
    const r = await ask({ type: "TERMINATE_APP", session_id: sid });
    if (r.type === "APP_STATE") console.log(`session ${sid}: ${r.state}`);
  });
});

export const logs = cmd("logs", "print a session's recent stdout/stderr lines", "logs SESSION_ID [--lines N]", async (argv) => {
  let lines = 100;
  const i = argv.indexOf("--lines");
  if (i >= 0) {
    lines = Number(argv[i + 1]);
    if (!Number.isInteger(lines) || lines < 1) throw new UsageError(`--lines needs a positive integer`);
    argv = [...argv.slice(0, i), ...argv.slice(i + 2)];
  }
  const sid = sessionArg(argv, "weft logs SESSION_ID");
  return withWeft(async () => {
    const r = await ask({ type: "QUERY_LOGS", session_id: sid, lines });
    if (r.type !== "LOGS") return;
    for (const l of r.lines) (l.stream === "stderr" ? process.stderr : process.stdout).write(l.text + "\n");
  });
});
