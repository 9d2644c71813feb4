// wl_data_device_manager (v3): the clipboard ("selection").
//
// A client offering data creates a wl_data_source listing MIME types and
// sets it as the selection. Whichever client has keyboard focus gets a
// wl_data_offer describing it (again each time focus moves); when it wants
// the data it passes us a pipe (receive) and we forward the pipe to the
// source's owner (send), who writes into it. The bytes never pass through
// weft. Drag-and-drop is not supported yet: start_drag cancels the source.
import { closeSync } from "node:fs";
import { ProtocolError, type Client, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import type { Compositor } from "../compositor.ts";

const { wl_data_device_manager, wl_data_source, wl_data_device, wl_data_offer } = wayland;
type SourceRes = Resource<typeof wl_data_source, { mimes: string[]; used: boolean }>;
type DeviceRes = Resource<typeof wl_data_device, null>;
type OfferRes = Resource<typeof wl_data_offer, { source: SourceRes | null }>;

export class DataDevice {
  selection: SourceRes | null = null;
  private devices = new Map<number, Set<DeviceRes>>();
  private offers = new Set<OfferRes>();

  constructor(private readonly comp: Compositor) {
    const dd = this;
    comp.server.global(wl_data_device_manager, 3, (r) => {
      r.implement(
        {
          create_data_source(_m, id) {
            (id as SourceRes).implement(sourceImpl, { mimes: [], used: false });
            id.onDestroy(() => {
              if (dd.selection === id) dd.setSelection(null);
            });
          },
          get_data_device(_m, id) {
            const d = id as DeviceRes;
            d.implement(
              {
                // DnD is not supported: tell the source at once so the client does not wait.
                start_drag(_r, source) {
                  if (source && source.is(wl_data_source)) source.post("cancelled");
                },
                // Only the client with keyboard focus may replace the clipboard.
                set_selection(r, source) {
                  const s = source as SourceRes | null;
                  if (s?.data.used) throw new ProtocolError(r, wl_data_source.enums.error.invalid_source, "source was already used");
                  if (comp.seat.keyboardFocus?.client !== r.client) return;
                  if (s) s.data.used = true;
                  dd.setSelection(s);
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

  setSelection(source: SourceRes | null): void {
    const old = this.selection;
    this.selection = source;
    if (old && old !== source && !old.destroyed) old.post("cancelled");
    // Offers of the old selection stay valid objects but lead nowhere.
    for (const o of this.offers) if (o.data.source === old) o.data.source = null;
    const focus = this.comp.seat.keyboardFocus?.client;
    if (focus) for (const d of this.devices.get(focus.ptr) ?? []) this.offerTo(d);
    this.comp.events.emit("selection", source?.data.mimes ?? null);
    this.comp.server.scheduleFlush();
  }

  /** Keyboard focus moved: the newly focused client learns the current selection. */
  focusChanged(client: Client | null): void {
    if (!client) return;
    for (const d of this.devices.get(client.ptr) ?? []) this.offerTo(d);
  }

  private offerTo(d: DeviceRes): void {
    const src = this.selection;
    if (!src || src.destroyed) {
      d.post("selection", null);
      return;
    }
    const offer = d.client.createResource(wl_data_offer, d.version, 0) as OfferRes;
    offer.implement(offerImpl, { source: src });
    this.offers.add(offer);
    offer.onDestroy(() => this.offers.delete(offer));
    d.post("data_offer", offer);
    for (const m of src.data.mimes) offer.post("offer", m);
    d.post("selection", offer);
  }
}

const sourceImpl = {
  offer(r: SourceRes, mime: string) {
    if (!r.data.mimes.includes(mime)) r.data.mimes.push(mime);
  },
  destroy() {},
  set_actions() {},
};

const offerImpl = {
  accept() {},
  // The client gives us the write end of a pipe; the source's owner fills it.
  receive(r: OfferRes, mime: string, fd: number) {
    const src = r.data.source;
    if (src && !src.destroyed && src.data.mimes.includes(mime)) src.post("send", mime, fd);
    closeSync(fd); // libwayland dup'ed it for the event; ours is done
  },
  destroy() {},
  finish() {},
  set_actions() {},
};
