// ffi/xkbcommon.ts — libxkbcommon through bun:ffi: the keymap weft sends to
// clients (wl_keyboard.keymap) and the state it tracks to send modifiers.
//
// Ownership: context/keymap/state are reference-counted; weft creates one
// of each per seat and keeps them for the process's life.
import type { PointerReturns } from "./types.ts";
import { CString, dlopen, FFIType, ptr, type Pointer } from "bun:ffi";

const { ptr: P, i32, u32, void: v } = FFIType;

const lib = dlopen("libxkbcommon.so.0", {
  xkb_context_new: { args: [i32], returns: P },
  xkb_keymap_new_from_names: { args: [P, P, i32], returns: P },
  xkb_keymap_get_as_string: { args: [P, i32], returns: P },
  xkb_state_new: { args: [P], returns: P },
  xkb_state_update_key: { args: [P, u32, i32], returns: i32 },
  xkb_state_serialize_mods: { args: [P, i32], returns: u32 },
  xkb_state_serialize_layout: { args: [P, i32], returns: u32 },
  xkb_state_unref: { args: [P], returns: v },
  xkb_keymap_unref: { args: [P], returns: v },
  xkb_context_unref: { args: [P], returns: v },
});
const K = lib.symbols as unknown as PointerReturns<typeof lib.symbols>;

/** enum xkb_state_component */
const STATE = { modsDepressed: 1, modsLatched: 2, modsLocked: 4, layoutEffective: 0x80 } as const;
const KEYMAP_FORMAT_TEXT_V1 = 1;
/** evdev keycodes are offset by 8 in XKB. */
const EVDEV_OFFSET = 8;

export interface Modifiers {
  depressed: number;
  latched: number;
  locked: number;
  group: number;
}

export class Keymap {
  readonly text: string;
  private readonly state: Pointer;
  /**
   * Compiles a keymap from RMLVO names (empty = the system default, usually
   * evdev/pc105/us; XKB_DEFAULT_* environment variables apply).
   */
  constructor(names: { rules?: string; model?: string; layout?: string; variant?: string; options?: string } = {}) {
    const ctx = K.xkb_context_new(0);
    if (!ctx) throw new Error("xkb_context_new failed");
    // struct xkb_rule_names { const char *rules, *model, *layout, *variant, *options; }
    const keep: Uint8Array[] = [];
    const rmlvo = new BigUint64Array(5);
    [names.rules, names.model, names.layout, names.variant, names.options].forEach((s, i) => {
      if (!s) return;
      const b = new TextEncoder().encode(s + "\0");
      keep.push(b);
      rmlvo[i] = BigInt(ptr(b) as unknown as number);
    });
    const keymap = K.xkb_keymap_new_from_names(ctx, ptr(rmlvo), 0);
    if (!keymap) throw new Error("cannot compile the XKB keymap (is xkb-data installed?)");
    const s = K.xkb_keymap_get_as_string(keymap, KEYMAP_FORMAT_TEXT_V1);
    if (!s) throw new Error("xkb_keymap_get_as_string failed");
    this.text = new CString(s).toString(); // leaks one string per keymap; there is one per seat
    const state = K.xkb_state_new(keymap);
    if (!state) throw new Error("xkb_state_new failed");
    this.state = state;
  }

  /** Feeds an evdev key press/release; returns the modifiers if they changed. */
  updateKey(evdevKey: number, pressed: boolean): Modifiers | null {
    const changed = K.xkb_state_update_key(this.state, evdevKey + EVDEV_OFFSET, pressed ? 1 : 0);
    return changed ? this.modifiers() : null;
  }

  modifiers(): Modifiers {
    return {
      depressed: K.xkb_state_serialize_mods(this.state, STATE.modsDepressed),
      latched: K.xkb_state_serialize_mods(this.state, STATE.modsLatched),
      locked: K.xkb_state_serialize_mods(this.state, STATE.modsLocked),
      group: K.xkb_state_serialize_layout(this.state, STATE.layoutEffective),
    };
  }
}
