// wl_data_device_manager (v3): the clipboard ("selection") and drag-and-drop
// (objects/dnd.ts).
//
// A client offering data creates a wl_data_source listing MIME types and
// sets it as the selection. Whichever client has keyboard focus gets a
// wl_data_offer describing it (again each time focus moves); when it wants
// the data it passes us a pipe (receive) and we forward the pipe to the
// source's owner (send), who writes into it. The bytes never pass through
// weft. Drag-and-drop offers are made the same way, by the drag.
//
// weft itself can hold the selection too (an app's weft:app/clipboard.write):
// then it is offered as text and weft writes it into the pipes it is given.
// And weft can read the selection (clipboard.read): it hands the source's
// owner a pipe of its own and reads it on the loop, bounded in size and time.
import { closeSync } from "node:fs";
import { closeFd, EAGAIN, growPipe, pipe, readFd, setNonBlocking, writeFd } from "../../../ffi/libc.ts";
import { watchFd } from "../../loop/fd.ts";
import { ProtocolError, type Client } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";
import type { Surface } from "./surface.ts";
import { ALL_ACTIONS, Drag, dndOffer, type DeviceRes, type OfferRes, type Selection, type SourceRes } from "./dnd.ts";

const { wl_data_device_manager, wl_data_source, wl_data_offer } = wayland;

/** What weft's own selection offers, best first. */
const WEFT_MIMES = ["text/plain;charset=utf-8", "text/plain"];
/** Text types weft asks a client's source for, best first. */
const TEXT_MIMES = ["text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "TEXT", "STRING"];

export const CLIPBOARD_LIMITS = { bytes: 1 << 20, timeoutMs: 2000 };

export class DataDevice {
  private current: Selection | null = null;
  private devices = new Map<number, Set<DeviceRes>>();
  private offers = new Set<OfferRes>();

  constructor(private readonly comp: Compositor) {
    const dd = this;
    comp.server.global(wl_data_device_manager, 3, (r) => {
      r.implement(
        {
          create_data_source(_m, id) {
            (id as SourceRes).implement(sourceImpl, { mimes: [], used: false, actions: 0 });
            id.onDestroy(() => {
              if (dd.selection === id) dd.setSelection(null);
            });
          },
          get_data_device(_m, id) {
            const d = id as DeviceRes;
            d.implement(
              {
                // The client pressed on something it wants to drag (objects/dnd.ts).
                start_drag(r, source, origin, icon, serial) {
                  const src = source as SourceRes | null;
                  if (src?.data.used) throw new ProtocolError(src, wl_data_source.enums.error.invalid_source, "source was already used");
                  const iconSurface = icon ? (icon.data as Surface) : null;
                  if (iconSurface?.role && iconSurface.role.name !== "wl_data_device.icon") throw new ProtocolError(r, wayland.wl_data_device.enums.error.role, `icon surface already has role ${iconSurface.role.name}`);
                  if (src) src.data.used = true;
                  const granted = comp.seat.startDrag(r.client.ptr, serial, () => new Drag(comp, src, origin.data as Surface, iconSurface));
                  // Not while the press it quotes is held: tell the source at once so the client does not wait.
                  if (!granted && src) src.post("cancelled");
                },
                // Only the client with keyboard focus may replace the clipboard.
                set_selection(r, source) {
                  const s = source as SourceRes | null;
                  if (s?.data.used) throw new ProtocolError(s, wl_data_source.enums.error.invalid_source, "source was already used");
                  if (comp.seat.keyboardFocus?.client !== r.client) return;
                  if (s) s.data.used = true;
                  dd.setSelection(s ? { owner: "client", source: s } : null);
                },
                release() {},
              },
              null,
            );
            let set = dd.devices.get(d.client.ptr);
            if (!set) dd.devices.set(d.client.ptr, (set = new Set()));
            const devs = set;
            devs.add(d);
            d.onDestroy(() => {
              devs.delete(d);
              if (devs.size === 0) dd.devices.delete(d.client.ptr);
            });
            if (comp.seat.keyboardFocus?.client === d.client) dd.offerTo(d);
          },
        },
        null,
      );
    });
  }

  /** The client data source that holds the clipboard, if a client does. */
  get selection(): SourceRes | null {
    return this.current?.owner === "client" ? this.current.source : null;
  }

  setSelection(sel: Selection | null): void {
    const old = this.current;
    this.current = sel;
    if (old?.owner === "client" && !old.source.destroyed && !(sel?.owner === "client" && sel.source === old.source)) old.source.post("cancelled");
    // Offers of the old selection stay valid objects but lead nowhere.
    for (const o of this.offers) if (o.data.selection === old) o.data.selection = null;
    const focus = this.comp.seat.keyboardFocus?.client;
    if (focus) for (const d of this.devices.get(focus.ptr) ?? []) this.offerTo(d);
    this.comp.events.emit("selection", sel ? mimesOf(sel) : null);
    this.comp.server.scheduleFlush();
  }

  /** weft takes the clipboard with `text` (an app's clipboard.write). */
  writeText(text: string): void {
    this.setSelection({ owner: "weft", text: new TextEncoder().encode(text) });
  }

  /**
   * The clipboard's text (an app's clipboard.read): weft's own, or read from
   * the owning client through a pipe, at most CLIPBOARD_LIMITS.bytes within
   * CLIPBOARD_LIMITS.timeoutMs. Rejects with a message a person can act on.
   */
  readText(signal?: AbortSignal): Promise<string> {
    const sel = this.current;
    if (!sel || (sel.owner === "client" && sel.source.destroyed)) return Promise.reject(new Error("the clipboard is empty"));
    if (sel.owner === "weft") return Promise.resolve(new TextDecoder().decode(sel.text));
    const source = sel.source;
    const mime = TEXT_MIMES.find((m) => source.data.mimes.includes(m));
    if (!mime) return Promise.reject(new Error(`the clipboard holds no text (it offers ${source.data.mimes.join(", ") || "nothing"})`));
    const [r, w] = pipe();
    source.post("send", mime, w);
    closeFd(w); // libwayland dup'ed it for the event; the client holds the write end now
    this.comp.server.scheduleFlush();
    return readAll(r, signal);
  }

  /** Keyboard focus moved: the newly focused client learns the current selection. */
  focusChanged(client: Client | null): void {
    if (!client) return;
    for (const d of this.devices.get(client.ptr) ?? []) this.offerTo(d);
  }

  /** A client's wl_data_devices (drags talk to all of them). */
  devicesOf(client: Client): Iterable<DeviceRes> {
    return this.devices.get(client.ptr) ?? [];
  }

  /** A new wl_data_offer on `d` for `selection`; `drag` for drag-and-drop offers. Announced with data_offer. */
  newOffer(d: DeviceRes, selection: Selection, drag: Drag | null): OfferRes {
    const offer = d.client.createResource(wl_data_offer, d.version, 0) as OfferRes;
    offer.implement(offerImpl, { selection, drag, actions: 0, preferred: 0, accepted: null, dropped: false, finished: false });
    this.offers.add(offer);
    offer.onDestroy(() => {
      this.offers.delete(offer);
      dndOffer.destroyed(offer);
    });
    d.post("data_offer", offer);
    return offer;
  }

  private offerTo(d: DeviceRes): void {
    const sel = this.current;
    if (!sel || (sel.owner === "client" && sel.source.destroyed)) {
      d.post("selection", null);
      return;
    }
    const offer = this.newOffer(d, sel, null);
    for (const m of mimesOf(sel)) offer.post("offer", m);
    d.post("selection", offer);
  }
}

function mimesOf(sel: Selection): string[] {
  return sel.owner === "client" ? sel.source.data.mimes : WEFT_MIMES;
}

/** Reads `fd` to its end on the loop (never blocking it), then closes it. */
function readAll(fd: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(64 * 1024);
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return; // the fd is closed once: a second close could hit a reused number
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      watch.close();
      closeFd(fd);
      if (err) return reject(err);
      resolve(new TextDecoder().decode(Buffer.concat(chunks)));
    };
    const onAbort = () => finish(new Error("aborted"));
    // The watch first: if it cannot be made, nothing else was set up (and the fd is closed here).
    let watch: ReturnType<typeof watchFd>;
    try {
      // One read per readiness: the fd is blocking, and readable means one read will not block.
      watch = watchFd(fd, () => {
        const n = readFd(fd, buf);
        if (n === -EAGAIN) return;
        if (n < 0) return finish(new Error(`reading the clipboard failed (errno ${-n})`));
        if (n === 0) return finish(null);
        total += n;
        if (total > CLIPBOARD_LIMITS.bytes) return finish(new Error(`the clipboard holds more than ${CLIPBOARD_LIMITS.bytes} bytes`));
        chunks.push(buf.slice(0, n));
      });
    } catch (e) {
      done = true;
      closeFd(fd);
      return reject(e);
    }
    const timer = setTimeout(
      () => finish(new Error(`the app holding the clipboard did not hand it over within ${CLIPBOARD_LIMITS.timeoutMs / 1000} s`)),
      CLIPBOARD_LIMITS.timeoutMs,
    );
    signal?.addEventListener("abort", onAbort);
  });
}

