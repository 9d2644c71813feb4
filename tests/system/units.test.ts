// The systemd units: `systemd-analyze verify` passes without a single warning
// (it exits 0 even for unknown keys, so silence is the check), the offline
// security score stays low, and the paths weft derives from the unit's
// environment are exactly the ones the hardening leaves writable.
import { describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appdSocketPath } from "../../src/appd/daemon.ts";
import { userStoreRoot } from "../../src/appd/package-store.ts";
import { cacheDir } from "../../src/system/paths.ts";
import { ROOT, tempDir } from "../helpers.ts";

const SYSTEM_UNIT = join(ROOT, "systemd", "weft.service");
const USER_UNIT = join(ROOT, "systemd", "user", "weft.service");
const hasAnalyze = !!Bun.which("systemd-analyze");

/** Key → values (repeated keys accumulate) of one section of a unit file. */
function section(file: string, name: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let cur = "";
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("[")) cur = line.slice(1, -1);
    else if (cur === name) {
      const i = line.indexOf("=");
      (out[line.slice(0, i)] ??= []).push(line.slice(i + 1));
    }
  }
  return out;
}

/** A root dir with the host's stock units, a stand-in /usr/bin/weft and our unit, for --root checks. */
function unitRoot(dir: string): string {
  const root = join(dir, "root");
  mkdirSync(join(root, "usr", "bin"), { recursive: true });
  mkdirSync(join(root, "usr", "lib", "systemd"), { recursive: true });
  if (Bun.spawnSync(["cp", "-a", "/usr/lib/systemd/system", join(root, "usr", "lib", "systemd", "system")]).exitCode !== 0) throw new Error("cp -a /usr/lib/systemd/system failed");
  writeFileSync(join(root, "usr", "bin", "weft"), "#!/bin/sh\n");
  chmodSync(join(root, "usr", "bin", "weft"), 0o755);
  cpSync(SYSTEM_UNIT, join(root, "usr", "lib", "systemd", "system", "weft.service"));
  return root;
}

