// Drag-and-drop through wl_data_device (v3).
//
// A client presses on something and calls start_drag, quoting that press's
// serial: from then until the buttons are up the pointer belongs to the
// drag. Whatever surface is under the pointer hears enter (with a fresh
// wl_data_offer listing the source's MIME types and actions), motion and
// leave on its wl_data_devices; regular wl_pointer events stop. The
// destination says what it can take (offer.accept, offer.set_actions); weft
// picks the action both sides allow (the destination's preference first)
// and tells both (action events). On release, if the destination accepted
// a type and an action was agreed, it gets drop, the source
// dnd_drop_performed; the destination receives the data through a pipe
// exactly like a paste and ends with offer.finish, which the source hears
// as dnd_finished (a "move" source then deletes its copy). Anything else —
// no target, nothing accepted, the source or target going away — cancels
// the source. The drag icon is a surface drawn above everything at the
// pointer.
import { ProtocolError, type Resource } from "../wl.ts";
import { wayland } from "../protocol/index.ts";
import { View } from "../scene.ts";
import type { Compositor } from "../compositor.ts";
import type { Role, Surface } from "./surface.ts";

const { wl_data_source, wl_data_device, wl_data_offer, wl_data_device_manager } = wayland;
const ACTION = wl_data_device_manager.enums.dnd_action;
/** Every wl_data_device_manager.dnd_action bit (what sources and offers may set). */
export const ALL_ACTIONS = ACTION.copy | ACTION.move | ACTION.ask;

export interface SourceData {
  mimes: string[];
  used: boolean;
  /** wl_data_source.set_actions (drag sources only). */
  actions: number;
}
export type SourceRes = Resource<typeof wl_data_source, SourceData>;
export type DeviceRes = Resource<typeof wl_data_device, null>;

/** What an offer hands out: a client's data source, or weft's own text (the clipboard only). */
export type Selection = { owner: "client"; source: SourceRes } | { owner: "weft"; text: Uint8Array };

export interface OfferData {
  /** Where receive reads from; null once the offer leads nowhere. */
  selection: Selection | null;
  /** Set for drag-and-drop offers. */
  drag: Drag | null;
  actions: number;
  preferred: number;
  accepted: string | null;
  dropped: boolean;
  finished: boolean;
}
export type OfferRes = Resource<typeof wl_data_offer, OfferData>;

const sourceOf = (o: OfferData): SourceRes | null => (o.selection?.owner === "client" ? o.selection.source : null);

const iconRole: Role = { name: "wl_data_device.icon", commit() {} };

export class Drag {
  /** The surface under the pointer and the offers made to its client's devices. */
  focus: Surface | null = null;
  private offers: OfferRes[] = [];
  /** The action both sides agreed on (0: none). */
  action = 0;
  private iconView: View | null = null;
  private iconOffset = { x: 0, y: 0 };
  private ended = false;
  /** The finger carrying this drag (wl_touch id), or null when the pointer does. */
  touchId: number | null = null;

  constructor(
    private readonly comp: Compositor,
    readonly source: SourceRes | null,
    readonly origin: Surface,
    readonly icon: Surface | null,
  ) {
    source?.onDestroy(this.sourceGone);
    if (icon) {
      icon.setRole(iconRole, icon.resource, wl_data_device.enums.error.role);
      this.iconView = new View(icon, "overlay", "icon");
      icon.onDestroy(() => (this.iconView = null));
      // The icon follows the pointer; attach offsets move it relative to the hotspot.
      icon.role = {
        name: iconRole.name,
        commit: (s) => {
          this.iconOffset.x += s.offset.dx;
          this.iconOffset.y += s.offset.dy;
          this.placeIcon();
        },
      };
      this.iconOffset = { x: icon.offset.dx, y: icon.offset.dy };
      this.placeIcon();
    }
  }

  private sourceGone = () => {
    if (this.ended) return;
    this.setFocus(null);
    this.end();
  };

  private placeIcon(): void {
    const v = this.iconView;
    if (!v || this.ended) return;
    const at = this.comp.seat.dragPoint(this);
    const scene = this.comp.scene;
    const x = at.x + this.iconOffset.x;
    const y = at.y + this.iconOffset.y;
    if (!v.mapped) {
      if (!v.surface.content) return;
      v.x = x;
      v.y = y;
      scene.map(v);
    } else scene.move(v, x, y);
  }

  /** The pointer (or the finger carrying the drag) moved. */
  motion(): void {
    const seat = this.comp.seat;
    this.placeIcon();
    const at = seat.dragPoint(this);
    const hit = this.comp.scene.surfaceAt(at.x, at.y);
    const target = hit?.surface ?? null;
    // A drag without a source stays inside its own client.
    const allowed = target && (this.source || target.client === this.origin.client) ? target : null;
    if (allowed !== this.focus) this.setFocus(allowed, hit?.sx ?? 0, hit?.sy ?? 0);
    else if (this.focus && hit) {
      const t = seat.timeMs();
      for (const d of this.comp.dataDevice.devicesOf(this.focus.client)) d.post("motion", t, hit.sx, hit.sy);
    }
    this.comp.server.scheduleFlush();
  }

