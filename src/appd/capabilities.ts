// The capability strings a wapp.toml may declare (spec §2), parsed into a
// shape the session code can enforce. WEFT declared these and never enforced
// them; weft refuses unknown strings at check/install and enforces the rest.

export type Capability =
  | { kind: "fs"; access: "read" | "rw"; area: "app-data" | "xdg-documents" }
  | { kind: "net:fetch"; domain: string } // "*" = any domain
  | { kind: "sys:notifications" }
  | { kind: "sys:clipboard"; access: "read" | "write" }
  | { kind: "hw:gpu"; use: "compute" | "render" };

/** The fixed strings, exactly as the spec lists them (net:fetch:<domain> aside). */
export const FIXED_CAPABILITIES = [
  "fs:rw:app-data",
  "fs:read:app-data",
  "fs:rw:xdg-documents",
  "fs:read:xdg-documents",
  "net:fetch:*",
  "sys:notifications",
  "sys:clipboard:read",
  "sys:clipboard:write",
  "hw:gpu:compute",
  "hw:gpu:render",
] as const;

// A DNS host name (or dotted IPv4): labels of letters, digits and inner
// hyphens, at most 63 each and 253 in all. No scheme, port, path or wildcard
// label: `net:fetch:*` is the only wildcard.
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Parses one capability string; an Error's message says what is wrong. */
export function parseCapability(s: string): Capability | Error {
  switch (s) {
    case "fs:rw:app-data":
      return { kind: "fs", access: "rw", area: "app-data" };
    case "fs:read:app-data":
      return { kind: "fs", access: "read", area: "app-data" };
    case "fs:rw:xdg-documents":
      return { kind: "fs", access: "rw", area: "xdg-documents" };
    case "fs:read:xdg-documents":
      return { kind: "fs", access: "read", area: "xdg-documents" };
    case "net:fetch:*":
      return { kind: "net:fetch", domain: "*" };
    case "sys:notifications":
      return { kind: "sys:notifications" };
    case "sys:clipboard:read":
      return { kind: "sys:clipboard", access: "read" };
    case "sys:clipboard:write":
      return { kind: "sys:clipboard", access: "write" };
    case "hw:gpu:compute":
      return { kind: "hw:gpu", use: "compute" };
    case "hw:gpu:render":
      return { kind: "hw:gpu", use: "render" };
  }
  if (s.startsWith("net:fetch:")) {
    // Host names are case-insensitive; compare and store them lower-case.
    const domain = s.slice("net:fetch:".length).toLowerCase();
    if (domain.length <= 253 && HOST.test(domain)) return { kind: "net:fetch", domain };
    return new Error(`"${s}": the domain must be a host name like example.com (no scheme, port, path or wildcard label)`);
  }
  return new Error(`"${s}" is not a known capability (known: ${FIXED_CAPABILITIES.join(", ")}, net:fetch:<domain>)`);
}

/** Whether a set of declared capabilities lets the app fetch from `host`. */
export function allowsFetch(caps: readonly Capability[], host: string): boolean {
  const h = host.toLowerCase();
  return caps.some((c) => c.kind === "net:fetch" && (c.domain === "*" || c.domain === h));
}
