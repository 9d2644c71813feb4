// The shape every `weft <command>` module exports, so bin/weft.ts stays a
// thin dispatcher and `weft <command> --help` works the same everywhere.
export interface Command {
  name: string;
  summary: string;
  help: string;
  /** argv without the command name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A mistake in how weft was called: printed as one line plus a hint, exit 2. */
export class UsageError extends Error {}