  /** Tells the focused client the drag left it. Its offers lead nowhere now, unless they were dropped on. */
  private leave(): void {
    if (this.focus && !this.focus.destroyed) for (const d of this.comp.dataDevice.devicesOf(this.focus.client)) d.post("leave");
    for (const o of this.offers) if (!o.data.dropped) o.data.selection = null;
    this.offers = [];
    this.focus = null;
  }

  private setFocus(s: Surface | null, sx = 0, sy = 0): void {
    this.leave();
    this.focus = s;
    this.setAction(0);
    if (!s) return;
    const serial = this.comp.server.nextSerial();
    for (const d of this.comp.dataDevice.devicesOf(s.client)) {
      let offer: OfferRes | null = null;
      if (this.source) {
        offer = this.comp.dataDevice.newOffer(d, { owner: "client", source: this.source }, this);
        this.offers.push(offer);
        for (const m of this.source.data.mimes) offer.post("offer", m);
        if (offer.version >= 3) offer.post("source_actions", this.source.data.actions);
      }
      d.post("enter", serial, s.resource, sx, sy, offer);
    }
    this.source?.post("target", null);
  }

  /** The destination changed what it accepts or which actions it takes: agree again. */
  offerChanged(o: OfferRes): void {
    if (!this.offers.includes(o) || !this.source) return;
    const srcActions = this.source.version >= 3 ? this.source.data.actions : ACTION.copy;
    const dstActions = o.version >= 3 ? o.data.actions : ACTION.copy;
    const both = srcActions & dstActions;
    let action = 0;
    if (both & o.data.preferred) action = o.data.preferred;
    else for (const a of [ACTION.copy, ACTION.move, ACTION.ask]) if (both & a) {
      action = a;
      break;
    }
    this.setAction(action);
  }

  private setAction(action: number): void {
    if (action === this.action) return;
    this.action = action;
    if (this.source && !this.source.destroyed && this.source.version >= 3) this.source.post("action", action);
    for (const o of this.offers) if (!o.destroyed && o.version >= 3) o.post("action", action);
  }

  /** The last button went up, or the finger lifted. */
  drop(): void {
    const offer = this.offers.find((o) => o.data.accepted !== null);
    const v3 = this.source ? this.source.version >= 3 : false;
    if (this.focus && this.source && offer && (!v3 || this.action !== 0)) {
      for (const o of this.offers) o.data.dropped = true;
      for (const d of this.comp.dataDevice.devicesOf(this.focus.client)) d.post("drop");
      if (v3) this.source.post("dnd_drop_performed");
      this.comp.events.emit("drop", { target: this.focus, action: this.action });
    } else {
      if (this.source && !this.source.destroyed) this.source.post("cancelled");
      for (const o of this.offers) o.data.selection = null;
    }
    // The session is over for the destination too; it keeps a dropped offer (and its action) for the transfer.
    this.leave();
    this.end();
  }

  /** A surface is going away: stop pointing at it. */
  surfaceGone(s: Surface): void {
    if (this.focus === s) this.setFocus(null);
    if (s === this.origin && this.source === null) this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.source?.offDestroy(this.sourceGone);
    if (this.iconView?.mapped) this.comp.scene.unmap(this.iconView);
    this.comp.seat.dragEnded(this);
    this.comp.server.scheduleFlush();
  }
}

/** wl_data_offer requests that mean something for drag-and-drop offers. */
export const dndOffer = {
  accept(r: OfferRes, _serial: number, mime: string | null) {
    const o = r.data;
    if (!o.drag || o.dropped) return;
    o.accepted = mime;
    const src = sourceOf(o);
    if (src && !src.destroyed) src.post("target", mime);
    o.drag.offerChanged(r);
  },
  set_actions(r: OfferRes, actions: number, preferred: number) {
    const o = r.data;
    if (!o.drag) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_offer, "set_actions on a selection offer");
    if (actions & ~ALL_ACTIONS) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_action_mask, `bad action mask ${actions}`);
    if (preferred & ~ALL_ACTIONS || (preferred & (preferred - 1)) !== 0) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_action, `bad preferred action ${preferred}`);
    o.actions = actions;
    o.preferred = preferred;
    o.drag.offerChanged(r);
  },
  // The destination has read what it wanted: the source may forget (or delete, for a move).
  finish(r: OfferRes) {
    const o = r.data;
    if (!o.drag) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_finish, "finish on a selection offer");
    if (!o.dropped || o.finished) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_finish, "finish before drop");
    if (o.accepted === null || o.drag.action === 0) throw new ProtocolError(r, wl_data_offer.enums.error.invalid_finish, "finish without an accepted type and action");
    o.finished = true;
    const src = sourceOf(o);
    if (src && !src.destroyed && src.version >= 3) src.post("dnd_finished");
  },
  /** The destination dropped the offer object: a drop it never finished is a cancel for the source. */
  destroyed(r: OfferRes) {
    const o = r.data;
    const src = sourceOf(o);
    if (o.drag && o.dropped && !o.finished && src && !src.destroyed && src.version >= 3) src.post("cancelled");
  },
};
