// The VT port over a Linux virtual terminal (ffi/vt.ts). The kernel asks
// for a release and announces an acquire with signals (VT_SETMODE's relsig
// and acqsig): SIGUSR1 and SIGUSR2, the same signals a session manager
// sends by hand when weft has no VT.
//
// Permission: the VT ioctls that change things need the VT to be the
// caller's controlling terminal or CAP_SYS_TTY_CONFIG. systemd gives a
// service its VT as controlling terminal with TTYPath= + StandardInput=tty
// (systemd/weft.service), a login shell on a VT has it already.
import { closeSync, fstatSync, openSync, constants as fsc } from "node:fs";
import { getuid } from "../../../ffi/libc.ts";
import { K, KD, MAX_NR_CONSOLES, TTY_MAJOR, VT, vtActive, vtGetInt, vtGetMode, vtOpenQuery, vtSet, vtSetMode } from "../../../ffi/vt.ts";
import type { VirtualTerminal, VtHandlers, VtState } from "./vt.ts";

const O_CLOEXEC = 0o2000000;
const SIGUSR1 = 10;
const SIGUSR2 = 12;

/** The VT an fd refers to (1…63), or 0 when it is not a VT. */
export function vtOfFd(fd: number): number {
  let rdev: number;
  try {
    rdev = fstatSync(fd).rdev;
  } catch {
    return 0;
  }
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return major === TTY_MAJOR && minor >= 1 && minor <= MAX_NR_CONSOLES ? minor : 0;
}

export class LinuxVt implements VirtualTerminal {
  private handlers: VtHandlers | null = null;
  private savedKbMode: number | null = null;
  /** The VT that was active when we activated ours (shown again at close). */
  private previous = 0;
  private closed = false;
  private readonly onRel = () => this.handlers?.release();
  private readonly onAcq = () => this.handlers?.acquire();
  private readonly onExit = () => {
    try {
      this.restore();
    } catch (e) {
      process.stderr.write(`weft: ${(e as Error).message}\n`);
    }
  };

  /** `fd` is a descriptor of /dev/tty`number`; `owned` says whether close() closes it. */
  constructor(
    readonly number: number,
    private readonly fd: number,
    private readonly owned: boolean,
  ) {}

  private get what(): string {
    return `/dev/tty${this.number}`;
  }

