// `weft run`: start weft — the Wayland compositor (DRM/KMS when a usable
// card exists, else headless) and the app daemon with the runtime, on one loop.
import { bundledAppDirs, bundledKeyFile } from "../system/assets.ts";
import { ensureXdgRuntimeDir } from "../system/paths.ts";
import { log } from "../system/log.ts";
import { systemdNotifier } from "../system/sdnotify.ts";
import { releaseStartPages } from "../system/start-pages.ts";
import { ignoreStrayUserSignals, stopSignals } from "../system/stop-signals.ts";
import { UsageError, type Command } from "./command.ts";

const help = `Usage: weft run [OPTIONS]

Start weft: the Wayland compositor — on the display (DRM/KMS) when a usable
card exists, else on a virtual (headless) output — and the app daemon (its
Unix socket, its HTTP/WebSocket API and the apps it runs). Serves until
SIGINT or SIGTERM, which saves the running apps for the next start. Prints
WAYLAND_DISPLAY=<name> and APPD_SOCKET=<path> on stdout once clients can
connect. On first start an empty app store gets the bundled
example apps.

Options:
  --drm              Drive the display through DRM/KMS ($WEFT_DRM_DEVICE or the
                     first /dev/dri/card* with a connected connector) with
                     evdev input; fail if there is none.
  --headless         Use the headless backend (a virtual output).
  --no-compositor    Run only the app daemon and runtime.
  --no-appd          Run only the compositor.
  --allow-unsigned   Launch unsigned packages (WEFT never checked signatures).
  --http-port N      HTTP/WebSocket port (default WEFT_APPD_WS_PORT or 7410;
                     0 = any free port).
  --width W          Headless output width in pixels (default 1280).
  --height H         Headless output height in pixels (default 720).
  --refresh HZ       Headless output refresh rate (default 60).
  --socket NAME      Wayland socket name in $XDG_RUNTIME_DIR, or an absolute
                     path (default: the first free wayland-N).
  --test-input       Accept injected pointer/keyboard/touch input on the
                     control socket (tests only; also WEFT_TEST_INPUT=1).
  -h, --help         Show this help.

The control socket ($XDG_RUNTIME_DIR/weft/compositor-<name>.sock) serves
\`weft screenshot\`; see docs/compositor.md.

On DRM, Ctrl+Alt+Backspace stops weft like SIGTERM. weft owns a VT when it
finds one ($WEFT_VT=N|none, standard input, $XDG_VTNR, else as root the first
free VT): Ctrl+Alt+F1…F12 and chvt switch to other VTs and back. Without one,
SIGUSR1 gives the display up (DRM master dropped, rendering stops) and SIGUSR2
takes it back. Headless (or before the display is up) they are logged and
ignored.

Exit status:
  0  stopped by SIGINT/SIGTERM
  1  could not start (no XDG_RUNTIME_DIR, socket in use, …)
  2  bad command line
  75 headless because no DRM card existed at start, and one appeared: under
     systemd weft stops cleanly (apps saved) so the unit's restart drives it
  130/143  a second SIGINT/SIGTERM while stopping (ends at once; the VT is
           still given back)
`;

