// weft:app@0.1.0's host calls (spec §4): fetch, notifications, clipboard.
// notify and ipc are plain native functions (ffi/native/weft_native.c); these
// need the loop. A missing capability is a clear err, never a trap; so is
// any failure on the host's side ("result-string").
import { hostCalls } from "../host-calls.ts";
import { clipboardRead, clipboardWrite } from "./clipboard.ts";
import { fetchCall } from "./fetch.ts";
import { notifyCall } from "./notifications.ts";

const results = "result-string" as const;
hostCalls.register({ iface: "weft:app/fetch@0.1.0", name: "fetch", label: "fetch", errors: results, handler: fetchCall });
hostCalls.register({ iface: "weft:app/notifications@0.1.0", name: "notify", label: "notifications", errors: results, handler: notifyCall });
hostCalls.register({ iface: "weft:app/clipboard@0.1.0", name: "read", label: "clipboard", errors: results, handler: clipboardRead });
hostCalls.register({ iface: "weft:app/clipboard@0.1.0", name: "write", label: "clipboard", errors: results, handler: clipboardWrite });
