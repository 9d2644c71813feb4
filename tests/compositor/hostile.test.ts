// Hostile clients (tests/clients/hostile.c): each misbehaviour earns that
// client a protocol error or a disconnect, while weft keeps serving others
// and leaks neither fds nor objects.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Harness, HOSTILE, openFds, ROOT } from "./helpers.ts";

const FUZZ = join(ROOT, "build", "clients", "fuzz");

let h: Harness;
let fdsAtStart = 0;
beforeAll(() => {
  if (!existsSync(HOSTILE)) throw new Error(`${HOSTILE} missing: run bash scripts/build-clients.sh`);
  h = new Harness();
  fdsAtStart = openFds();
});
afterAll(() => h.dispose());

async function hostile(...args: string[]): Promise<string> {
  const { code, out } = await h.run([HOSTILE, ...args], {}, 30_000);
  expect(code).toBe(0);
  return out.split("\n").find((l) => /^(error|eof|ok|connect|roundtrip)/.test(l)) ?? out;
}

/** After each case: weft still answers a fresh, well-behaved client. */
async function stillServing() {
  const { code, out } = await h.run(["wayland-info"]);
  expect(code).toBe(0);
  expect(out).toContain("zweft_shell_manager_v1");
}

describe("hostile clients", () => {
  const cases: [string, RegExp][] = [
    ["bad-object", /^error 1 0 invalid object 4242/], // wl_display.error invalid_object
    ["bad-opcode", /^error 1 1 invalid method 57/], // invalid_method
    ["bad-new-id", /^error 1 1 /],
    ["truncated", /^eof/],
    ["destroyed-object", /^error 1 0 invalid object 4/],
    ["shm-bad-fd", /^error wl_shm 2/], // wl_shm.error.invalid_fd
    ["shm-negative-size", /^error wl_shm 1/], // invalid_stride (size)
    ["shm-oversize", /^error wl_buffer 2/], // pool bigger than its file: SIGBUS caught, client cut off
    ["buffer-outside-pool", /^error wl_shm_pool 1/], // invalid_stride
    ["bad-format", /^error wl_shm_pool 0/], // invalid_format
    ["dnd-bad-actions", /^error wl_data_source 0/], // invalid_action_mask
    ["dnd-source-reused", /^error wl_data_source 1/], // invalid_source
    ["dnd-icon-role", /^error wl_data_device 0/], // role
  ];
  for (const [mode, expected] of cases) {
    test(`${mode} gets a protocol error and weft keeps serving`, async () => {
      expect(await hostile(mode)).toMatch(expected);
      await stillServing();
    });
  }

  test("1000 rapid connect/round-trip/disconnects, then 1000 abrupt ones", async () => {
    expect(await hostile("flood-connect", "1000")).toBe("ok");
    expect(await hostile("flood-abrupt", "1000")).toBe("ok");
    await stillServing();
  }, 30_000); // thousands of processes: slow on a loaded machine

  test("random well-typed request sequences on every interface cause protocol errors, never weft bugs", async () => {
    for (const seed of ["1", "2", "3"]) {
      const { code, out } = await h.run([FUZZ, seed, "4000"], {}, 60_000);
      expect(code).toBe(0);
      expect(out).toMatch(/^ok \d+ \d+ 4000$/m);
    }
    expect(h.comp.server.internalErrors).toBe(0);
    await stillServing();
  }, 60_000);

  test("nothing leaks: no clients, objects or fds left behind", async () => {
    await h.waitFor("all clients gone", () => h.comp.server.clients.size === 0);
    expect(h.comp.server.resources.size).toBe(0);
    expect(h.comp.server.internalErrors).toBe(0);
    // Bun closes the stdio sockets of finished child processes lazily (at
    // GC); give it a few frames before judging.
    for (let i = 0; i < 60 && openFds() > fdsAtStart; i++) {
      Bun.gc(true);
      await h.comp.nextFrame();
    }
    expect(openFds()).toBeLessThanOrEqual(fdsAtStart);
  }, 30_000); // thousands of processes: slow on a loaded machine

  test("memory stays flat across another 3000 connects", async () => {
    Bun.gc(true);
    const before = process.memoryUsage.rss();
    for (let i = 0; i < 3; i++) expect(await hostile("flood-connect", "1000")).toBe("ok");
    Bun.gc(true);
    const grown = process.memoryUsage.rss() - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
  }, 30_000); // thousands of processes: slow on a loaded machine
});
