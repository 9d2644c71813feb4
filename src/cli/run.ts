// `weft run`: start weft. Until the app daemon lands this is the compositor
// alone, on the headless backend.
import { UsageError, type Command } from "./command.ts";

const help = `Usage: weft run --headless [OPTIONS]

Start the Wayland compositor on a virtual (headless) output and serve
clients until SIGINT or SIGTERM. Prints WAYLAND_DISPLAY=<name> on stdout
once clients can connect.

Options:
  --headless         Use the headless backend (required until DRM lands).
  --width W          Output width in pixels (default 1280).
  --height H         Output height in pixels (default 720).
  --refresh HZ       Output refresh rate (default 60).
  --socket NAME      Wayland socket name in $XDG_RUNTIME_DIR, or an absolute
                     path (default: the first free wayland-N).
  --test-input       Accept injected pointer/keyboard/touch input on the
                     control socket (tests only; also WEFT_TEST_INPUT=1).
  -h, --help         Show this help.

The control socket ($XDG_RUNTIME_DIR/weft/compositor-<name>.sock) serves
\`weft screenshot\`; see docs/compositor.md.

Exit status:
  0  stopped by SIGINT/SIGTERM
  1  could not start (no XDG_RUNTIME_DIR, socket in use, …)
  2  bad command line
`;

function intOpt(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} needs an integer from ${min} to ${max}`);
  return n;
}

export function parseRunArgs(argv: string[]) {
  const o = { headless: false, width: 1280, height: 720, refresh: 60, socket: undefined as string | undefined, testInput: process.env.WEFT_TEST_INPUT === "1", help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--headless":
        o.headless = true;
        break;
      case "--width":
        o.width = intOpt(a, argv[++i], 1, 16384);
        break;
      case "--height":
        o.height = intOpt(a, argv[++i], 1, 16384);
        break;
      case "--refresh":
        o.refresh = intOpt(a, argv[++i], 1, 1000);
        break;
      case "--socket":
        o.socket = argv[++i];
        if (!o.socket) throw new UsageError("--socket needs a name");
        break;
      case "--test-input":
        o.testInput = true;
        break;
      default:
        throw new UsageError(`unknown option '${a}'`);
    }
  }
  return o;
}

const run: Command = {
  name: "run",
  summary: "start weft (for now: the Wayland compositor, --headless)",
  help,
  async run(argv) {
    const o = parseRunArgs(argv);
    if (o.help) {
      process.stdout.write(help);
      return 0;
    }
    if (!o.headless) throw new UsageError("only --headless is available until the DRM backend lands");
    if (!process.env.XDG_RUNTIME_DIR && !(o.socket && o.socket.startsWith("/"))) {
      console.error("weft run: XDG_RUNTIME_DIR is not set (needed for the Wayland socket)");
      return 1;
    }
    const { Compositor } = await import("../compositor/compositor.ts");
    const { startControl } = await import("../compositor/control.ts");
    const comp = new Compositor({ width: o.width, height: o.height, refresh: o.refresh, socket: o.socket });
    const control = startControl(comp, { testInput: o.testInput });
    process.stdout.write(`WAYLAND_DISPLAY=${comp.socket}\n`);
    const signal = await new Promise<string>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    void signal;
    control.close();
    comp.destroy();
    return 0;
  },
};
export default run;
