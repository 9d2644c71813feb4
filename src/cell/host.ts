// weft:cell's host functions (wit/weft-cell.wit), on the host-call mechanism
// (src/runtime/host-calls.ts, docs/decisions/0005-host-calls.md): the guest's
// thread blocks in native code while these run on the loop. Every check —
// epoch, attenuation, read-only, domains, budgets — happens here, never in
// the guest. Refusals are err("<reason>") with the reason first (`stale
// epoch: …`, `read-only: …`, `cannot widen …`).
import { HOST_CALL_LIMITS } from "../../ffi/native.ts";
import { cv, read, type CVal } from "../runtime/component-values.ts";
import { hostCalls, type HostCall } from "../runtime/host-calls.ts";
import { listBeneath, readBeneath, writeBeneath } from "./beneath.ts";
import { CapError, domainCovered, type Grant } from "./caps.ts";
import type { CellProcess, GrantRequest, SpawnLimits } from "./procs.ts";

/** Largest response body net.get returns (host-call answers are bounded too). */
const MAX_BODY = 4 << 20;
/** Largest file read-file returns: its answer travels back through a host call (a clear error, not a trap). */
const MAX_FILE = HOST_CALL_LIMITS.answer - 4096;
/** Largest wasm spawn-file reads (it never passes through a host call; this bounds host memory). */
const MAX_CHILD_WASM = 256 << 20;

function procOf(call: HostCall): CellProcess {
  const p = call.context.cell;
  if (!p) throw new CapError("this guest does not run in a cell (weft:cell is for `weft cell run`)");
  return p;
}

/**
 * Registers `name` in weft:cell/<iface>. For functions returning
 * result<_, string>, CapErrors become err(message) as they are (other
 * failures err("<name>: …")); the rest (epoch, names) trap on any failure.
 */
function def(iface: string, name: string, handler: (call: HostCall, p: CellProcess) => CVal | Promise<CVal>, returnsResult = true): void {
  hostCalls.register({
    iface: `weft:cell/${iface}@0.1.0`,
    name,
    errors: returnsResult ? "result-string" : "trap",
    handler: async (call) => {
      try {
        return [await handler(call, procOf(call))];
      } catch (e) {
        if (returnsResult && e instanceof CapError) return [cv.err(e.message)];
        throw e;
      }
    },
  });
}


// ---- caps ---------------------------------------------------------------------------------
def("caps", "epoch", (_c, p) => ({ kind: "u64", value: BigInt(p.cell.epoch) }), false);
def("caps", "names", (_c, p) => cv.list(p.caps.names().map(cv.string)), false);
def("caps", "acquire", (c, p) => cv.ok(cv.u32(p.caps.acquire(read.string(c.args[0], "name")))));

// ---- fs -----------------------------------------------------------------------------------
def("fs", "read-file", async (c, p) => {
  const g = p.caps.use(read.u32(c.args[0], "dir"), "dir") as Grant & { kind: "dir" };
  return cv.ok(cv.bytes(await readBeneath(g, read.string(c.args[1], "path"), MAX_FILE)));
});
def("fs", "write-file", async (c, p) => {
  const handle = read.u32(c.args[0], "dir");
  const g = p.caps.use(handle, "dir") as Grant & { kind: "dir" } & { name: string };
  if (g.readOnly) throw new CapError(`read-only: capability handle ${handle} ("${g.name}") is read-only`);
  await writeBeneath(g, read.string(c.args[1], "path"), read.bytes(c.args[2], "data"));
  return cv.ok();
});
def("fs", "list-dir", async (c, p) => {
  const g = p.caps.use(read.u32(c.args[0], "dir"), "dir") as Grant & { kind: "dir" };
  return cv.ok(cv.list((await listBeneath(g, read.string(c.args[1], "path"))).map(cv.string)));
});

