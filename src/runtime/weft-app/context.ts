// What an app session gives its guest's weft:app host functions
// (GuestOptions.context.app). Without it (a bare `weft exec`), fetch,
// notifications and clipboard answer err: there is no app to grant them.
import type { Capability } from "../../appd/capabilities.ts";

export interface Notification {
  title: string;
  body: string;
  icon: string | null;
}

/** The compositor's clipboard (src/compositor/objects/data-device.ts), when one runs in this process. */
export interface ClipboardPort {
  /** The selection's text; rejects with a message a person can act on. */
  readText(signal?: AbortSignal): Promise<string>;
  /** weft takes the selection with this text. */
  writeText(text: string): void;
}

export interface AppContext {
  sessionId: number;
  appId: string;
  /** The app's declared capabilities, parsed (src/appd/capabilities.ts). */
  capabilities: readonly Capability[];
  /** Shows a notification (the daemon broadcasts it as NOTIFICATION). */
  notify?: (n: Notification) => void;
  /** Absent when no compositor runs in this process. */
  clipboard?: ClipboardPort;
}
