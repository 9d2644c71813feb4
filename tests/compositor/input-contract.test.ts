// The input device contract against the fake device and, when present, the
// first usable /dev/input/event* node.
import { readdirSync } from "node:fs";
import { EvdevDevice } from "../../src/compositor/input/evdev.ts";
import { FakeInputDevice } from "../../src/compositor/input/fake.ts";
import { inputContract } from "./input-contract.ts";

inputContract(
  "fake",
  () => new FakeInputDevice("fake keyboard", { keyboard: true, pointer: false, touch: false }),
  (d, ev) => (d as FakeInputDevice).emit(...ev),
);

function realNode(): { path: string | null; reason: string | null } {
  let nodes: string[];
  try {
    nodes = readdirSync("/dev/input").filter((n) => /^event\d+$/.test(n));
  } catch {
    return { path: null, reason: "this machine has no /dev/input" };
  }
  for (const n of nodes.sort()) {
    try {
      const d = EvdevDevice.open(`/dev/input/${n}`);
      const usable = d.caps.keyboard || d.caps.pointer || d.caps.touch;
      d.close();
      if (usable) return { path: `/dev/input/${n}`, reason: null };
    } catch {
      // not readable by us; try the next
    }
  }
  return { path: null, reason: "no readable keyboard, pointer or touch device in /dev/input" };
}

const real = realNode();
// Real nodes cannot be driven from a test without uinput (no such module here), so only the passive part runs.
inputContract(`evdev ${real.path ?? ""}`.trim(), () => EvdevDevice.open(real.path!), null, real.reason);
