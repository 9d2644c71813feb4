// The virtual terminal port: what weft needs from the VT it runs on to
// share the screen with the text consoles and other sessions.
//
// Owning a VT means: graphics mode (the kernel stops drawing its console on
// top of us), keyboard off (keys come from evdev; the VT must not also see
// them), and process-controlled switching — the kernel asks before switching
// away (`release`, answered with `release(true|false)`) and tells us when
// the VT is ours again (`acquire`, answered with `acknowledgeAcquire()`).
// Between the two weft must neither draw nor read input nor hold DRM
// master: the other VT's session needs all three.
//
// Two implementations keep one contract (tests/compositor/vt-contract.ts):
// vt-linux.ts over /dev/ttyN (the kernel's ioctls, requests as signals) and
// vt-fake.ts, a model of the kernel's switching rules for tests.
export interface VtHandlers {
  /** Another VT is to become active: stop, then answer release(). */
  release(): void;
  /** Our VT is active again: answer acknowledgeAcquire(), then resume. */
  acquire(): void;
}

export interface VtState {
  /** KDGETMODE is KD_GRAPHICS. */
  graphics: boolean;
  /** KDGKBMODE (K_OFF = 4 while weft owns the VT). */
  keyboardMode: number;
  /** VT_GETMODE is VT_PROCESS. */
  process: boolean;
}

export interface VirtualTerminal {
  /** Our VT's number (tty1 = 1). */
  readonly number: number;
  /** The active VT's number. */
  active(): number;
  /** Makes our VT active (if it is not) and takes it over; `h` is told of switches from now on. */
  takeOver(h: VtHandlers): void;
  /** Answers a release request: true lets the switch happen, false refuses it. Throws (EINVAL) when no switch is pending. */
  release(allow: boolean): void;
  /** Acknowledges that we took the VT back. */
  acknowledgeAcquire(): void;
  /** Asks for VT `n` to become active (Ctrl+Alt+Fn). With our VT active, a release request follows. */
  switchTo(n: number): void;
  /** What the kernel reports for our VT now. */
  state(): VtState;
  /** Text mode, the keyboard mode found at takeOver, automatic switching; idempotent. */
  restore(): void;
  /** restore(), then lets go of the VT (and, if we activated it, shows the VT that was active before). */
  close(): void;
}

/** Ctrl+Alt+F1…F12: the evdev key code → the VT number, or 0. */
export function vtForKey(code: number): number {
  if (code >= 59 && code <= 68) return code - 58; // KEY_F1 … KEY_F10
  if (code === 87 || code === 88) return code - 76; // KEY_F11, KEY_F12
  return 0;
}
