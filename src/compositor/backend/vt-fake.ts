// A model of the kernel's VT switching for tests (the VT port's fake): a
// set of VTs, one active; a VT in VT_PROCESS mode is asked before a switch
// away (release, answered with VT_RELDISP) and told after a switch to it
// (acquire). Requests arrive asynchronously, as the kernel's signals do.
// Errors carry the errno the kernel gives for the same mistake.
import { K, KD, MAX_NR_CONSOLES, VT, VtError } from "../../../ffi/vt.ts";
import type { VirtualTerminal, VtHandlers, VtState } from "./vt.ts";

const EINVAL = 22;
const ENXIO = 6;
const EPERM = 1;

interface Console {
  mode: number; // KD_TEXT / KD_GRAPHICS
  kbMode: number;
  process: boolean;
  owner: FakeVt | null;
  /** The VT a switch away from this one waits to go to (-1: none). */
  pending: number;
}

export class FakeVtKernel {
  active: number;
  private readonly vts = new Map<number, Console>();
  /** Every switch that happened, as [from, to]. */
  readonly switches: [number, number][] = [];

  constructor(
    readonly count = 6,
    active = 1,
  ) {
    for (let n = 1; n <= count; n++) this.vts.set(n, { mode: KD.TEXT, kbMode: K.UNICODE, process: false, owner: null, pending: -1 });
    this.active = active;
  }

  console(n: number): Console {
    const c = this.vts.get(n);
    if (!c) throw new VtError(`VT ${n}`, ENXIO);
    return c;
  }

  /** VT_ACTIVATE from anyone (chvt, Ctrl+Alt+Fn in a text console, another session). */
  activate(n: number, what = `VT_ACTIVATE(${n})`): void {
    if (n < 1 || n > MAX_NR_CONSOLES) throw new VtError(what, ENXIO);
    this.console(n);
    if (n === this.active) return;
    const from = this.console(this.active);
    if (from.process && from.owner) {
      from.pending = n;
      const owner = from.owner;
      setImmediate(() => owner.signal("release"));
      return;
    }
    this.complete(n);
  }

  private complete(n: number): void {
    this.switches.push([this.active, n]);
    this.active = n;
    const to = this.console(n);
    if (to.process && to.owner) {
      const owner = to.owner;
      setImmediate(() => owner.signal("acquire"));
    }
  }

  reldisp(n: number, arg: number, what: string): void {
    const c = this.console(n);
    if (!c.process) throw new VtError(what, EINVAL);
    if (c.pending >= 0) {
      const to = c.pending;
      c.pending = -1;
      if (arg !== 0) this.complete(to);
      return;
    }
    if (arg !== VT.ACKACQ) throw new VtError(what, EINVAL);
  }

  /** A VT open in another program (the text console's own state). */
  state(n: number): VtState {
    const c = this.console(n);
    return { graphics: c.mode === KD.GRAPHICS, keyboardMode: c.kbMode, process: c.process };
  }
}

export class FakeVt implements VirtualTerminal {
  private handlers: VtHandlers | null = null;
  private savedKbMode: number | null = null;
  private previous = 0;
  private closed = false;

  /** `permitted: false` models a VT that is not our controlling terminal (without CAP_SYS_TTY_CONFIG): changes are EPERM. */
  constructor(
    readonly kernel: FakeVtKernel,
    readonly number: number,
    private readonly opts: { permitted?: boolean } = {},
  ) {
    kernel.console(number);
  }

  private get what(): string {
    return `/dev/tty${this.number}`;
  }

  private perm(call: string): void {
    if (this.opts.permitted === false) throw new VtError(`${call} on ${this.what}`, EPERM);
  }

  /** The kernel's signal arriving. */
  signal(which: "release" | "acquire"): void {
    if (which === "release") this.handlers?.release();
    else this.handlers?.acquire();
  }

  active(): number {
    return this.kernel.active;
  }

  takeOver(h: VtHandlers): void {
    if (this.handlers) throw new Error(`${this.what} is already taken over`);
    const c = this.kernel.console(this.number);
    if (c.mode === KD.GRAPHICS) throw new Error(`${this.what} is already in graphics mode: is another display server running on it?`);
    this.perm("VT_SETMODE(VT_PROCESS)");
    if (this.kernel.active !== this.number) {
      const from = this.kernel.active;
      this.kernel.activate(this.number);
      // The kernel's VT_WAITACTIVE would block until the VT we leave lets go; the model cannot wait.
      if (this.kernel.active !== this.number) throw new Error(`VT_WAITACTIVE(${this.number}) on ${this.what}: VT ${from} did not let go at once`);
      this.previous = from;
    }
    this.savedKbMode = c.kbMode;
    this.handlers = h;
    c.process = true;
    c.owner = this;
    c.mode = KD.GRAPHICS;
    c.kbMode = K.OFF;
  }

  release(allow: boolean): void {
    this.perm(`VT_RELDISP(${allow ? 1 : 0})`);
    this.kernel.reldisp(this.number, allow ? 1 : 0, `VT_RELDISP(${allow ? 1 : 0}) on ${this.what}`);
  }

  acknowledgeAcquire(): void {
    this.perm(`VT_RELDISP(${VT.ACKACQ})`);
    this.kernel.reldisp(this.number, VT.ACKACQ, `VT_RELDISP(${VT.ACKACQ}) on ${this.what}`);
  }

  switchTo(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NR_CONSOLES) throw new Error(`VT ${n} does not exist (VTs are 1 to ${MAX_NR_CONSOLES})`);
    this.perm(`VT_ACTIVATE(${n})`);
    this.kernel.activate(n, `VT_ACTIVATE(${n}) on ${this.what}`);
  }

  state(): VtState {
    return this.kernel.state(this.number);
  }

  restore(): void {
    if (!this.handlers) return;
    this.handlers = null;
    const c = this.kernel.console(this.number);
    c.mode = KD.TEXT;
    c.kbMode = this.savedKbMode ?? K.UNICODE;
    c.process = false;
    c.owner = null;
    c.pending = -1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.restore();
    if (this.previous && this.kernel.active === this.number) this.kernel.activate(this.previous);
  }
}
