// ffi/evdev.ts without devices: struct input_event/input_absinfo layouts,
// ioctl numbers and event codes match linux/input.h (a C program prints
// them), the byte format round-trips, and non-evdev nodes get clear errors.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABS, BTN, encodeInputEvents, EV, IOCTL, KEY, LAYOUT, parseInputEvents, REL, SYN } from "../../ffi/evdev.ts";
import { EvdevDevice } from "../../src/compositor/input/evdev.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-evdev-ffi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ffi/evdev.ts", () => {
  test("layouts, ioctl numbers and codes match linux/input.h", () => {
    const ours: Record<string, number> = {};
    const lines: string[] = [];
    const put = (key: string, cExpr: string, v: number) => {
      ours[key] = v;
      lines.push(`  printf("%s %llu\\n", "${key}", (unsigned long long)(${cExpr}));`);
    };
    for (const [s, fields] of Object.entries(LAYOUT)) for (const [f, n] of Object.entries(fields)) put(`${s}.${f}`, f === "size" ? `sizeof(struct ${s})` : `offsetof(struct ${s}, ${f})`, n);
    put("EVIOCGRAB", "EVIOCGRAB", IOCTL.EVIOCGRAB);
    put("EVIOCGNAME(256)", "EVIOCGNAME(256)", IOCTL.EVIOCGNAME(256));
    put("EVIOCGBIT(EV_KEY,96)", "EVIOCGBIT(EV_KEY, 96)", IOCTL.EVIOCGBIT(EV.KEY, 96));
    put("EVIOCGABS(ABS_MT_POSITION_X)", "EVIOCGABS(ABS_MT_POSITION_X)", IOCTL.EVIOCGABS(ABS.MT_POSITION_X));
    for (const [name, table, prefix] of [
      ["EV", EV, "EV_"],
      ["SYN", SYN, "SYN_"],
      ["REL", REL, "REL_"],
      ["ABS", ABS, "ABS_"],
      ["KEY", KEY, "KEY_"],
      ["BTN", BTN, "BTN_"],
    ] as const)
      for (const [k, v] of Object.entries(table)) put(`${name}.${k}`, `${prefix}${k}`, v);
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include <linux/input.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`;
    writeFileSync(join(dir, "input.c"), src);
    const cc = Bun.spawnSync(["cc", "-o", join(dir, "input"), join(dir, "input.c")], { stderr: "pipe" });
    expect(cc.stderr.toString()).toBe("");
    const fromC: Record<string, number> = {};
    for (const l of Bun.spawnSync([join(dir, "input")]).stdout.toString().trim().split("\n")) {
      const [k, n] = l.split(" ");
      fromC[k] = Number(n);
    }
    expect(Object.keys(ours).length).toBeGreaterThan(30);
    expect(ours).toEqual(fromC);
  });

  test("input_events round-trip; a torn read is an error", () => {
    const evs = [
      { type: EV.REL, code: REL.X, value: -5, timeUs: 1_700_000_123_456 },
      { type: EV.KEY, code: KEY.A, value: 1, timeUs: 1_700_000_123_999 },
      { type: EV.SYN, code: SYN.REPORT, value: 0, timeUs: 1_700_000_124_000 },
    ];
    const b = encodeInputEvents(evs);
    expect(b.length).toBe(72);
    expect(parseInputEvents(b)).toEqual(evs);
    expect(() => parseInputEvents(b.subarray(0, 30))).toThrow("evdev read of 30 bytes is not a whole number of 24-byte input_events");
  });

  test("a node that is not an evdev device is refused with a clear error", () => {
    expect(() => EvdevDevice.open("/dev/null")).toThrow("EVIOCGBIT on /dev/null failed (errno 25: not an evdev device)");
    expect(() => EvdevDevice.open(join(dir, "event99"))).toThrow(/cannot open input device .*event99/);
  });
});
