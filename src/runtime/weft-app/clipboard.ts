// weft:app/clipboard: text only, through the compositor's selection when a
// compositor runs in this process (AppContext.clipboard). Reading needs
// `sys:clipboard:read`, writing `sys:clipboard:write`.
import { cv, read, type CVal } from "../component-values.ts";
import type { HostCall } from "../host-calls.ts";
import { AppBudget } from "./app-budget.ts";
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
const writes = new AppBudget(CLIPBOARD_WRITES.perWindow, CLIPBOARD_WRITES.windowMs);
const lastText = new Map<string, string>();

export function clipboardWrite(call: HostCall): CVal[] {
  const text = read.string(call.args[0], "clipboard.write: text");
  const app = call.context.app;
  const why = refusal(app, "write");
  if (why) return fail(why);
  const appId = app!.appId;
  if (writes.active(appId) && lastText.get(appId) === text) return [cv.ok()];
  if (!writes.take(appId)) return fail(`too many clipboard writes (${writes.limit})`);
  if (lastText.size > 10_000) lastText.clear();
  lastText.set(appId, text);
  app!.clipboard!.writeText(text);
  return [cv.ok()];
}
