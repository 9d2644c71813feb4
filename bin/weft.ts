#!/usr/bin/env bun
// weft — the CLI entry. Parses the command name and hands the rest to
// src/cli/<command>.ts; everything else lives there.
import pkg from "../package.json" with { type: "json" };
import { UsageError, type Command } from "../src/cli/command.ts";
import { buildInfo } from "../src/system/assets.ts";
import { execTuned } from "../src/system/runtime-tuning.ts";

const WASMTIME_VERSION = "49.0.0"; // kept equal to ffi/wasmtime.ts; not imported so --version loads no library

// Loaded on demand so `weft --help` starts fast and loads no native library.
const appctl = () => import("../src/cli/appctl.ts");
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: { summary: "start weft: compositor, app daemon and runtime", load: async () => (await import("../src/cli/run.ts")).default },
  exec: { summary: "run a WASI module or component in-process", load: async () => (await import("../src/cli/exec.ts")).default },
  cell: { summary: "run a cell image: layers, pid0, services (weft cell run)", load: async () => (await import("../src/cli/cell.ts")).default },
  pack: { summary: "make, check, sign, bundle and install app packages", load: async () => (await import("../src/cli/pack.ts")).default },
  apps: { summary: "list the installed apps (of a running weft)", load: async () => (await appctl()).apps },
  launch: { summary: "launch an installed app", load: async () => (await appctl()).launch },
  ps: { summary: "list running sessions", load: async () => (await appctl()).ps },
  stop: { summary: "stop a session", load: async () => (await appctl()).stop },
  logs: { summary: "print a session's recent output", load: async () => (await appctl()).logs },
  screenshot: { summary: "save the screen of a running weft as PNG", load: async () => (await import("../src/cli/screenshot.ts")).default },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `weft ${pkg.version} — a device's graphical userland in one executable:
Wayland compositor, app daemon and WebAssembly runtime on one event loop.

Usage: weft <command> [options]

Commands:
${lines.join("\n")}

Options:
  -h, --help     Show this help (or \`weft <command> --help\`)
  -V, --version  Show the weft, Bun and Wasmtime versions
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    if (name === "help" && rest[0] && commands[rest[0]]) return main([rest[0], "--help"]);
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "-V" || name === "--version") {
    const b = buildInfo(); // set in the single-file build (scripts/build.ts)
    console.log(`weft ${pkg.version} (bun ${Bun.version}, wasmtime ${WASMTIME_VERSION})${b ? `\nsingle-file build of ${b.commit}, ${b.builtAt}` : ""}`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`weft: unknown command '${name}'. See \`weft --help\`.`);
    return 2;
  }
  const cmd = await entry.load();
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`weft ${name}: ${err.message}. See \`weft ${name} --help\`.`);
      return 2;
    }
    console.error(`weft ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (import.meta.main) {
  execTuned(process.argv.slice(2)); // `weft run`: once more with the daemon's JSC settings (runtime-tuning.ts)
  const code = await main(process.argv.slice(2));
  // Guest threads and the fd watcher are native threads; exit explicitly.
  process.exit(code);
}
