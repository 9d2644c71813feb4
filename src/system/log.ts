// Journald-friendly logging: one line per event, a `<N>` syslog priority
// prefix when stderr goes to the journal (systemd sets JOURNAL_STREAM), plain
// otherwise. Level from WEFT_LOG=debug|info|warn|error (default info).
const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;
type Level = keyof typeof LEVELS;
const SYSLOG: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

function threshold(): number {
  const v = (process.env.WEFT_LOG ?? "info").toLowerCase();
  return v in LEVELS ? LEVELS[v as Level] : LEVELS.info;
}

const journal = !!process.env.JOURNAL_STREAM;

function write(level: Level, msg: string): void {
  if (LEVELS[level] < threshold()) return;
  const line = journal ? `<${SYSLOG[level]}>${msg}` : `weft ${level}: ${msg}`;
  process.stderr.write(line.replaceAll("\n", "\\n") + "\n");
}

export const log = {
  debug: (m: string) => write("debug", m),
  info: (m: string) => write("info", m),
  warn: (m: string) => write("warn", m),
  error: (m: string) => write("error", m),
};
