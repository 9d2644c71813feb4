// The VT contract against the kernel model (always) and against real VTs
// when asked: WEFT_TEST_VTS=3,4 (ours, another) as root on a machine whose
// screen may switch — it does, back and forth (the qemu image runs it).
import { FakeVt, FakeVtKernel } from "../../src/compositor/backend/vt-fake.ts";
import { LinuxVt } from "../../src/compositor/backend/vt-linux.ts";
import { vtContract } from "./vt-contract.ts";

vtContract("fake", () => {
  const kernel = new FakeVtKernel(6, 1);
  return { vt: new FakeVt(kernel, 3), other: 4 };
});

const real = process.env.WEFT_TEST_VTS?.split(",").map(Number);
vtContract(`real ${real ? `/dev/tty${real[0]}` : ""}`.trim(), () => ({ vt: LinuxVt.openNumber(real![0]), other: real![1] }), real ? null : "switches the screen: opt in with WEFT_TEST_VTS=ours,other (root, e.g. in the qemu image)");
