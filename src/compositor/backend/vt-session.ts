// Sharing the screen with other VTs: the session ties the VT (when weft
// has one) to the display and the input.
//
// Switch away (the kernel's release request): stop rendering and drop DRM
// master (display.deactivate), stop reading input and release the grabs
// (input.suspend), then let the switch happen (VT_RELDISP 1) — the other
// VT's session finds the card and the devices free.
// Switch back (acquire): acknowledge (VT_RELDISP VT_ACKACQ), take master,
// re-probe, repaint everything (display.activate), read input again.
//
// Without a VT (no VT found, or weft may not take it over) the same two
// steps run on SIGUSR1/SIGUSR2 sent by a session manager; Ctrl+Alt+Fn is
// then only logged.
import type { VirtualTerminal } from "./vt.ts";

export interface SessionParts {
  display: { deactivate(): void; activate(): boolean };
  input: { suspend(): void; resume(): void };
  log: (msg: string) => void;
}

const RETRY_MS = 250;

export class VtSession {
  private readonly onUsr1 = () => this.away();
  private readonly onUsr2 = () => this.back();
  private started = false;
  /** Retries taking the display while another session still holds DRM master after the switch to us. */
  private retry: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly vt: VirtualTerminal | null,
    private readonly parts: SessionParts,
  ) {}

  /** Takes the VT over (throws if that is refused), else listens for SIGUSR1/SIGUSR2. */
  start(): void {
    if (this.started) return;
    if (this.vt) this.vt.takeOver({ release: () => this.release(), acquire: () => this.acquire() });
    else {
      process.on("SIGUSR1", this.onUsr1);
      process.on("SIGUSR2", this.onUsr2);
    }
    this.started = true;
  }

  private release(): void {
    this.parts.log(`VT ${this.vt!.number}: switching away`);
    this.away();
    try {
      this.vt!.release(true);
    } catch (e) {
      // A SIGUSR1 sent by hand: no switch is waiting for us, so the screen stays ours.
      this.parts.log(`no VT switch pending (${(e as Error).message}); display kept`);
      this.back();
    }
  }

  private acquire(): void {
    this.parts.log(`VT ${this.vt!.number}: back`);
    try {
      this.vt!.acknowledgeAcquire();
    } catch (e) {
      this.parts.log(`acknowledging the VT switch: ${(e as Error).message}`);
    }
    this.back();
  }

  // Both run in signal handlers, between the kernel's request and our
  // answer: a throw there would leave the switch unanswered (no VT could be
  // switched to again) or the input not read, so each step's failure is
  // logged and the next step still runs.
  private away(): void {
    this.stopRetrying();
    this.step("giving the display up", () => this.parts.display.deactivate());
    this.step("releasing input", () => this.parts.input.suspend());
  }

  private back(): void {
    this.stopRetrying();
    this.step("taking the display back", () => {
      if (this.parts.display.activate()) return;
      // No signal tells us when the other session drops master (one may acknowledge its
      // switch away before it does): ask again until it is free, or we are switched away.
      this.parts.log(`the display is still held by another session; weft takes it when it is free (retrying every ${RETRY_MS} ms)`);
      this.retry = setInterval(() => {
        let got = false;
        try {
          got = this.parts.display.activate();
        } catch (e) {
          this.parts.log(`taking the display back: ${(e as Error).message}`);
        }
        if (!got) return;
        this.stopRetrying();
        this.parts.log("the display is free again: resumed");
      }, RETRY_MS);
      this.retry.unref();
    });
    this.step("resuming input", () => this.parts.input.resume());
  }

  private stopRetrying(): void {
    if (this.retry) clearInterval(this.retry);
    this.retry = null;
  }

  private step(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.parts.log(`${what}: ${(e as Error).message}`);
    }
  }

  /** Ctrl+Alt+F`n`. */
  switchTo(n: number): void {
    if (!this.vt) return this.parts.log(`Ctrl+Alt+F${n}: weft owns no VT, nothing to switch`);
    if (n === this.vt.number) return;
    this.parts.log(`Ctrl+Alt+F${n}: switching to VT ${n}`);
    try {
      this.vt.switchTo(n);
    } catch (e) {
      this.parts.log(`switching to VT ${n}: ${(e as Error).message}`);
    }
  }

  /** Gives the VT back (text mode, keyboard, automatic switching). */
  destroy(): void {
    if (!this.started) return;
    this.started = false;
    this.stopRetrying();
    process.off("SIGUSR1", this.onUsr1);
    process.off("SIGUSR2", this.onUsr2);
    try {
      this.vt?.close();
    } catch (e) {
      this.parts.log((e as Error).message);
    }
  }
}
