// `weft screenshot FILE.png`: ask the running weft for a PNG of its output.
import { existsSync } from "node:fs";
import { UsageError, type Command } from "./command.ts";

const help = `Usage: weft screenshot [--display NAME] FILE.png

Save what the running weft shows (its whole output) as a PNG. The weft is
found through its control socket, next to the Wayland socket named by
--display or $WAYLAND_DISPLAY.

Exit status:
  0  written
  1  no running weft at that display, or it refused
  2  bad command line
`;

const screenshot: Command = {
  name: "screenshot",
  summary: "save a PNG of what the running weft shows",
  help,
  async run(argv) {
    let display = process.env.WAYLAND_DISPLAY;
    let file: string | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === "-h" || a === "--help") {
        process.stdout.write(help);
        return 0;
      } else if (a === "--display") display = argv[++i];
      else if (a.startsWith("-")) throw new UsageError(`unknown option '${a}'`);
      else if (file) throw new UsageError("only one output file");
      else file = a;
    }
    if (!file) throw new UsageError("missing FILE.png");
    if (!display) throw new UsageError("no display: set WAYLAND_DISPLAY or pass --display");
    const { controlPath, controlRequest } = await import("../compositor/control.ts");
    const path = controlPath(display);
    if (!existsSync(path)) {
      console.error(`weft screenshot: no weft control socket at ${path} (is \`weft run\` serving ${display}?)`);
      return 1;
    }
    const { reply, body } = await controlRequest(path, { op: "screenshot" });
    if (!reply.ok || !body) {
      console.error(`weft screenshot: ${String(reply.error ?? "no image")}`);
      return 1;
    }
    await Bun.write(file, body);
    return 0;
  },
};
export default screenshot;
