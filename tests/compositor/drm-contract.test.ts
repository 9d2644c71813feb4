// The KMS device contract against the fake device (always) and against the
// first real card (only when /dev/dri/card* exists and we may open it).
import { readdirSync } from "node:fs";
import { DrmDevice } from "../../src/compositor/backend/kms-drm.ts";
import { FakeKmsDevice } from "../../src/compositor/backend/kms-fake.ts";
import { kmsContract } from "./drm-contract.ts";

kmsContract("fake", () => new FakeKmsDevice({ connectors: [{ name: "Virtual-1", modes: [{ width: 320, height: 200, refresh: 120, preferred: true }, { width: 160, height: 100, refresh: 60 }] }, { name: "HDMI-A-1", connected: false, modes: [] }] }));

function realCard(): { path: string | null; reason: string | null } {
  const dir = "/dev/dri";
  let cards: string[];
  try {
    cards = readdirSync(dir).filter((n) => /^card\d+$/.test(n));
  } catch {
    return { path: null, reason: "this machine has no /dev/dri (no GPU or virtual display device)" };
  }
  if (cards.length === 0) return { path: null, reason: "no /dev/dri/card* on this machine" };
  const path = process.env.WEFT_DRM_DEVICE ?? `${dir}/${cards.sort()[0]}`;
  let dev: DrmDevice | null = null;
  try {
    dev = DrmDevice.open(path);
    // The suite modesets: it needs DRM master (a running compositor holds it).
    dev.setMaster();
  } catch (e) {
    return { path: null, reason: `${path} cannot be used: ${(e as Error).message}` };
  } finally {
    dev?.close();
  }
  return { path, reason: null };
}

const real = realCard();
kmsContract(`real card ${real.path ?? ""}`.trim(), () => DrmDevice.open(real.path!), real.reason);
