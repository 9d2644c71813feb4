// Runs `weft pack ARGS` as a process, exactly as bin/weft.ts does: through
// bin/weft.ts once `pack` is registered there, else through the same
// dispatch (UsageError → one line + hint, exit 2; other errors → one line, exit 1).
import { main } from "../../bin/weft.ts";
import { UsageError } from "../../src/cli/command.ts";
import pack from "../../src/cli/pack.ts";

const argv = process.argv.slice(2);
const registered = (await Bun.file(new URL("../../bin/weft.ts", import.meta.url)).text()).includes("src/cli/pack.ts");
let code: number;
if (registered) code = await main(["pack", ...argv]);
else {
  try {
    code = await pack.run(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`weft pack: ${err.message}. See \`weft pack --help\`.`);
      code = 2;
    } else {
      console.error(`weft pack: ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
  }
}
process.exit(code);
