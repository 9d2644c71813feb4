// What an app session gives its guest's weft:app host functions
// (GuestOptions.context.app). Without it (a bare `weft exec`), fetch,
// notifications and clipboard answer err: there is no app to grant them.
import type { Capability } from "../../appd/capabilities.ts";

export interface Notification {
  title: string;
  body: string;
  icon: string | null;
}

export interface AppContext {
  sessionId: number;
  appId: string;
  /** The app's declared capabilities, parsed (src/appd/capabilities.ts). */
  capabilities: readonly Capability[];
  /** Shows a notification (the daemon broadcasts it as NOTIFICATION). */
  notify?: (n: Notification) => void;
}
