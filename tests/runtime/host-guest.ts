// Runs tests/components/host.js (js-host.component.wasm): each argv element
// is a command, one stdout line per command (see host.js).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Component, Module } from "../../ffi/wasmtime.ts";
import { loadWasmAsync } from "../../src/runtime/cache.ts";
import { Guest, type GuestOptions } from "../../src/runtime/guest.ts";
import { ROOT } from "../helpers.ts";
import "./echo-host.ts";

export const HOST_GUEST = join(ROOT, "tests", "components", "build", "js-host.component.wasm");

let compiled: Promise<Module | Component> | null = null;
/** Compiles (cold: tens of seconds for 12 MB under Cranelift) or finds it in the caches. Call in beforeAll. */
export function loadHostGuest(): Promise<Module | Component> {
  return (compiled ??= loadWasmAsync(readFileSync(HOST_GUEST)));
}

export async function startHost(commands: string[], opts: Partial<GuestOptions> = {}) {
  const component = await loadHostGuest();
  let out = "";
  const lines: ((s: string) => void)[] = [];
  const guest = new Guest(component, {
    argv: ["host", ...commands],
    stdout: "capture",
    stderr: "capture",
    ...opts,
    onOutput: (s, b) => {
      if (s === "stdout") out += new TextDecoder().decode(b);
      for (const l of lines) l(out);
    },
  });
  return {
    guest,
    out: () => out,
    /** Resolves when stdout contains `needle` (rejects at the deadline). */
    waitFor: (needle: string, ms = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(needle)) return resolve();
        const t = setTimeout(() => reject(new Error(`no "${needle}" within ${ms} ms; stdout: ${out}`)), ms);
        lines.push((o) => o.includes(needle) && (clearTimeout(t), resolve()));
      }),
  };
}

/** Runs commands to the end: the exit status and stdout's lines. */
export async function runHost(commands: string[], opts: Partial<GuestOptions> = {}) {
  const g = await startHost(commands, opts);
  const status = await g.guest.exited;
  return { status, lines: g.out().trimEnd().split("\n") };
}
