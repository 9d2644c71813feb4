// How a guest ended, and how weft tells a person (one line) and a shell (an
// exit code). The codes follow shell conventions so scripts can tell weft's
// own outcomes from the guest's: see EXIT_CODES and `weft exec --help`.
import type { Frame } from "../../ffi/wasmtime.ts";

export type ExitStatus = (
  | { kind: "exit"; code: number }
  | { kind: "trap"; trap: string; message: string; frames: Frame[] }
  | { kind: "out-of-memory"; limitBytes: number; detail: ExitStatus }
  | { kind: "out-of-fuel" }
  /** shared: a budget shared with other guests (a cell's) ran out, not the guest's own. */
  | { kind: "cpu-limit"; limitMs: number; shared?: boolean }
  | { kind: "timeout"; limitMs: number }
  | { kind: "stopped" }
  | { kind: "error"; message: string }
) & { cpuMs?: number; wallMs?: number };

export const EXIT_CODES = {
  usage: 2,
  cannotLoad: 126, // not wasm, invalid module, missing _start
  notFound: 127,
  timeout: 124,
  trap: 134, // like SIGABRT
  outOfMemory: 137,
  stopped: 143, // like SIGTERM
  cpuLimit: 152, // like SIGXCPU
  outOfFuel: 153,
} as const;

export function exitCode(s: ExitStatus): number {
  switch (s.kind) {
    case "exit":
      return s.code;
    case "trap":
      return EXIT_CODES.trap;
    case "out-of-memory":
      return EXIT_CODES.outOfMemory;
    case "out-of-fuel":
      return EXIT_CODES.outOfFuel;
    case "cpu-limit":
      return EXIT_CODES.cpuLimit;
    case "timeout":
      return EXIT_CODES.timeout;
    case "stopped":
      return EXIT_CODES.stopped;
    case "error":
      return EXIT_CODES.cannotLoad;
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;

export function describeFrame(f: Frame): string {
  const name = f.funcName ?? `func[${f.funcIndex}]`;
  if (f.moduleOffset !== null) return `${name} at offset ${hex(f.moduleOffset)}`;
  if (f.funcOffset !== null) return `${name} at function offset ${hex(f.funcOffset)}`;
  return name;
}

/** One line for a person; null for a plain exit. */
export function describeExit(s: ExitStatus): string | null {
  switch (s.kind) {
    case "exit":
      return null;
    case "trap": {
      const top = s.frames[0];
      return `trap: ${s.trap}${top ? ` in ${describeFrame(top)}` : ""}`;
    }
    case "out-of-memory":
      return `out of memory: the guest reached its ${Math.round(s.limitBytes / 1048576)} MiB memory limit`;
    case "out-of-fuel":
      return "out of fuel: the guest used up its --fuel budget";
    case "cpu-limit":
      return s.shared
        ? `cpu limit: the CPU budget of ${s.limitMs} ms it shares (with its cell or parent) is used up`
        : `cpu limit: the guest used more than ${s.limitMs} ms of CPU time`;
    case "timeout":
      return `timeout: the guest ran longer than ${s.limitMs / 1000} s and was stopped`;
    case "stopped":
      return "stopped by host";
    case "error":
      return s.message;
  }
}