// ---- net ----------------------------------------------------------------------------------
def("net", "get", async (c, p) => {
  const handle = read.u32(c.args[0], "domains");
  const g = p.caps.use(handle, "net") as Grant & { kind: "net" } & { name: string };
  const raw = read.string(c.args[1], "url");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CapError(`"${raw}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CapError(`${url.protocol} URLs are not allowed (http and https only)`);
  if (!domainCovered(url.hostname, g.domains)) throw new CapError(`not allowed: ${url.hostname} is not among the domains of "${g.name}" (${g.domains.join(", ") || "none"})`);
  let res: Response;
  try {
    res = await fetch(url, { redirect: "manual", signal: c.signal });
  } catch (e) {
    throw new CapError(`GET ${url.href}: ${(e as Error).message}`);
  }
  const body = new Uint8Array(await res.arrayBuffer());
  if (body.length > MAX_BODY) throw new CapError(`GET ${url.href}: the body has ${body.length} bytes (at most ${MAX_BODY})`);
  return cv.ok({ kind: "tuple", value: [cv.u16(res.status), cv.bytes(body)] });
});

// ---- process ------------------------------------------------------------------------------
function grantOf(v: CVal, what: string): GrantRequest {
  const r = read.record(v, what);
  const domains = read.option(r.get("domains"), `${what}.domains`, (d, w) => read.list(d, w, read.string));
  const subdir = read.string(r.get("subdir"), `${what}.subdir`);
  return {
    cap: read.u32(r.get("cap"), `${what}.cap`),
    name: read.string(r.get("name"), `${what}.name`),
    readOnly: read.bool(r.get("read-only"), `${what}.read-only`),
    subdir: subdir || undefined,
    domains: domains ?? undefined,
  };
}

function limitsOf(v: CVal | undefined): SpawnLimits {
  const r = read.record(v, "limits");
  return {
    memoryMib: read.u32(r.get("memory-mib"), "limits.memory-mib"),
    poolMib: read.u32(r.get("pool-mib"), "limits.pool-mib"),
    cpuMs: read.u32(r.get("cpu-ms"), "limits.cpu-ms"),
    timeoutMs: read.u32(r.get("timeout-ms"), "limits.timeout-ms"),
  };
}

/** args, env, grants and limits: the arguments both spawns share, from `at` on. */
function spawnArgs(c: HostCall, at: number) {
  const env = read.list(c.args[at + 1], "env", (v, w) => {
    const [k, val] = read.tuple(v, w, 2);
    return [read.string(k, `${w}.0`), read.string(val, `${w}.1`)] as [string, string];
  });
  return { args: read.list(c.args[at], "args", read.string), env, grants: read.list(c.args[at + 2], "grants", grantOf), ...limitsOf(c.args[at + 3]) };
}

def("process", "spawn", async (c, p) => cv.ok(cv.u32(await p.spawn({ wasm: read.bytes(c.args[0], "wasm"), ...spawnArgs(c, 1) }))));
def("process", "spawn-file", async (c, p) => {
  // Read on the host, confined like fs.read-file, before the spawn's own checks see the bytes.
  // Handle 0 (never issued) is the process's own image, read-only: it is not a grant.
  const dir = read.u32(c.args[0], "dir");
  if (dir === 0 && !p.imageRoot) throw new CapError(`${p.label} has no image (a child sees no file system): pass a directory capability`);
  const g = dir === 0 ? ({ kind: "dir", host: p.imageRoot!, readOnly: true } as const) : (p.caps.use(dir, "dir") as Grant & { kind: "dir" });
  const wasm = await readBeneath(g, read.string(c.args[1], "path"), MAX_CHILD_WASM);
  return cv.ok(cv.u32(await p.spawn({ wasm, ...spawnArgs(c, 2) })));
});
def("process", "write-stdin", (c, p) => cv.ok(cv.u32(p.child(read.u32(c.args[0], "child")).writeStdin(read.bytes(c.args[1], "data")))));
def("process", "close-stdin", (c, p) => {
  p.child(read.u32(c.args[0], "child")).closeStdin();
  return cv.ok();
});
def("process", "read", async (c, p) => {
  const which = read.u32(c.args[1], "which");
  if (which !== 1 && which !== 2) throw new CapError(`which must be 1 (stdout) or 2 (stderr), got ${which}`);
  const max = Math.max(1, Math.min(read.u32(c.args[2], "max"), 1 << 20));
  return cv.ok(cv.bytes(await p.child(read.u32(c.args[0], "child")).read(which === 1 ? "stdout" : "stderr", max, c.signal)));
});
def("process", "wait", async (c, p) => {
  const r = await p.child(read.u32(c.args[0], "child")).wait(c.signal);
  return cv.ok({ kind: "s32", value: r.code });
});
def("process", "kill", (c, p) => {
  p.child(read.u32(c.args[0], "child")).kill();
  return cv.ok();
});
