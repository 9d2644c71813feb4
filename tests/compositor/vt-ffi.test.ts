// ffi/vt.ts without a VT: struct layouts, ioctl numbers and mode values match
// linux/vt.h and linux/kd.h (a C program prints them); ioctls on something
// that is not a VT fail naming the call and the errno; the VT of an fd is
// read from its device number.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IOCTL, K, KD, LAYOUT, MAX_NR_CONSOLES, TTY_MAJOR, VT, vtActive, vtGetInt, vtSet } from "../../ffi/vt.ts";
import { LinuxVt, openLinuxVt, vtOfFd } from "../../src/compositor/backend/vt-linux.ts";
import { vtForKey } from "../../src/compositor/backend/vt.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-vt-ffi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ffi/vt.ts", () => {
  test("layouts, ioctl numbers and values match linux/vt.h and linux/kd.h", () => {
    const ours: Record<string, number> = {};
    const lines: string[] = [];
    const put = (key: string, cExpr: string, v: number) => {
      ours[key] = v;
      lines.push(`  printf("%s %lld\\n", "${key}", (long long)(${cExpr}));`);
    };
    for (const [s, fields] of Object.entries(LAYOUT)) for (const [f, n] of Object.entries(fields)) put(`${s}.${f}`, f === "size" ? `sizeof(struct ${s})` : `offsetof(struct ${s}, ${f})`, n);
    for (const [k, v] of Object.entries(IOCTL)) put(k, k, v);
    for (const [k, v] of Object.entries(KD)) put(`KD_${k}`, `KD_${k}`, v);
    for (const [k, v] of Object.entries(K)) put(`K_${k}`, `K_${k}`, v);
    for (const [k, v] of Object.entries(VT)) put(`VT_${k}`, `VT_${k}`, v);
    put("MAX_NR_CONSOLES", "MAX_NR_CONSOLES", MAX_NR_CONSOLES);
    put("TTY_MAJOR", "TTY_MAJOR", TTY_MAJOR);
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include <linux/vt.h>\n#include <linux/kd.h>\n#include <linux/major.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`;
    writeFileSync(join(dir, "vt.c"), src);
    const cc = Bun.spawnSync(["cc", "-o", join(dir, "vt"), join(dir, "vt.c")], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    const fromC: Record<string, number> = {};
    for (const l of Bun.spawnSync([join(dir, "vt")]).stdout.toString().trim().split("\n")) {
      const [k, n] = l.split(" ");
      fromC[k] = Number(n);
    }
    expect(Object.keys(ours).length).toBeGreaterThan(25);
    expect(ours).toEqual(fromC);
  });

  test("on something that is not a VT: clear errors with the call and errno; vtOfFd says 0", () => {
    const fd = openSync("/dev/null", "r+");
    try {
      expect(vtOfFd(fd)).toBe(0);
      expect(() => vtSet(fd, "KDSETMODE", KD.GRAPHICS, "/dev/null")).toThrow("KDSETMODE(1) on /dev/null failed: ENOTTY");
      expect(() => vtGetInt(fd, "KDGKBMODE", "/dev/null")).toThrow("KDGKBMODE on /dev/null failed: ENOTTY");
      expect(() => vtActive(fd, "/dev/null")).toThrow("VT_GETSTATE on /dev/null failed: ENOTTY");
      // A LinuxVt over a non-VT fd fails on first use, and says where.
      expect(() => new LinuxVt(5, fd, false).takeOver({ release() {}, acquire() {} })).toThrow("KDGETMODE on /dev/tty5 failed: ENOTTY");
    } finally {
      closeSync(fd);
    }
    expect(vtOfFd(9999)).toBe(0);
  });

  test("choosing the VT: WEFT_VT=none, bad numbers, nothing found without root", () => {
    expect(openLinuxVt({ WEFT_VT: "none" })).toEqual({ vt: null, why: "WEFT_VT=none" });
    expect(() => openLinuxVt({ WEFT_VT: "0" })).toThrow("VT 0 does not exist (VTs are 1 to 63)");
    expect(() => openLinuxVt({ WEFT_VT: "x" })).toThrow("VT NaN does not exist");
    expect(() => LinuxVt.openNumber(64)).toThrow("VT 64 does not exist");
  });

  test("Ctrl+Alt+F1…F12 map to VTs 1…12; other keys to none", () => {
    expect([59, 60, 68, 87, 88].map(vtForKey)).toEqual([1, 2, 10, 11, 12]);
    expect([1, 30, 58, 69, 86, 89].map(vtForKey)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
