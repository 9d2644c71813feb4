// Capabilities without a guest: attenuation never widens, handles go stale
// with the epoch, fresh ones are derived from the current configuration.
import { describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { attenuate, CapError, CapHolder, domainCovered, type Grant } from "../../src/cell/caps.ts";
import { tempDir } from "../helpers.ts";

function refuses(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CapError);
    return (e as Error).message;
  }
  throw new Error("expected a CapError");
}

describe("attenuation", () => {
  test("read-only stays read-only; rw can be narrowed to ro", () => {
    using d = tempDir();
    const rw: Grant = { kind: "dir", host: d.path, readOnly: false };
    const ro: Grant = { kind: "dir", host: d.path, readOnly: true };
    expect(attenuate(rw, { readOnly: true }, "x")).toEqual({ kind: "dir", host: d.path, readOnly: true });
    expect(attenuate(rw, {}, "x")).toEqual(rw);
    expect(attenuate(ro, {}, "x")).toEqual(ro);
    expect(refuses(() => attenuate(ro, { readOnly: false }, `"/data"`))).toBe(`cannot widen "/data": it is read-only`);
  });

  test("a directory narrows to a subdirectory, never out of it (.., absolute, symlinks)", () => {
    using d = tempDir();
    mkdirSync(join(d.path, "top", "inner"), { recursive: true });
    symlinkSync(d.path, join(d.path, "top", "up"));
    const g: Grant = { kind: "dir", host: join(d.path, "top"), readOnly: false };
    // Kept as a symlink-free path under the configured directory (opened beneath it at each use).
    expect(attenuate(g, { subdir: "inner" }, "x")).toEqual({ kind: "dir", host: join(d.path, "top"), sub: "inner", readOnly: false });
    expect(attenuate(attenuate(g, { subdir: "inner" }, "x"), { subdir: "." }, "x")).toMatchObject({ sub: "inner" });
    expect(refuses(() => attenuate(g, { subdir: "../" }, "x"))).toContain("is not inside it");
    expect(refuses(() => attenuate(g, { subdir: "/etc" }, "x"))).toContain("is not inside it");
    expect(refuses(() => attenuate(g, { subdir: "up" }, "x"))).toContain("leads outside it");
    expect(refuses(() => attenuate(g, { subdir: "missing" }, "x"))).toContain(`no directory "missing"`);
  });

  test("a domain list only shrinks", () => {
    const g: Grant = { kind: "net", domains: ["api.example.com", "*.cdn.example.com"] };
    expect(attenuate(g, { domains: ["a.cdn.example.com"] }, "x")).toEqual({ kind: "net", domains: ["a.cdn.example.com"] });
    expect(attenuate(g, { domains: [] }, "x")).toEqual({ kind: "net", domains: [] });
    expect(attenuate(g, {}, "x")).toEqual(g);
    expect(refuses(() => attenuate(g, { domains: ["evil.com"] }, `"api"`))).toBe(`cannot widen "api": evil.com is not among its domains (api.example.com, *.cdn.example.com)`);
    expect(refuses(() => attenuate(g, { domains: ["*.example.com"] }, "x"))).toContain("*.example.com is not among");
    expect(domainCovered("x.cdn.example.com", ["*.cdn.example.com"])).toBe(true);
    expect(domainCovered("cdn.example.com", ["*.cdn.example.com"])).toBe(false);
    expect(domainCovered("evilcdn.example.com", ["*.cdn.example.com"])).toBe(false);
  });
});

describe("holders and epochs", () => {
  test("a handle works in its epoch and is stale after; acquiring again works", () => {
    using d = tempDir();
    let epoch = 1;
    const pid0 = new CapHolder(() => epoch, "pid0");
    pid0.setConfigGrants(new Map([["/data", { kind: "dir", host: d.path, readOnly: false }]]));
    const h = pid0.acquire("/data");
    expect(pid0.use(h, "dir")).toMatchObject({ host: d.path, name: "/data" });
    epoch++;
    expect(refuses(() => pid0.use(h, "dir"))).toBe(`stale epoch: capability handle ${h} ("/data") was issued in epoch 1; the cell is in epoch 2 (acquire it again)`);
    const h2 = pid0.acquire("/data");
    expect(pid0.use(h2, "dir")).toMatchObject({ host: d.path });
    expect(refuses(() => pid0.use(h2, "net"))).toContain("is a directory, not a domain list");
    expect(refuses(() => pid0.use(99, "dir"))).toBe("no capability handle 99");
    expect(refuses(() => pid0.acquire("/etc"))).toBe(`pid0 holds no capability named "/etc"`);
  });

  test("delegation: the child holds only what was passed, attenuated, re-derived from the parent's current grant", () => {
    using d = tempDir();
    let epoch = 1;
    const pid0 = new CapHolder(() => epoch, "pid0");
    pid0.setConfigGrants(new Map([["/data", { kind: "dir", host: d.path, readOnly: false }], ["api", { kind: "net", domains: ["a.com", "b.com"] }]]));
    const child = new CapHolder(() => epoch, "pid0/1");
    pid0.delegate(pid0.acquire("/data"), child, "data", { readOnly: true });
    expect(refuses(() => pid0.delegate(pid0.acquire("api"), child, "api", { domains: ["c.com"] }))).toContain("cannot widen");
    expect(child.names()).toEqual(["data"]);
    expect(child.use(child.acquire("data"), "dir")).toMatchObject({ readOnly: true });
    // The grandchild cannot get rw back.
    const grandchild = new CapHolder(() => epoch, "pid0/1/1");
    expect(refuses(() => child.delegate(child.acquire("data"), grandchild, "d", { readOnly: false }))).toContain("it is read-only");
    // A stale handle cannot be passed on.
    const old = pid0.acquire("/data");
    epoch++;
    expect(refuses(() => pid0.delegate(old, grandchild, "d", {}))).toStartWith("stale epoch:");
    // The configuration loses /data (a new layer): the child's grant is gone too.
    pid0.setConfigGrants(new Map([["api", { kind: "net", domains: ["a.com"] }]]));
    epoch++;
    expect(refuses(() => child.acquire("data"))).toBe(`"data" was revoked: pid0 holds no capability named "/data"`);
  });
});
