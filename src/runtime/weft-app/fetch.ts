// weft:app/fetch: one HTTP request, done on the loop with Bun's fetch, only
// to hosts the app's `net:fetch:<domain>` capabilities name (`net:fetch:*`:
// any host except loopback — see below). Redirects are followed here, hop by
// hop, and each hop's host is checked again, so a redirect cannot lead
// outside what the app was granted.
//
// Device-local addresses — loopback (localhost, *.localhost, 127/8, ::1,
// 0.0.0.0, ::ffff:127.x), the private and link-local ranges — are where the
// device's own services and its LAN listen (weft's API among them), so `*`
// does not reach them: an app must name the host (`net:fetch:localhost`,
// `net:fetch:192.168.1.5`). Under `*`, a DNS name is resolved first and
// refused if any address it has is local; a name that changes its answer
// between that lookup and the connection (DNS rebinding) is not caught.
import { lookup } from "node:dns/promises";
import { allowsFetch, type Capability } from "../../appd/capabilities.ts";
import { cv, read, type CVal } from "../component-values.ts";
import type { HostCall } from "../host-calls.ts";

export const FETCH_LIMITS = {
  /**
   * Largest response body. Wasmtime's C API passes a list<u8> as one 32-byte
   * value per byte while lowering, so 2 MiB costs ~64 MiB for a moment.
   */
  bodyBytes: 2 << 20,
  timeoutMs: 30_000,
  redirects: 5,
};

const fail = (message: string): CVal[] => [cv.err(`fetch: ${message}`)];

/** The host as compared with capabilities: lower case, no brackets, no one trailing dot ("localhost." is localhost). */
export function canonicalHost(host: string): string {
  return host.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");
}

function ipv4Local(a: number[]): boolean {
  const [x, y] = a;
  return (
    x === 0 || x === 127 || x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254) ||
    (x === 100 && y >= 64 && y <= 127) || x >= 224
  );
}

/** An IPv6 address (as the URL parser writes it) as 8 numbers, or null. */
function ipv6Groups(h: string): number[] | null {
  if (!h.includes(":")) return null;
  let text = h;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) text = text.slice(0, v4.index) + `${((+v4[1] << 8) | +v4[2]).toString(16)}:${((+v4[3] << 8) | +v4[4]).toString(16)}`;
  const [head, tail] = text.split("::");
  const part = (t: string | undefined) => (t ? t.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const a = part(head), b = part(tail);
  const groups = tail === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill(0), ...b];
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** Whether `host` (canonical) is an address or name on this device or its local network. */
export function isLocalHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) return ipv4Local(v4.slice(1).map(Number));
  const g = ipv6Groups(host);
  if (!g) return false;
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    // ::, ::1, and IPv4-mapped/compatible addresses: judge the IPv4 part.
    if (g[5] === 0 && g[6] === 0) return true;
    return ipv4Local([g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff]);
  }
  return (g[0] & 0xfe00) === 0xfc00 || (g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xff00) === 0xff00; // ULA, link-local, multicast
}

/** Why `url` may not be fetched with `caps`, or null when it may (the host's name only; see resolvesLocal). */
export function fetchRefusal(caps: readonly Capability[], url: URL): string | null {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `only http and https URLs can be fetched, not ${url.protocol}`;
  const host = canonicalHost(url.hostname);
  const named = caps.some((c) => c.kind === "net:fetch" && c.domain === host);
  if (named) return null;
  if (isLocalHost(host)) {
    const star = caps.some((c) => c.kind === "net:fetch" && c.domain === "*");
    return `capability net:fetch:${host} not granted${star ? " (net:fetch:* does not include this device or its local network)" : ""}`;
  }
  if (!allowsFetch(caps, host)) return `capability net:fetch:${host} not granted`;
  return null;
}

