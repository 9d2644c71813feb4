// ffi/vt.ts — the Linux virtual terminal ioctls (linux/vt.h, linux/kd.h)
// weft needs to own a VT: graphics mode, keyboard off, process-controlled
// switching (release/acquire signals), activation and state queries.
//
// Layouts and ioctl numbers are written once here;
// tests/compositor/vt-ffi.test.ts checks them against the kernel headers
// with a C program.
import { errnoName, ioctl, ioctlValue } from "./libc.ts";

export const LAYOUT = {
  /** struct vt_mode: char mode, char waitv, short relsig, short acqsig, short frsig. */
  vt_mode: { size: 8, mode: 0, waitv: 1, relsig: 2, acqsig: 4, frsig: 6 },
  /** struct vt_stat: unsigned short v_active, v_signal, v_state. */
  vt_stat: { size: 6, v_active: 0, v_signal: 2, v_state: 4 },
} as const;

export const IOCTL = {
  KDSETMODE: 0x4b3a,
  KDGETMODE: 0x4b3b,
  KDGKBMODE: 0x4b44,
  KDSKBMODE: 0x4b45,
  VT_OPENQRY: 0x5600,
  VT_GETMODE: 0x5601,
  VT_SETMODE: 0x5602,
  VT_GETSTATE: 0x5603,
  VT_RELDISP: 0x5605,
  VT_ACTIVATE: 0x5606,
  VT_WAITACTIVE: 0x5607,
} as const;

/** KDSETMODE values. */
export const KD = { TEXT: 0x00, GRAPHICS: 0x01 } as const;
/** KDSKBMODE values: K_OFF (added in Linux 2.6.39) makes the VT ignore the keyboard entirely. */
export const K = { RAW: 0x00, XLATE: 0x01, MEDIUMRAW: 0x02, UNICODE: 0x03, OFF: 0x04 } as const;
/** vt_mode.mode, and VT_RELDISP's "acquire acknowledged". */
export const VT = { AUTO: 0x00, PROCESS: 0x01, ACKACQ: 0x02 } as const;
/** The kernel's VT count (MAX_NR_CONSOLES). */
export const MAX_NR_CONSOLES = 63;
/** Major device number of /dev/ttyN (TTY_MAJOR); minors 1..63 are VTs. */
export const TTY_MAJOR = 4;

export class VtError extends Error {
  constructor(
    what: string,
    readonly errno: number,
  ) {
    super(`${what} failed: ${errnoName(errno)}`);
  }
}

function check(what: string, r: number): number {
  if (r < 0) throw new VtError(what, -r);
  return r;
}

/** ioctl with a value argument (KDSETMODE, KDSKBMODE, VT_RELDISP, VT_ACTIVATE, VT_WAITACTIVE). */
export function vtSet(fd: number, name: keyof typeof IOCTL, value: number, what = ""): void {
  check(`${name}(${value})${what ? ` on ${what}` : ""}`, ioctlValue(fd, IOCTL[name], value));
}

/** KDGETMODE / KDGKBMODE: the kernel writes an int (KDGETMODE) or a long-sized int (KDGKBMODE); 8 bytes cover both. */
export function vtGetInt(fd: number, name: "KDGETMODE" | "KDGKBMODE", what = ""): number {
  const b = new Uint8Array(8);
  check(`${name}${what ? ` on ${what}` : ""}`, ioctl(fd, IOCTL[name], b));
  return new DataView(b.buffer).getInt32(0, true);
}

/** VT_OPENQRY: the first free VT (not opened by anyone), or -1 when there is none. */
export function vtOpenQuery(fd: number, what = ""): number {
  const b = new Uint8Array(4);
  check(`VT_OPENQRY${what ? ` on ${what}` : ""}`, ioctl(fd, IOCTL.VT_OPENQRY, b));
  return new DataView(b.buffer).getInt32(0, true);
}

export interface VtMode {
  mode: number;
  relsig: number;
  acqsig: number;
}

export function vtGetMode(fd: number, what = ""): VtMode {
  const b = new Uint8Array(LAYOUT.vt_mode.size);
  check(`VT_GETMODE${what ? ` on ${what}` : ""}`, ioctl(fd, IOCTL.VT_GETMODE, b));
  const v = new DataView(b.buffer);
  return { mode: v.getInt8(LAYOUT.vt_mode.mode), relsig: v.getInt16(LAYOUT.vt_mode.relsig, true), acqsig: v.getInt16(LAYOUT.vt_mode.acqsig, true) };
}

export function vtSetMode(fd: number, m: VtMode, what = ""): void {
  const b = new Uint8Array(LAYOUT.vt_mode.size);
  const v = new DataView(b.buffer);
  v.setInt8(LAYOUT.vt_mode.mode, m.mode);
  v.setInt16(LAYOUT.vt_mode.relsig, m.relsig, true);
  v.setInt16(LAYOUT.vt_mode.acqsig, m.acqsig, true);
  check(`VT_SETMODE(${m.mode === VT.PROCESS ? "VT_PROCESS" : "VT_AUTO"})${what ? ` on ${what}` : ""}`, ioctl(fd, IOCTL.VT_SETMODE, b));
}

/** VT_GETSTATE: the active VT's number. */
export function vtActive(fd: number, what = ""): number {
  const b = new Uint8Array(LAYOUT.vt_stat.size);
  check(`VT_GETSTATE${what ? ` on ${what}` : ""}`, ioctl(fd, IOCTL.VT_GETSTATE, b));
  return new DataView(b.buffer).getUint16(LAYOUT.vt_stat.v_active, true);
}
