// The test interface weft:test-guests/echo (tests/components/wit/guest.wit),
// answered on the loop through weft's host calls. Registered once per
// process (modules load once), so every test file can import it.
//   echo(payload) -> string: "hang" never answers until the guest goes away
//   (then `hung.aborted` resolves); "late:<ms>" answers after ms; "throw"
//   throws; "wrong" answers a u32 (the wrong type); else echoes.
//   call(bytes) -> result<list<u8>, string>: answers ok(bytes).
import { cv, read } from "../../src/runtime/component-values.ts";
import { hostCalls } from "../../src/runtime/host-calls.ts";

export const echoCalls = { count: 0 };
type Hang = { entered: Promise<void>; aborted: Promise<void>; answer: (text: string) => void };
let hang = fresh();
function fresh(): Hang & { enter: () => void; abort: () => void } {
  let enter!: () => void, abort!: () => void;
  const h = {
    entered: new Promise<void>((r) => (enter = r)),
    aborted: new Promise<void>((r) => (abort = r)),
    answer: (_: string) => {},
    enter: () => enter(),
    abort: () => abort(),
  };
  return h;
}
/** The current "hang" call: entered when the guest is waiting, aborted when it is gone. Reset with resetHang(). */
export const hung = (): Hang => hang;
export const resetHang = () => void (hang = fresh());

hostCalls.register({
  iface: "weft:test-guests/echo",
  name: "echo",
  handler: ({ args, signal }) => {
    echoCalls.count++;
    const text = read.string(args[0], "payload");
    if (text === "hang") {
      const h = hang as ReturnType<typeof fresh>;
      return new Promise((resolve) => {
        h.answer = (t) => resolve([cv.string(t)]);
        signal.addEventListener("abort", () => h.abort());
        h.enter();
      });
    }
    if (text.startsWith("late:")) return Bun.sleep(Number(text.slice(5))).then(() => [cv.string(text)]);
    if (text === "throw") throw new Error("the handler threw on purpose");
    if (text === "wrong") return [cv.u32(7)];
    return [cv.string(text)];
  },
});

hostCalls.register({
  iface: "weft:test-guests/echo",
  name: "call",
  errors: "result-string",
  handler: ({ args }) => [cv.ok(cv.bytes(read.bytes(args[0], "payload")))],
});
