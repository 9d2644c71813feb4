// weft:app/notifications: needs `sys:notifications`; hands the notification
// to the session (which broadcasts NOTIFICATION for the system UI's toast).
// Bounded: sizes are capped and each session may post at most
// NOTIFY_LIMITS.perWindow notifications per window; over it, an err.
import { cv, read, type CVal } from "../component-values.ts";
import type { HostCall } from "../host-calls.ts";
import { AppBudget } from "./app-budget.ts";

export const NOTIFY_LIMITS = { titleChars: 256, bodyChars: 4096, iconChars: 1024, perWindow: 10, windowMs: 10_000 };

const fail = (message: string): CVal[] => [cv.err(`notifications: ${message}`)];

const budget = new AppBudget(NOTIFY_LIMITS.perWindow, NOTIFY_LIMITS.windowMs);

export function notifyCall(call: HostCall): CVal[] {
  const title = read.string(call.args[0], "notify: title");
  const body = read.string(call.args[1], "notify: body");
  const icon = read.option(call.args[2], "notify: icon", read.string);
  const app = call.context.app;
  if (!app || !app.notify) return fail("this guest runs outside an app session, so it cannot post notifications");
  if (!app.capabilities.some((c) => c.kind === "sys:notifications")) return fail("capability sys:notifications not granted");
  if (title.length > NOTIFY_LIMITS.titleChars) return fail(`the title is longer than ${NOTIFY_LIMITS.titleChars} characters`);
  if (body.length > NOTIFY_LIMITS.bodyChars) return fail(`the body is longer than ${NOTIFY_LIMITS.bodyChars} characters`);
  if (icon !== null && icon.length > NOTIFY_LIMITS.iconChars) return fail(`the icon is longer than ${NOTIFY_LIMITS.iconChars} characters`);
  if (!budget.take(app.appId)) return fail(`too many notifications (${budget.limit})`);
  app.notify({ title, body, icon });
  return [cv.ok()];
}
