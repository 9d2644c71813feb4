// `weft exec`: run one WASI Preview 1 command module in-process, like a
// program: stdio passed through, its exit code becomes ours.
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { loadWasmAsync, wasmKind } from "../runtime/cache.ts";
import { describeExit, EXIT_CODES, exitCode } from "../runtime/exit.ts";
import { Guest, type Preopen } from "../runtime/guest.ts";
import { UsageError, type Command } from "./command.ts";

const help = `Usage: weft exec [OPTIONS] MODULE.wasm [ARGS...]

Run a WASI command in-process: a Preview 1 core module (its _start) or a
WASI 0.2 component (its wasi:cli/run). The guest's stdin, stdout and stderr
are this terminal's; weft exits with the guest's exit code (a component can
only say success or failure: 0 or 1).

Options:
  --dir HOST[::GUEST][:ro]  Give the guest the host directory HOST, seen as
                            GUEST (default: HOST as given). ":ro" makes it
                            read-only: writes fail with EPERM/EROFS in the guest.
                            Repeatable. Nothing else on the host is visible.
  --env K=V                 Set an environment variable in the guest. Repeatable.
                            The guest sees no host environment otherwise.
  --mem MiB                 Linear memory limit (default 512).
  --timeout SECONDS         Stop the guest after this wall-clock time.
  --cpu SECONDS             Stop the guest after this much CPU time.
  --fuel N                  Deterministic budget: trap after N units of fuel.
  -h, --help                Show this help.

Exit status:
  the guest's own exit code, or
  ${EXIT_CODES.usage}    bad command line
  ${EXIT_CODES.timeout}  --timeout reached
  ${EXIT_CODES.cannotLoad}  the file is not a valid WASI command (module or component)
  ${EXIT_CODES.notFound}  the module file does not exist
  ${EXIT_CODES.trap}  the guest trapped (the trap is printed on stderr)
  ${EXIT_CODES.outOfMemory}  the guest ran out of memory under --mem
  ${EXIT_CODES.cpuLimit}  --cpu reached
  ${EXIT_CODES.outOfFuel}  --fuel used up

Examples:
  weft exec examples/build/hello.wasm world
  weft exec --dir ./data::/data:ro --env LANG=C app.wasm
`;

interface ExecArgs {
  module: string;
  args: string[];
  dirs: Preopen[];
  env: [string, string][];
  memMiB?: number;
  timeoutS?: number;
  cpuS?: number;
  fuel?: bigint;
}

function positive(flag: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`${flag} needs a value`);
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${value}'`);
  return n;
}

export function parseDir(spec: string): Preopen {
  let s = spec;
  let readOnly = false;
  if (s.endsWith(":ro")) {
    readOnly = true;
    s = s.slice(0, -3);
  } else if (s.endsWith(":rw")) s = s.slice(0, -3);
  const [host, guest] = s.includes("::") ? s.split("::", 2) : [s, s];
  if (!host) throw new UsageError(`--dir '${spec}': empty host path`);
  if (!guest) throw new UsageError(`--dir '${spec}': empty guest path`);
  const abs = resolve(host);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`--dir '${spec}': ${abs} is not a directory`);
  return { host: abs, guest, readOnly };
}

export function parseExecArgs(argv: string[]): ExecArgs | "help" {
  const out: ExecArgs = { module: "", args: [], dirs: [], env: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    const [flag, inline] = a.includes("=") && a.startsWith("--") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "-h":
      case "--help":
        return "help";
      case "--dir": {
        const v = value();
        if (v === undefined) throw new UsageError("--dir needs a value");
        out.dirs.push(parseDir(v));
        break;
      }
      case "--env": {
        const v = value();
        if (v === undefined || !v.includes("=") || v.startsWith("=")) throw new UsageError(`--env needs K=V, got '${v ?? ""}'`);
        out.env.push([v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)]);
        break;
      }
      case "--mem":
        out.memMiB = positive("--mem", value());
        break;
      case "--timeout":
        out.timeoutS = positive("--timeout", value());
        break;
      case "--cpu":
        out.cpuS = positive("--cpu", value());
        break;
      case "--fuel": {
        const v = value();
        if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`--fuel needs a whole number, got '${v ?? ""}'`);
        out.fuel = BigInt(v);
        break;
      }
      default:
        throw new UsageError(`unknown option '${a}'`);
    }
  }
  if (i >= argv.length) throw new UsageError("missing MODULE.wasm");
  out.module = argv[i];
  out.args = argv.slice(i + 1);
  return out;
}

async function run(argv: string[]): Promise<number> {
  const parsed = parseExecArgs(argv);
  if (parsed === "help") {
    process.stdout.write(help);
    return 0;
  }
  const file = Bun.file(parsed.module);
  if (!(await file.exists())) {
    console.error(`weft: ${parsed.module}: no such file`);
    return EXIT_CODES.notFound;
  }
  const wasm = new Uint8Array(await file.arrayBuffer());
  if (!wasmKind(wasm)) {
    console.error(`weft: ${parsed.module}: not a WebAssembly module (bad magic number or version)`);
    return EXIT_CODES.cannotLoad;
  }
  let module;
  try {
    module = await loadWasmAsync(wasm, { fuel: parsed.fuel !== undefined });
  } catch (err) {
    console.error(`weft: ${parsed.module}: invalid module: ${(err as Error).message.replace(/^compile: /, "").split("\n")[0]}`);
    return EXIT_CODES.cannotLoad;
  }
  const guest = new Guest(module, {
    argv: [parsed.module, ...parsed.args],
    env: parsed.env,
    preopens: parsed.dirs,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
    memoryBytes: parsed.memMiB ? Math.round(parsed.memMiB * 1048576) : undefined,
    timeoutMs: parsed.timeoutS ? parsed.timeoutS * 1000 : 0,
    cpuMs: parsed.cpuS ? parsed.cpuS * 1000 : 0,
    fuel: parsed.fuel,
  });
  const stopOnSignal = () => guest.stop();
  process.on("SIGINT", stopOnSignal);
  process.on("SIGTERM", stopOnSignal);
  const status = await guest.exited;
  process.off("SIGINT", stopOnSignal);
  process.off("SIGTERM", stopOnSignal);
  const line = describeExit(status);
  if (line) console.error(`weft: ${parsed.module}: ${line}`);
  return exitCode(status);
}

export default { name: "exec", summary: "run a WASI module or component in-process", help, run } satisfies Command;