function analyze(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["systemd-analyze", ...args], { env: { ...process.env, SYSTEMD_LOG_COLOR: "0", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The system calls named by filter groups and names, as this systemd knows them (`systemd-analyze syscall-filter`). */
function expandSyscalls(items: string[], seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  for (const item of items) {
    if (!item.startsWith("@")) {
      out.add(item);
      continue;
    }
    if (seen.has(item)) continue;
    seen.add(item);
    const r = analyze(["syscall-filter", item]);
    if (r.code !== 0) throw new Error(`systemd-analyze syscall-filter ${item}: ${r.stderr}`);
    const names = r.stdout.split("\n").slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => l.split(/\s+/)[0]);
    for (const n of expandSyscalls(names, seen)) out.add(n);
  }
  return out;
}

describe.skipIf(!hasAnalyze)("systemd-analyze (skipped: no systemd-analyze)", () => {
  test("verify: the system unit, as installed at /usr/lib/systemd/system with /usr/bin/weft", () => {
    using dir = tempDir();
    const root = unitRoot(dir.path);
    expect(analyze(["verify", "--man=no", `--root=${root}`, "weft.service"])).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("verify: the user unit", () => {
    using dir = tempDir();
    // The user manager cannot take --root: point ExecStart at a stand-in instead.
    writeFileSync(join(dir.path, "weft"), "#!/bin/sh\n");
    chmodSync(join(dir.path, "weft"), 0o755);
    writeFileSync(join(dir.path, "weft.service"), readFileSync(USER_UNIT, "utf8").replaceAll("/usr/bin/weft", join(dir.path, "weft")));
    const r = analyze(["verify", "--man=no", "--user", join(dir.path, "weft.service")], { XDG_RUNTIME_DIR: dir.path, HOME: dir.path });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("SystemCallFilter= allows every system call weft was seen making, and refuses what it never needs", () => {
    // systemd/syscalls-seen.txt: scripts/trace-syscalls.sh under strace (start, client, HTTP, guest, trap, stop).
    const seen = readFileSync(join(ROOT, "systemd", "syscalls-seen.txt"), "utf8").split("\n").filter(Boolean);
    expect(seen.length).toBeGreaterThan(50);
    for (const unit of [SYSTEM_UNIT, USER_UNIT]) {
      const s = section(unit, "Service");
      const allowed = new Set<string>();
      for (const line of s.SystemCallFilter ?? []) {
        const deny = line.startsWith("~");
        for (const name of expandSyscalls(line.replace(/^~/, "").split(/\s+/))) deny ? allowed.delete(name) : allowed.add(name);
      }
      expect({ unit, refused: seen.filter((c) => !allowed.has(c)) }).toEqual({ unit, refused: [] });
      expect({ unit, allowed: ["setuid", "add_key", "mlock", "reboot", "init_module", "kexec_load", "mount"].filter((c) => allowed.has(c)) }).toEqual({ unit, allowed: [] });
      expect(s.SystemCallErrorNumber).toEqual(["EPERM"]);
    }
  });

  test("the offline security exposure of the system unit stays at or below 4.0 (systemd's 'OK')", () => {
    using dir = tempDir();
    const r = analyze(["security", "--offline=yes", `--root=${unitRoot(dir.path)}`, "--no-pager", "weft.service"]);
    const score = Number(/Overall exposure level for weft\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(score).toBeLessThanOrEqual(4.0);
  });
});

describe("what the units promise", () => {
  test("both: Type=notify, NotifyAccess=main, a watchdog, restart on failure but not after a bad command line", () => {
    for (const unit of [SYSTEM_UNIT, USER_UNIT]) {
      const s = section(unit, "Service");
      expect({ unit, Type: s.Type, NotifyAccess: s.NotifyAccess, ExecStart: s.ExecStart, WatchdogSec: s.WatchdogSec, Restart: s.Restart, RestartPreventExitStatus: s.RestartPreventExitStatus }).toEqual({
        unit,
        Type: ["notify"],
        NotifyAccess: ["main"],
        ExecStart: ["/usr/bin/weft run"],
        WatchdogSec: ["10s"],
        Restart: ["on-failure"],
        RestartPreventExitStatus: ["2"],
      });
    }
  });

  test("system: CAP_SYS_NICE for the loop's SCHED_RR and nothing that forbids it or the JIT", () => {
    const s = section(SYSTEM_UNIT, "Service");
    expect(s.AmbientCapabilities).toEqual(["CAP_SYS_NICE"]);
    expect(s.CapabilityBoundingSet).toEqual(["CAP_SYS_NICE"]);
    expect(s.NoNewPrivileges).toEqual(["yes"]);
    expect(s.RestrictRealtime).toBeUndefined();
    expect(s.MemoryDenyWriteExecute).toBeUndefined();
    expect(s.LimitRTPRIO).toBeUndefined();
  });

  test("system: every path weft writes under the unit's environment is writable under ProtectSystem=strict", () => {
    const s = section(SYSTEM_UNIT, "Service");
    expect(s.ProtectSystem).toEqual(["strict"]);
    const env = Object.fromEntries(s.Environment.flatMap((e) => e.split(/\s+/)).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const writable = s.ReadWritePaths[0].split(/\s+/);
    // What systemd creates (owned by User=, mode 0700) is what ReadWritePaths names.
    expect([`/run/${s.RuntimeDirectory}`, `/var/lib/${s.StateDirectory}`, `/var/cache/${s.CacheDirectory}`]).toEqual(writable);
    const saved = { ...process.env };
    try {
      for (const k of ["WEFT_APP_STORE", "WEFT_APPD_SOCKET", "WEFT_CACHE_DIR", "XDG_CONFIG_HOME"]) delete process.env[k];
      Object.assign(process.env, env);
      const paths = { store: userStoreRoot(), cache: cacheDir(), appd: appdSocketPath(), home: process.env.HOME! };
      expect(paths).toEqual({ store: "/var/lib/weft/apps", cache: "/var/cache/weft", appd: "/run/weft/weft/appd.sock", home: "/var/lib/weft" });
      for (const p of Object.values(paths)) expect(writable.some((w) => p === w || p.startsWith(w + "/"))).toBe(true);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