/** Exit status after a clean stop for a DRM card that appeared after start (EX_TEMPFAIL: restart me). */
const EXIT_NEW_CARD = 75;
/** The stop reason for it (stopSignals' reasons are otherwise signal names). */
const NEW_CARD = "a DRM card appeared";

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} needs an integer from ${min} to ${max}`);
  return n;
}

export function parseRunArgs(argv: string[]) {
  const o = { display: "auto" as "auto" | "drm" | "headless", compositor: true, appd: true, allowUnsigned: false, httpPort: undefined as number | undefined, width: 1280, height: 720, refresh: 60, socket: undefined as string | undefined, testInput: process.env.WEFT_TEST_INPUT === "1", help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--headless":
        o.display = "headless";
        break;
      case "--drm":
        o.display = "drm";
        break;
      case "--no-compositor":
        o.compositor = false;
        break;
      case "--no-appd":
        o.appd = false;
        break;
      case "--allow-unsigned":
        o.allowUnsigned = true;
        break;
      case "--http-port":
        o.httpPort = intOpt(a, argv[++i], 0, 65535);
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

/** After READY: the first launches and the first client's frames have run by then. */
const START_SETTLE_MS = 2000;

function releaseStart(): void {
  try {
    const { mappings, kib, failed } = releaseStartPages();
    log.debug(`released ${(kib / 1024).toFixed(1)} MiB of start-up pages (${mappings} read-only file mappings)`);
    for (const f of failed) log.debug(`kept start-up pages of ${f}`);
  } catch (err) {
    log.warn(`could not release start-up pages: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const run: Command = {
  name: "run",
  summary: "start weft: compositor, app daemon and runtime",
  help,
  async run(argv) {
    const o = parseRunArgs(argv);
    if (o.help) {
      process.stdout.write(help);
      return 0;
    }
    if (!o.compositor && !o.appd) throw new UsageError("--no-compositor and --no-appd leave nothing to run");
    // Under systemd (Type=notify): READY once everything is up, STATUS, WATCHDOG from this loop, STOPPING.
    const sd = systemdNotifier();
    const chosen = ensureXdgRuntimeDir();
    if (chosen) console.error(`weft run: XDG_RUNTIME_DIR was not set; using ${chosen} (export XDG_RUNTIME_DIR=${chosen} for clients)`);
    // Listen for the stop signals before anything announces readiness: a
    // supervisor may signal the moment it reads WAYLAND_DISPLAY/APPD_SOCKET.
    // A second signal while stopping exits at once, through the exit handlers (stop-signals.ts).
    const stopOn = stopSignals((m) => console.error(`weft run: ${m}`));
    ignoreStrayUserSignals((m) => log.warn(m));
    const signalled = stopOn.signalled;
    const stops: (() => Promise<void> | void)[] = [];
    let clipboard: import("../runtime/weft-app/context.ts").ClipboardPort | undefined;
    const status: { clients?: () => number; apps?: () => number; connections?: () => number; onSessions?: (fn: () => void) => () => void } = {};
    if (o.compositor) {
      const { Compositor } = await import("../compositor/compositor.ts");
      const { startControl } = await import("../compositor/control.ts");
      const { startDisplay } = await import("../compositor/backend/session.ts");
      const display = startDisplay(o.display, { width: o.width, height: o.height, refresh: o.refresh });
      const comp = new Compositor({ backend: display.backend, socket: o.socket });
      const control = startControl(comp, { testInput: o.testInput });
      const input = display.startInput(comp);
      // Headless because the card was not there yet (a fast boot): under systemd, a clean stop and a restart drive it.
      const cards = display.watchForCard((path) => {
        if (sd.enabled) {
          log.warn(`display: DRM card ${path} appeared after start; stopping cleanly so systemd restarts weft on it (exit ${EXIT_NEW_CARD})`);
          stopOn.stop(NEW_CARD);
        } else log.warn(`display: DRM card ${path} appeared after start; weft stays headless (restart it to drive the card)`);
      });
      stops.push(() => control.close(), () => input.destroy(), () => cards?.close(), () => comp.destroy());
      status.clients = () => comp.server.clients.size;
      clipboard = comp.dataDevice; // apps' weft:app/clipboard reaches this compositor's selection
      process.stdout.write(`WAYLAND_DISPLAY=${comp.socket}\n`);
    }
    if (o.appd) {
      const { startDaemon } = await import("../appd/daemon.ts");
      const daemon = await startDaemon({ allowUnsigned: o.allowUnsigned, httpPort: o.httpPort, bundledApps: bundledAppDirs(), bundledKey: bundledKeyFile(), clipboard });
      stops.unshift(() => daemon.shutdown());
      status.apps = () => daemon.sessions.running().length;
      status.connections = () => daemon.unix.stats().connections;
      status.onSessions = (fn) => {
        const off = daemon.sessions.on(fn);
        return () => void off();
      };
      // The runtime is up when its engine (and the loop's native threads) are, not at the first launch.
      const { engineFor } = await import("../runtime/engine.ts");
      engineFor();
      process.stdout.write(`APPD_SOCKET=${daemon.unix.path}\n`);
      if (daemon.http) {
        process.stdout.write(`APPD_URL=${daemon.http.url}\n`);
        // The token stays out of the journal: a person reads it from its 0600 file.
        log.info(`system UI: ${daemon.http.url}?token=<the token in $XDG_RUNTIME_DIR/weft/appd.token>`);
      }
    }
    const statusLine = () => {
      const parts: string[] = [];
      if (status.apps) parts.push(plural(status.apps(), "app") + " running");
      if (status.clients) parts.push(plural(status.clients(), "Wayland client"));
      if (status.connections) parts.push(plural(status.connections(), "API connection"));
      return parts.join(", ");
    };
    sd.ready(statusLine());
    // Start-up's code (module loading, transpiling, FFI compiles) leaves the page tables once it has settled.
    const settle = process.env.WEFT_KEEP_START_PAGES ? null : setTimeout(releaseStart, START_SETTLE_MS);
    settle?.unref();
    const stopWatchdog = sd.startWatchdog();
    // STATUS follows the counts; sent only when the line changes.
    const statusTimer = sd.enabled ? setInterval(() => sd.status(statusLine()), 2000) : null;
    statusTimer?.unref();
    const offSessions = sd.enabled ? status.onSessions?.(() => queueMicrotask(() => sd.status(statusLine()))) : undefined;
    const signal = await signalled;
    if (statusTimer) clearInterval(statusTimer);
    if (settle) clearTimeout(settle);
    offSessions?.();
    sd.stopping(`stopping (${signal}): saving ${status.apps ? plural(status.apps(), "running app") : "state"}`);
    for (const stop of stops) await stop();
    stopWatchdog();
    sd.close();
    stopOn.off();
    return signal === NEW_CARD ? EXIT_NEW_CARD : 0;
  },
};
export default run;
