// weft:app/fetch: one HTTP request, done on the loop with Bun's fetch, only
// to hosts the app's `net:fetch:<domain>` capabilities name (`net:fetch:*`:
// any host except loopback — see below). Redirects are followed here, hop by
// hop, and each hop's host is checked again, so a redirect cannot lead
// outside what the app was granted.
//
// Loopback (localhost, *.localhost, 127.0.0.0/8, [::1]) is where the device's
// own services listen — weft's API among them — so `*` does not reach it:
// an app must name it (`net:fetch:localhost`, `net:fetch:127.0.0.1`). This
// looks at the URL's host only: a public DNS name that resolves to 127.0.0.1
// is not caught.
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

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::1";
}

/** Why `url` may not be fetched with `caps`, or null when it may. */
export function fetchRefusal(caps: readonly Capability[], url: URL): string | null {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `only http and https URLs can be fetched, not ${url.protocol}`;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const named = caps.some((c) => c.kind === "net:fetch" && c.domain === host);
  if (named) return null;
  if (isLoopback(host)) {
    const star = caps.some((c) => c.kind === "net:fetch" && c.domain === "*");
    return `capability net:fetch:${host} not granted${star ? " (net:fetch:* does not include loopback)" : ""}`;
  }
  if (!allowsFetch(caps, host)) return `capability net:fetch:${host} not granted`;
  return null;
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
  const timeout = AbortSignal.timeout(FETCH_LIMITS.timeoutMs);
  const signal = AbortSignal.any([call.signal, timeout]);
  let m = method;
  let b: Uint8Array | null = body;
  try {
    for (let hop = 0; ; hop++) {
      const why = fetchRefusal(app.capabilities, target);
      if (why) return fail(hop === 0 ? why : `redirected to ${target.origin}, but ${why}`);
      const res = await fetch(target, { method: m, headers, body: b ?? undefined, redirect: "manual", signal });
      const location = res.headers.get("location");
      if ([301, 302, 303, 307, 308].includes(res.status) && location) {
        await res.body?.cancel();
        if (hop >= FETCH_LIMITS.redirects) return fail(`more than ${FETCH_LIMITS.redirects} redirects`);
        target = new URL(location, target);
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
    if (timeout.aborted) return fail(`no complete answer from ${target.origin} within ${FETCH_LIMITS.timeoutMs / 1000} s`);
    if (call.signal.aborted) return fail("the app stopped"); // nobody reads this
    return fail(`${target.origin}: ${(e as Error).message}`);
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
