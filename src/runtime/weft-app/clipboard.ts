// weft:app/clipboard: text only, through the compositor's selection when a
// compositor runs in this process (AppContext.clipboard). Reading needs
// `sys:clipboard:read`, writing `sys:clipboard:write`.
import { cv, read, type CVal } from "../component-values.ts";
import type { HostCall } from "../host-calls.ts";
import type { AppContext } from "./context.ts";

const fail = (message: string): CVal[] => [cv.err(`clipboard: ${message}`)];

function refusal(app: AppContext | undefined, access: "read" | "write"): string | null {
  if (!app) return "this guest runs outside an app session, so it holds no clipboard capability";
  if (!app.capabilities.some((c) => c.kind === "sys:clipboard" && c.access === access)) return `capability sys:clipboard:${access} not granted`;
  if (!app.clipboard) return "no compositor runs in this weft, so there is no clipboard";
  return null;
}

export async function clipboardRead(call: HostCall): Promise<CVal[]> {
  const app = call.context.app;
  const why = refusal(app, "read");
  if (why) return fail(why);
  try {
    return [cv.ok(cv.string(await app!.clipboard!.readText(call.signal)))];
  } catch (e) {
    return fail((e as Error).message);
  }
}

/**
 * Each write offers the selection to the focused client anew, so writes are
 * bounded per app (like notifications): at most CLIPBOARD_WRITES.perWindow
 * per window; writing the text that is already there costs nothing.
 */
export const CLIPBOARD_WRITES = { perWindow: 20, windowMs: 1000 };
const lastWrites = new Map<string, { times: number[]; text: string }>();

export function clipboardWrite(call: HostCall): CVal[] {
  const text = read.string(call.args[0], "clipboard.write: text");
  const app = call.context.app;
  const why = refusal(app, "write");
  if (why) return fail(why);
  const now = performance.now();
  const last = lastWrites.get(app!.appId) ?? { times: [], text: "" };
  last.times = last.times.filter((t) => now - t < CLIPBOARD_WRITES.windowMs);
  if (last.times.length && last.text === text) return [cv.ok()];
  if (last.times.length >= CLIPBOARD_WRITES.perWindow)
    return fail(`too many clipboard writes (at most ${CLIPBOARD_WRITES.perWindow} per ${CLIPBOARD_WRITES.windowMs / 1000} s)`);
  last.times.push(now);
  last.text = text;
  if (lastWrites.size > 10_000) lastWrites.clear();
  lastWrites.set(app!.appId, last);
  app!.clipboard!.writeText(text);
  return [cv.ok()];
}