/** Under a wildcard grant, a name that resolves to a local address is refused too. */
async function resolvesLocal(caps: readonly Capability[], url: URL): Promise<string | null> {
  const host = canonicalHost(url.hostname);
  if (caps.some((c) => c.kind === "net:fetch" && c.domain === host)) return null; // named: the app was granted exactly this
  if (/^[\d.]+$/.test(host) || host.includes(":")) return null; // an address: already judged
  const addrs = await lookup(host, { all: true }).catch(() => []);
  const local = addrs.find((a) => isLocalHost(canonicalHost(a.address)));
  return local ? `capability net:fetch:${host} not granted (${host} resolves to ${local.address}, on this device or its local network)` : null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by fetch itself; an app may not choose them. */
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

export async function fetchCall(call: HostCall): Promise<CVal[]> {
  const url = read.string(call.args[0], "fetch: url");
  const method = read.string(call.args[1], "fetch: method").toUpperCase();
  const headerList = read.list(call.args[2], "fetch: headers", (v, what) => {
    const [n, x] = read.tuple(v, what, 2);
    return [read.string(n, what), read.string(x, what)] as const;
  });
  const body = read.option(call.args[3], "fetch: body", read.bytes);
  const app = call.context.app;
  if (!app) return fail("this guest runs outside an app session, so it holds no net:fetch capability");
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return fail(`invalid URL ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (!TOKEN.test(method)) return fail(`invalid method ${JSON.stringify(method.slice(0, 40))}`);
  const headers = new Headers();
  for (const [name, value] of headerList) {
    if (!TOKEN.test(name)) return fail(`invalid header name ${JSON.stringify(name.slice(0, 80))}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) continue;
    try {
      headers.append(name, value);
    } catch {
      return fail(`invalid value for header ${name}`);
    }
  }
  // A timer cleared when the call ends (AbortSignal.timeout would keep one alive for the whole 30 s).
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), FETCH_LIMITS.timeoutMs);
  const onStop = () => timeout.abort();
  call.signal.addEventListener("abort", onStop);
  const signal = timeout.signal;
  let m = method;
  let b: Uint8Array | null = body;
  try {
    for (let hop = 0; ; hop++) {
      const why = fetchRefusal(app.capabilities, target) ?? (await resolvesLocal(app.capabilities, target));
      if (why) return fail(hop === 0 ? why : `redirected to ${target.origin}, but ${why}`);
      const res = await fetch(target, { method: m, headers, body: b ?? undefined, redirect: "manual", signal });
      const location = res.headers.get("location");
      if ([301, 302, 303, 307, 308].includes(res.status) && location) {
        await res.body?.cancel();
        if (hop >= FETCH_LIMITS.redirects) return fail(`more than ${FETCH_LIMITS.redirects} redirects`);
        const next = new URL(location, target);
        // Credentials are for the origin they were given to, not wherever it redirects.
        if (next.origin !== target.origin) for (const h of ["authorization", "cookie", "proxy-authorization"]) headers.delete(h);
        target = next;
        // 303, and 301/302 after a POST: the next request is a GET without a body (as browsers do).
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && m === "POST")) {
          if (m !== "HEAD") m = "GET";
          b = null;
          headers.delete("content-type");
        }
        continue;
      }
      const bytes = await readCapped(res, FETCH_LIMITS.bodyBytes);
      if (!bytes) return fail(`the response body is larger than ${FETCH_LIMITS.bodyBytes} bytes`);
      return [cv.ok(cv.record({ status: cv.u16(res.status), "content-type": cv.string(res.headers.get("content-type") ?? ""), body: cv.bytes(bytes) }))];
    }
  } catch (e) {
    if (call.signal.aborted) return fail("the app stopped"); // nobody reads this
    if (timeout.signal.aborted) return fail(`no complete answer from ${target.origin} within ${FETCH_LIMITS.timeoutMs / 1000} s`);
    return fail(`${target.origin}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener("abort", onStop);
  }
}

/** The whole body, or null as soon as it exceeds `max` (the rest is not read). */
async function readCapped(res: Response, max: number): Promise<Uint8Array | null> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel();
    return null;
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}
