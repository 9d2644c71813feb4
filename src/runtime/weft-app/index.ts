// weft:app@0.1.0's host calls (spec §4): fetch, notifications, clipboard.
// notify and ipc are plain native functions (ffi/native/weft_native.c); these
// need the loop. Each answers a missing capability with a clear err, never a trap.
import { cv, type CVal } from "../component-values.ts";
import { hostCalls, type HostCall } from "../host-calls.ts";

const notYet = (what: string) => (_call: HostCall): CVal[] => [cv.err(`${what} is not available in this weft yet`)];

hostCalls.register({ iface: "weft:app/fetch@0.1.0", name: "fetch", errors: "result-string", handler: notYet("weft:app/fetch") });
hostCalls.register({ iface: "weft:app/notifications@0.1.0", name: "notify", errors: "result-string", handler: notYet("weft:app/notifications") });
hostCalls.register({ iface: "weft:app/clipboard@0.1.0", name: "read", errors: "result-string", handler: notYet("weft:app/clipboard") });
hostCalls.register({ iface: "weft:app/clipboard@0.1.0", name: "write", errors: "result-string", handler: notYet("weft:app/clipboard") });
