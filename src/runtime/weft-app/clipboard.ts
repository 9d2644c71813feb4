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

export function clipboardWrite(call: HostCall): CVal[] {
  const text = read.string(call.args[0], "clipboard.write: text");
  const app = call.context.app;
  const why = refusal(app, "write");
  if (why) return fail(why);
  app!.clipboard!.writeText(text);
  return [cv.ok()];
}