  /** Opens /dev/tty`n` (read/write, not as controlling terminal). */
  static openNumber(n: number): LinuxVt {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NR_CONSOLES) throw new Error(`VT ${n} does not exist (VTs are 1 to ${MAX_NR_CONSOLES})`);
    let fd: number;
    try {
      fd = openSync(`/dev/tty${n}`, fsc.O_RDWR | fsc.O_NOCTTY | O_CLOEXEC);
    } catch (e) {
      throw new Error(`cannot open /dev/tty${n}: ${(e as Error).message}`);
    }
    if (vtOfFd(fd) !== n) {
      closeSync(fd);
      throw new Error(`/dev/tty${n} is not a virtual terminal`);
    }
    return new LinuxVt(n, fd, true);
  }

  active(): number {
    return vtActive(this.fd, this.what);
  }

  takeOver(h: VtHandlers): void {
    if (this.handlers) throw new Error(`${this.what} is already taken over`);
    if (vtGetInt(this.fd, "KDGETMODE", this.what) === KD.GRAPHICS) throw new Error(`${this.what} is already in graphics mode: is another display server running on it?`);
    const active = this.active();
    if (active !== this.number) {
      vtSet(this.fd, "VT_ACTIVATE", this.number, this.what);
      // Blocks until the switch is done; the VT we leave may ask its owner first.
      vtSet(this.fd, "VT_WAITACTIVE", this.number, this.what);
      this.previous = active;
    }
    this.savedKbMode = vtGetInt(this.fd, "KDGKBMODE", this.what);
    this.handlers = h;
    // Handlers before VT_SETMODE: an unhandled SIGUSR1 would end the process.
    process.on("SIGUSR1", this.onRel);
    process.on("SIGUSR2", this.onAcq);
    process.on("exit", this.onExit);
    try {
      vtSetMode(this.fd, { mode: VT.PROCESS, relsig: SIGUSR1, acqsig: SIGUSR2 }, this.what);
      vtSet(this.fd, "KDSETMODE", KD.GRAPHICS, this.what);
      vtSet(this.fd, "KDSKBMODE", K.OFF, this.what);
    } catch (e) {
      // Undo what took effect; the first error is the one to report.
      try {
        this.restore();
      } catch {
        // (the same cause, most likely)
      }
      throw e;
    }
  }

  release(allow: boolean): void {
    vtSet(this.fd, "VT_RELDISP", allow ? 1 : 0, this.what);
  }

  acknowledgeAcquire(): void {
    vtSet(this.fd, "VT_RELDISP", VT.ACKACQ, this.what);
  }

  switchTo(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NR_CONSOLES) throw new Error(`VT ${n} does not exist (VTs are 1 to ${MAX_NR_CONSOLES})`);
    vtSet(this.fd, "VT_ACTIVATE", n, this.what);
  }

  state(): VtState {
    return {
      graphics: vtGetInt(this.fd, "KDGETMODE", this.what) === KD.GRAPHICS,
      keyboardMode: vtGetInt(this.fd, "KDGKBMODE", this.what),
      process: vtGetMode(this.fd, this.what).mode === VT.PROCESS,
    };
  }

  restore(): void {
    if (!this.handlers) return;
    this.handlers = null;
    process.off("SIGUSR1", this.onRel);
    process.off("SIGUSR2", this.onAcq);
    process.off("exit", this.onExit);
    // Each step on its own: a console left in graphics mode or with its keyboard off is unusable.
    const steps: [string, () => void][] = [
      ["KD_TEXT", () => vtSet(this.fd, "KDSETMODE", KD.TEXT, this.what)],
      ["keyboard mode", () => vtSet(this.fd, "KDSKBMODE", this.savedKbMode ?? K.UNICODE, this.what)],
      ["VT_AUTO", () => vtSetMode(this.fd, { mode: VT.AUTO, relsig: 0, acqsig: 0 }, this.what)],
    ];
    const failed: string[] = [];
    for (const [name, f] of steps)
      try {
        f();
      } catch (e) {
        failed.push(`${name}: ${(e as Error).message}`);
      }
    if (failed.length) throw new Error(`restoring ${this.what}: ${failed.join("; ")}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.restore();
      if (this.previous && this.active() === this.number) this.switchTo(this.previous);
    } finally {
      if (this.owned) closeSync(this.fd);
    }
  }
}

/**
 * The VT weft should own, and how it was found:
 *   $WEFT_VT=N (or "none"), else standard input when it is a VT (systemd's
 *   TTYPath=, a login shell), else $XDG_VTNR (a logind session), else, as
 *   root, the first free VT (VT_OPENQRY on /dev/tty0). null (with the
 *   reason) when there is none: switching is then left to whoever sends
 *   SIGUSR1/SIGUSR2.
 */
export function openLinuxVt(env: Record<string, string | undefined> = process.env): { vt: LinuxVt | null; why: string } {
  const forced = env.WEFT_VT;
  if (forced === "none") return { vt: null, why: "WEFT_VT=none" };
  if (forced) return { vt: LinuxVt.openNumber(Number(forced)), why: `WEFT_VT=${forced}` };
  const stdin = vtOfFd(0);
  if (stdin) return { vt: new LinuxVt(stdin, 0, false), why: `standard input is /dev/tty${stdin}` };
  if (env.XDG_VTNR) return { vt: LinuxVt.openNumber(Number(env.XDG_VTNR)), why: `XDG_VTNR=${env.XDG_VTNR}` };
  if (getuid() !== 0) return { vt: null, why: "standard input is not a VT, no XDG_VTNR, not root" };
  let fd: number;
  try {
    fd = openSync("/dev/tty0", fsc.O_RDWR | fsc.O_NOCTTY | O_CLOEXEC);
  } catch (e) {
    return { vt: null, why: `no /dev/tty0 (${(e as Error).message})` };
  }
  try {
    const n = vtOpenQuery(fd, "/dev/tty0");
    if (n < 1) return { vt: null, why: "no free VT" };
    return { vt: LinuxVt.openNumber(n), why: `the first free VT (VT_OPENQRY)` };
  } finally {
    closeSync(fd);
  }
}
