// weft:cell's host functions (wit/weft-cell.wit), on the host-call mechanism
// (src/runtime/host-calls.ts, docs/decisions/0005-host-calls.md): the guest's
// thread blocks in native code while these run on the loop. Every check —
// epoch, attenuation, read-only, domains, budgets — happens here, never in
// the guest. Refusals are err("<reason>") with the reason first (`stale
// epoch: …`, `read-only: …`, `cannot widen …`).
import { HOST_CALL_LIMITS } from "../../ffi/native.ts";
import { cv, type CVal } from "../runtime/component-values.ts";
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

class ArgError extends Error {}

const arg = {
  u32(v: CVal | undefined, what: string): number {
    if (v?.kind !== "u32" && v?.kind !== "u8") throw new ArgError(`${what}: expected an unsigned integer`);
    return v.value;
  },
  bool(v: CVal | undefined, what: string): boolean {
    if (v?.kind !== "bool") throw new ArgError(`${what}: expected a bool`);
    return v.value;
  },
  string(v: CVal | undefined, what: string): string {
    if (v?.kind !== "string") throw new ArgError(`${what}: expected a string`);
    return v.value;
  },
  bytes(v: CVal | undefined, what: string): Uint8Array {
    if (v?.kind === "bytes") return v.value;
    if (v?.kind === "list" && v.value.length === 0) return new Uint8Array(0);
    throw new ArgError(`${what}: expected a list<u8>`);
  },
  list<T>(v: CVal | undefined, what: string, item: (v: CVal, what: string) => T): T[] {
    if (v?.kind !== "list") throw new ArgError(`${what}: expected a list`);
    return v.value.map((x, i) => item(x, `${what}[${i}]`));
  },
  record(v: CVal | undefined, what: string): Map<string, CVal> {
    if (v?.kind !== "record") throw new ArgError(`${what}: expected a record`);
    return new Map(v.value);
  },
};

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
def("caps", "acquire", (c, p) => cv.ok(cv.u32(p.caps.acquire(arg.string(c.args[0], "name")))));

// ---- fs -----------------------------------------------------------------------------------
def("fs", "read-file", async (c, p) => {
  const g = p.caps.use(arg.u32(c.args[0], "dir"), "dir") as Grant & { kind: "dir" };
  return cv.ok(cv.bytes(await readBeneath(g, arg.string(c.args[1], "path"), MAX_FILE)));
});
def("fs", "write-file", async (c, p) => {
  const handle = arg.u32(c.args[0], "dir");
  const g = p.caps.use(handle, "dir") as Grant & { kind: "dir" } & { name: string };
  if (g.readOnly) throw new CapError(`read-only: capability handle ${handle} ("${g.name}") is read-only`);
  await writeBeneath(g, arg.string(c.args[1], "path"), arg.bytes(c.args[2], "data"));
  return cv.ok();
});
def("fs", "list-dir", async (c, p) => {
  const g = p.caps.use(arg.u32(c.args[0], "dir"), "dir") as Grant & { kind: "dir" };
  return cv.ok(cv.list((await listBeneath(g, arg.string(c.args[1], "path"))).map(cv.string)));
});

// ---- net ----------------------------------------------------------------------------------
def("net", "get", async (c, p) => {
  const handle = arg.u32(c.args[0], "domains");
  const g = p.caps.use(handle, "net") as Grant & { kind: "net" } & { name: string };
  const raw = arg.string(c.args[1], "url");
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
  const r = arg.record(v, what);
  const domains = r.get("domains");
  if (domains?.kind !== "option") throw new ArgError(`${what}.domains: expected an option`);
  const subdir = arg.string(r.get("subdir"), `${what}.subdir`);
  return {
    cap: arg.u32(r.get("cap"), `${what}.cap`),
    name: arg.string(r.get("name"), `${what}.name`),
    readOnly: arg.bool(r.get("read-only"), `${what}.read-only`),
    subdir: subdir || undefined,
    domains: domains.value === null ? undefined : arg.list(domains.value, `${what}.domains`, arg.string),
  };
}

function limitsOf(v: CVal | undefined): SpawnLimits {
  const r = arg.record(v, "limits");
  return {
    memoryMib: arg.u32(r.get("memory-mib"), "limits.memory-mib"),
    poolMib: arg.u32(r.get("pool-mib"), "limits.pool-mib"),
    cpuMs: arg.u32(r.get("cpu-ms"), "limits.cpu-ms"),
    timeoutMs: arg.u32(r.get("timeout-ms"), "limits.timeout-ms"),
  };
}

/** args, env, grants and limits: the arguments both spawns share, from `at` on. */
function spawnArgs(c: HostCall, at: number) {
  const env = arg.list(c.args[at + 1], "env", (v, w) => {
    if (v.kind !== "tuple" || v.value.length !== 2) throw new ArgError(`${w}: expected a tuple of 2`);
    return [arg.string(v.value[0], `${w}.0`), arg.string(v.value[1], `${w}.1`)] as [string, string];
  });
  return { args: arg.list(c.args[at], "args", arg.string), env, grants: arg.list(c.args[at + 2], "grants", grantOf), ...limitsOf(c.args[at + 3]) };
}

def("process", "spawn", async (c, p) => cv.ok(cv.u32(await p.spawn({ wasm: arg.bytes(c.args[0], "wasm"), ...spawnArgs(c, 1) }))));
def("process", "spawn-file", async (c, p) => {
  // Read on the host, confined like fs.read-file, before the spawn's own checks see the bytes.
  // Handle 0 (never issued) is the process's own image, read-only: it is not a grant.
  const dir = arg.u32(c.args[0], "dir");
  if (dir === 0 && !p.imageRoot) throw new CapError(`${p.label} has no image (a child sees no file system): pass a directory capability`);
  const g = dir === 0 ? ({ kind: "dir", host: p.imageRoot!, readOnly: true } as const) : (p.caps.use(dir, "dir") as Grant & { kind: "dir" });
  const wasm = await readBeneath(g, arg.string(c.args[1], "path"), MAX_CHILD_WASM);
  return cv.ok(cv.u32(await p.spawn({ wasm, ...spawnArgs(c, 2) })));
});
def("process", "write-stdin", (c, p) => cv.ok(cv.u32(p.child(arg.u32(c.args[0], "child")).writeStdin(arg.bytes(c.args[1], "data")))));
def("process", "close-stdin", (c, p) => {
  p.child(arg.u32(c.args[0], "child")).closeStdin();
  return cv.ok();
});
def("process", "read", async (c, p) => {
  const which = arg.u32(c.args[1], "which");
  if (which !== 1 && which !== 2) throw new CapError(`which must be 1 (stdout) or 2 (stderr), got ${which}`);
  const max = Math.max(1, Math.min(arg.u32(c.args[2], "max"), 1 << 20));
  return cv.ok(cv.bytes(await p.child(arg.u32(c.args[0], "child")).read(which === 1 ? "stdout" : "stderr", max, c.signal)));
});
def("process", "wait", async (c, p) => {
  const r = await p.child(arg.u32(c.args[0], "child")).wait(c.signal);
  return cv.ok({ kind: "s32", value: r.code });
});
def("process", "kill", (c, p) => {
  p.child(arg.u32(c.args[0], "child")).kill();
  return cv.ok();
});
