// ffi/drm.ts without a card: the library loads, every struct offset matches
// libdrm-dev's headers (a C program prints offsetof/sizeof), the kernel's
// event format round-trips, and calls on fds that are not DRM devices fail
// with errors that say so.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DrmCard, DrmError, encodeFlipEvent, LAYOUT, parseDrmEvents, parseMode } from "../../ffi/drm.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-drm-ffi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ffi/drm.ts", () => {
  test("struct layouts match the C headers", () => {
    // typedef'd libdrm structs vs the kernel's `struct drm_*`.
    const cType = (s: string) => (s.startsWith("drm_") ? `struct ${s}` : s);
    const lines: string[] = [];
    for (const [s, fields] of Object.entries(LAYOUT))
      for (const f of Object.keys(fields)) {
        const expr = f === "size" ? `sizeof(${cType(s)})` : `offsetof(${cType(s)}, ${f})`;
        lines.push(`  printf("%s.%s %zu\\n", "${s}", "${f}", ${expr});`);
      }
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include <stdint.h>\n#include <xf86drm.h>\n#include <xf86drmMode.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`;
    writeFileSync(join(dir, "layout.c"), src);
    const cc = Bun.spawnSync(["cc", "-I/usr/include/libdrm", "-o", join(dir, "layout"), join(dir, "layout.c")], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    expect(cc.exitCode).toBe(0);
    const out = Bun.spawnSync([join(dir, "layout")]).stdout.toString();
    const fromC: Record<string, number> = {};
    for (const l of out.trim().split("\n")) {
      const [k, n] = l.split(" ");
      fromC[k] = Number(n);
    }
    const ours: Record<string, number> = {};
    for (const [s, fields] of Object.entries(LAYOUT)) for (const [f, n] of Object.entries(fields)) ours[`${s}.${f}`] = n;
    expect(Object.keys(ours).length).toBeGreaterThan(40);
    expect(ours).toEqual(fromC);
  });

  test("flip events round-trip in the kernel's format; a torn stream is an error", () => {
    const a = encodeFlipEvent({ crtcId: 41, userData: 7n, sec: 100, usec: 250, sequence: 9 });
    const b = encodeFlipEvent({ crtcId: 42, userData: 1n << 40n, sec: 101, usec: 0, sequence: 10 });
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    expect(parseDrmEvents(both)).toEqual([
      { crtcId: 41, userData: 7n, sec: 100, usec: 250, sequence: 9 },
      { crtcId: 42, userData: 1n << 40n, sec: 101, usec: 0, sequence: 10 },
    ]);
    expect(() => parseDrmEvents(both.subarray(0, 40))).toThrow(/malformed DRM event stream/);
  });

  test("a mode's refresh comes from its timings (CEA 1080p60: 148.5 MHz / 2200×1125)", () => {
    const M = LAYOUT.drmModeModeInfo;
    const raw = new Uint8Array(M.size);
    const dv = new DataView(raw.buffer);
    dv.setUint32(M.clock, 148500, true);
    dv.setUint16(M.hdisplay, 1920, true);
    dv.setUint16(M.htotal, 2200, true);
    dv.setUint16(M.vdisplay, 1080, true);
    dv.setUint16(M.vtotal, 1125, true);
    dv.setUint32(M.vrefresh, 60, true);
    dv.setUint32(M.type, 1 << 3, true);
    raw.set(new TextEncoder().encode("1920x1080"), M.name);
    expect(parseMode(raw)).toMatchObject({ width: 1920, height: 1080, refreshMHz: 60000, preferred: true, name: "1920x1080" });
  });

  test("opening something that is not a DRM device says so", () => {
    expect(() => DrmCard.open("/dev/null")).toThrow("drmIsKMS on /dev/null failed: ENOTTY (not a DRM/KMS device)");
    expect(() => DrmCard.open(join(dir, "no-such-card"))).toThrow(/cannot open DRM device .*no-such-card/);
  });

  test("KMS calls on a non-DRM fd fail with the call, the device and the errno", () => {
    const fd = openSync("/dev/null", "r+");
    const card = DrmCard.fromFd(fd, "/dev/null");
    try {
      const err = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return e as DrmError;
        }
        throw new Error("did not throw");
      };
      const e = err(() => card.resources());
      expect(e).toBeInstanceOf(DrmError);
      expect(e.message).toBe("drmModeGetResources on /dev/null failed: ENOTTY (not a DRM/KMS device)");
      expect(err(() => card.createDumb(64, 64)).message).toStartWith("drmModeCreateDumbBuffer(64x64) on /dev/null failed: ENOTTY");
      expect(err(() => card.pageFlip(1, 1, 0n)).message).toStartWith("drmModePageFlip(1) on /dev/null failed: ENOTTY");
      expect(err(() => card.setMaster()).errno).toBe(25);
      expect(card.hasDumbBuffers()).toBe(false);
      expect(card.cursorSize()).toBeNull();
    } finally {
      closeSync(fd);
    }
  });
});
