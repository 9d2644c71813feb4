#!/usr/bin/env bun
// weft — the CLI entry. Parses the command name and hands the rest to
// src/cli/<command>.ts; everything else lives there.
import pkg from "../package.json" with { type: "json" };
import { UsageError, type Command } from "../src/cli/command.ts";

const WASMTIME_VERSION = "49.0.0"; // kept equal to ffi/wasmtime.ts; not imported so --version loads no library

// Loaded on demand so `weft --help` starts fast and loads no native library.
const commands: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  exec: { summary: "run a WASI Preview 1 module in-process", load: () => import("../src/cli/exec.ts") },
  pack: { summary: "make, check, sign, bundle and install app packages", load: () => import("../src/cli/pack.ts") },
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
    console.log(`weft ${pkg.version} (bun ${Bun.version}, wasmtime ${WASMTIME_VERSION})`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`weft: unknown command '${name}'. See \`weft --help\`.`);
    return 2;
  }
  const cmd = (await entry.load()).default;
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
  const code = await main(process.argv.slice(2));
  // Guest threads and the fd watcher are native threads; exit explicitly.
  process.exit(code);
}
