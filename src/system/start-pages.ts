// Start-up code leaves the page tables once start-up is over.
//
// Starting weft runs code it never runs again: Bun's module loader and
// TypeScript transpiler, the TinyCC compiles behind every bun:ffi dlopen,
// JSC's parser over ~100 modules, Wasmtime's engine set-up. Each page of the
// executable (and of the libraries) it touched stays mapped, and so counted
// in weft's resident set, for the life of the process: ~20 MiB of Bun's
// text and read-only data that a bare `bun` script does not have.
//
// Once start-up has settled we drop our mappings of every read-only file
// mapping that holds only unmodified file pages (MADV_DONTNEED). Nothing is
// lost: each such page is the page cache's copy of the file, so the next
// instruction that needs it maps it again (a minor fault, plus the kernel's
// fault-around of its neighbours) and the working set grows back to what the
// running compositor, daemon and runtime really use. The pages themselves
// stay in the page cache, now unmapped — the kind the kernel reclaims first
// under memory pressure. Done once: dropping again later would only hide
// pages the process does use (see docs/decisions/0009).
import { readFileSync } from "node:fs";
import { dropCleanPages } from "../../ffi/libc.ts";

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rssKiB: number;
  /** Private_Dirty + Anonymous + Swap: pages that differ from the file (copy-on-write, relocations), resident or swapped out. */
  changedKiB: number;
  /** smaps VmFlags (two-letter codes). */
  flags: string[];
}

/** Locked, I/O, raw PFN or hugetlb mappings: MADV_DONTNEED refuses them, or they are not page cache. */
const KEEP_FLAGS = ["lo", "io", "pf", "ht"];

/** The mappings of /proc/self/smaps (or the text given), with what decides whether one may be dropped. */
export function readMappings(text = readFileSync("/proc/self/smaps", "utf8")): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: parseInt(head[1], 16), end: parseInt(head[2], 16), perms: head[3], path: head[4], rssKiB: 0, changedKiB: 0, flags: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith("VmFlags:")) {
      cur.flags = line.slice(8).trim().split(/\s+/);
      continue;
    }
    const f = /^(Rss|Private_Dirty|Anonymous|Swap):\s+(\d+) kB/.exec(line);
    if (!f) continue;
    if (f[1] === "Rss") cur.rssKiB = Number(f[2]);
    else cur.changedKiB += Number(f[2]);
  }
  return out;
}

/** A mapping whose pages can all be mapped again from its file: read-only, file-backed, nothing changed. */
export function droppable(m: Mapping): boolean {
  return (
    m.path.startsWith("/") &&
    !m.perms.includes("w") &&
    m.perms[3] === "p" &&
    m.changedKiB === 0 &&
    m.rssKiB > 0 &&
    !m.path.endsWith(" (deleted)") &&
    !m.flags.some((f) => KEEP_FLAGS.includes(f))
  );
}

/**
 * Drops this process's mappings of its clean read-only file pages; returns
 * how much was resident there and what could not be dropped (each mapping
 * on its own: one refusal does not stop the rest).
 */
export function releaseStartPages(): { mappings: number; kib: number; failed: string[] } {
  let mappings = 0;
  let kib = 0;
  const failed: string[] = [];
  for (const m of readMappings()) {
    if (!droppable(m)) continue;
    try {
      dropCleanPages(m.start, m.end - m.start);
      mappings++;
      kib += m.rssKiB;
    } catch (err) {
      failed.push(`${m.path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { mappings, kib, failed };
}
