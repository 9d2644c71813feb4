// Releasing start-up pages: only mappings that are an unmodified copy of
// their file are dropped, the process's resident set really shrinks, and
// everything keeps running (the pages come back from the page cache).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { droppable, readMappings } from "../../src/system/start-pages.ts";

const SMAPS = `00200000-01a39000 r--p 00000000 fe:00 1441863                            /usr/lib/bun.exe
Rss:                4876 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
01a40000-0684a000 r-xp 01838000 fe:00 1441863                            /usr/lib/bun.exe
Rss:               18372 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
0684a000-0685f000 r--p 06641000 fe:00 1441863                            /usr/lib/bun.exe
Rss:                  84 kB
Private_Dirty:        84 kB
Anonymous:            84 kB
0685f000-06870000 rw-p 06656000 fe:00 1441863                            /usr/lib/bun.exe
Rss:                  60 kB
Private_Dirty:        12 kB
Anonymous:            12 kB
7f0000000000-7f0000100000 rw-s 00000000 00:01 2048                       /memfd:wayland-shm (deleted)
Rss:                1024 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r--s 00000000 00:01 2049                       /dev/shm/keymap (deleted)
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 rw-p 00000000 00:00 0
Rss:                 512 kB
Private_Dirty:       512 kB
Anonymous:           512 kB
7f0000600000-7f0000601000 r-xp 00000000 fe:00 77                         /usr/lib/libpixman-1.so.0
Rss:                   0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000700000-7f0000710000 r--p 00020000 fe:00 78                         /usr/lib/libfoo.so.1
Rss:                  16 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
Swap:                 48 kB
VmFlags: rd mr mw me
7f0000800000-7f0000810000 r-xp 00000000 fe:00 79                         /usr/lib/locked lib.so
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me lo
`;

test("only read-only private file mappings holding nothing but file pages are droppable", () => {
  const maps = readMappings(SMAPS);
  expect(maps.map((m) => [m.perms, m.rssKiB, m.changedKiB])).toEqual([
    ["r--p", 4876, 0],
    ["r-xp", 18372, 0],
    ["r--p", 84, 168],
    ["rw-p", 60, 24],
    ["rw-s", 1024, 0],
    ["r--s", 64, 0],
    ["rw-p", 512, 1024],
    ["r-xp", 0, 0],
    ["r--p", 16, 48],
    ["r-xp", 64, 0],
  ]);
  // rodata and text: yes. Relocated read-only data (RELRO, written before it was
  // made read-only), writable data, shared memory, anonymous memory, nothing
  // resident, written pages now in swap (not in Private_Dirty), locked: no.
  expect(maps.map(droppable)).toEqual([true, true, false, false, false, false, false, false, false, false]);
  expect(maps[9]).toMatchObject({ path: "/usr/lib/locked lib.so", flags: ["rd", "ex", "mr", "mw", "me", "lo"] });
  expect(maps[1]).toMatchObject({ start: 0x01a40000, end: 0x0684a000, path: "/usr/lib/bun.exe" });
});

const probe = `
import { releaseStartPages, readMappings } from ${JSON.stringify(join(import.meta.dir, "../../src/system/start-pages.ts"))};
import { createHash } from "node:crypto";
const exe = readMappings().filter((m) => m.path === process.execPath);
const residentExe = () => readMappings().filter((m) => m.path === process.execPath).reduce((n, m) => n + m.rssKiB, 0);
const work = () => createHash("sha256").update(new TextEncoder().encode(JSON.stringify({ a: [1, 2, 3], s: "x".repeat(1000) }))).digest("hex");
const before = residentExe();
const expected = work();
const released = releaseStartPages();
const after = residentExe();
// The process goes on: JS, Bun's runtime and libc all run from pages mapped again on demand.
const again = work();
await Bun.sleep(1);
console.log(JSON.stringify({ before, after, released, same: again === expected, exeMappings: exe.length }));
`;

test("a real process drops its executable's start-up pages and keeps running", async () => {
  const p = Bun.spawn([process.execPath, "-e", probe], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const r = JSON.parse(out) as { before: number; after: number; released: { mappings: number; kib: number }; same: boolean; exeMappings: number };
  expect(r.same).toBe(true);
  expect(r.exeMappings).toBeGreaterThan(0);
  expect(r.released.mappings).toBeGreaterThan(0);
  expect(r.released.kib).toBeGreaterThan(r.before / 2);
  // Some pages come straight back (the code running right after), most do not.
  expect(r.after).toBeLessThan(r.before / 2);
});