/**
 * Writes weft's selection into a client's pipe without blocking the loop:
 * non-blocking, the pipe grown to fit when the kernel allows, and what does
 * not fit retried every 10 ms for up to CLIPBOARD_LIMITS.timeoutMs.
 */
function writeAll(fd: number, data: Uint8Array): void {
  try {
    setNonBlocking(fd);
  } catch {
    closeFd(fd);
    return;
  }
  if (data.length > 65536) growPipe(fd, data.length);
  let at = 0;
  const deadline = performance.now() + CLIPBOARD_LIMITS.timeoutMs;
  const step = () => {
    while (at < data.length) {
      const n = writeFd(fd, data.subarray(at));
      if (n === -EAGAIN) {
        if (performance.now() < deadline) return void setTimeout(step, 10);
        break; // the client does not read: give up, it sees a short read
      }
      if (n <= 0) break; // EPIPE: the client went away
      at += n;
    }
    closeFd(fd);
  };
  step();
}

const sourceImpl = {
  offer(r: SourceRes, mime: string) {
    if (!r.data.mimes.includes(mime)) r.data.mimes.push(mime);
  },
  destroy() {},
  // The actions a drag source allows; only before its drag starts.
  set_actions(r: SourceRes, actions: number) {
    if (actions & ~ALL_ACTIONS) throw new ProtocolError(r, wl_data_source.enums.error.invalid_action_mask, `bad action mask ${actions}`);
    if (r.data.used) throw new ProtocolError(r, wl_data_source.enums.error.invalid_source, "set_actions after the source was used");
    r.data.actions = actions;
  },
};

const offerImpl = {
  accept: dndOffer.accept,
  // The client gives us the write end of a pipe; the selection's owner fills it.
  receive(r: OfferRes, mime: string, fd: number) {
    const sel = r.data.selection;
    if (sel?.owner === "weft" && WEFT_MIMES.includes(mime)) return writeAll(fd, sel.text); // closes fd when done
    if (sel?.owner === "client" && !sel.source.destroyed && sel.source.data.mimes.includes(mime)) sel.source.post("send", mime, fd);
    closeSync(fd); // libwayland dup'ed it for the event; ours is done
  },
  destroy() {},
  finish: dndOffer.finish,
  set_actions: dndOffer.set_actions,
};
