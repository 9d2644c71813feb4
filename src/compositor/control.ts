// The compositor's control socket: a small local door for tools.
//
// Transport: a Unix stream socket next to the Wayland socket —
// `$XDG_RUNTIME_DIR/weft/compositor-<display>.sock` for a named display,
// `<path>.control` when the display is an absolute path — mode 0600, so
// only our own user can connect. Each request is one JSON line; each reply
// is one JSON line, followed for screenshots by exactly `bytes` bytes of PNG.
//
//   {"op":"info"}                 → {"ok":true,"display":…,"width":…,"height":…,"windows":[…]}
//   {"op":"screenshot"}           → {"ok":true,"bytes":N}\n<N bytes of PNG>
//   {"op":"input","events":[…]}   → {"ok":true}   (only with test input enabled)
//   {"op":"wait","windows":N}     → {"ok":true,"windows":[…]} once N windows are
//                                   mapped and a frame showing them was presented
//
// Input events: {"type":"motion","x":…,"y":…} {"type":"button","button":272,"pressed":true}
// {"type":"axis","dx":0,"dy":15} {"type":"key","key":30,"pressed":true}
// {"type":"touch_down","id":0,"x":…,"y":…} {"type":"touch_motion",…} {"type":"touch_up","id":0}
// Test input is off unless `weft run --test-input` (or WEFT_TEST_INPUT=1):
// production never lets a local process type into other people's windows.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { runtimeDir } from "../system/paths.ts";
import type { Compositor } from "./compositor.ts";

export function controlPath(display: string): string {
  if (isAbsolute(display)) return `${display}.control`;
  return join(runtimeDir(), `compositor-${display}.sock`);
}

export type InputEvent =
  | { type: "motion"; x: number; y: number }
  | { type: "button"; button: number; pressed: boolean }
  | { type: "axis"; dx: number; dy: number }
  | { type: "key"; key: number; pressed: boolean }
  | { type: "touch_down"; id: number; x: number; y: number }
  | { type: "touch_motion"; id: number; x: number; y: number }
  | { type: "touch_up"; id: number };

/** Feeds input events to the seat (the test-only path and future input backends share this). */
export function injectInput(comp: Compositor, events: InputEvent[]): void {
  const seat = comp.seat;
  for (const e of events) {
    switch (e.type) {
      case "motion":
        seat.pointerMotion(e.x, e.y);
        break;
      case "button":
        seat.pointerButton(e.button, e.pressed);
        break;
      case "axis":
        seat.pointerAxis(e.dx, e.dy);
        break;
      case "key":
        seat.key(e.key, e.pressed);
        break;
      case "touch_down":
        seat.touchDown(e.id, e.x, e.y);
        break;
      case "touch_motion":
        seat.touchMotion(e.id, e.x, e.y);
        break;
      case "touch_up":
        seat.touchUp(e.id);
        break;
      default:
        throw new Error(`unknown input event ${(e as { type: string }).type}`);
    }
  }
}

export function windows(comp: Compositor) {
  return comp.scene.views
    .filter((v) => v.mapped && v.kind !== "popup" && v.kind !== "icon")
    .map((v) => {
      const f = v.frame();
      return { kind: v.kind, layer: v.layer, x: f.x, y: f.y, width: f.width, height: f.height, focused: comp.scene.focused === v, pid: v.surface.client.pid, responsive: !comp.pings.isUnresponsive(v.surface.client) };
    });
}

export interface ControlServer {
  path: string;
  close(): void;
}

export function startControl(comp: Compositor, opts: { testInput: boolean }): ControlServer {
  const path = controlPath(comp.socket);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const buffers = new WeakMap<object, string>();
  const server = Bun.listen<undefined>({
    unix: path,
    socket: {
      data(sock, chunk) {
        let buf = (buffers.get(sock) ?? "") + chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const reply = (o: object, extra?: Uint8Array) => {
            sock.write(JSON.stringify(o) + "\n");
            if (extra) sock.write(extra);
          };
          try {
            const req = JSON.parse(line) as { op: string; events?: InputEvent[] };
            if (req.op === "screenshot") {
              const png = comp.screenshot();
              reply({ ok: true, bytes: png.length }, png);
            } else if (req.op === "info") {
              const o = comp.output;
              reply({ ok: true, display: comp.socket, width: o.mode.width, height: o.mode.height, windows: windows(comp) });
            } else if (req.op === "input") {
              if (!opts.testInput) reply({ ok: false, error: "test input is disabled (start weft with --test-input)" });
              else {
                injectInput(comp, req.events ?? []);
                reply({ ok: true });
              }
            } else if (req.op === "wait") {
              const n = Number((req as { windows?: number }).windows ?? 1);
              const check = () => windows(comp).length >= n;
              const onMap = () => {
                if (!check()) return;
                comp.events.off("map", onMap);
                comp.nextFrame().then(() => reply({ ok: true, windows: windows(comp) }));
              };
              comp.events.on("map", onMap);
              onMap();
            } else reply({ ok: false, error: `unknown op ${req.op}` });
          } catch (err) {
            reply({ ok: false, error: err instanceof Error ? err.message : String(err) });
          }
        }
        buffers.set(sock, buf);
      },
    },
  });
  chmodSync(path, 0o600);
  return {
    path,
    close() {
      server.stop(true);
      rmSync(path, { force: true });
    },
  };
}

/** Client side: one request, one reply (and the PNG bytes for screenshots). */
export async function controlRequest(path: string, req: object): Promise<{ reply: Record<string, unknown>; body: Uint8Array | null }> {
  const { promise, resolve, reject } = Promise.withResolvers<{ reply: Record<string, unknown>; body: Uint8Array | null }>();
  let chunks: Uint8Array[] = [];
  let header: Record<string, unknown> | null = null;
  let headerLen = 0;
  const check = () => {
    const all = Buffer.concat(chunks);
    if (!header) {
      const nl = all.indexOf(10);
      if (nl < 0) return;
      header = JSON.parse(all.subarray(0, nl).toString()) as Record<string, unknown>;
      headerLen = nl + 1;
    }
    const need = typeof header.bytes === "number" ? header.bytes : 0;
    if (all.length - headerLen >= need) resolve({ reply: header, body: need ? new Uint8Array(all.subarray(headerLen, headerLen + need)) : null });
  };
  const sock = await Bun.connect({
    unix: path,
    socket: {
      data(_s, d) {
        chunks.push(new Uint8Array(d));
        check();
      },
      close() {
        reject(new Error("control socket closed before the reply"));
      },
      error(_s, err) {
        reject(err);
      },
    },
  });
  sock.write(JSON.stringify(req) + "\n");
  try {
    return await promise;
  } finally {
    chunks = [];
    sock.end();
  }
}
