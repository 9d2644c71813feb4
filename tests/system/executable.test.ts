// The single-file build: `bun scripts/build.ts` once per test run, the
// executable copied ALONE into an empty dir and run with a scrubbed
// environment (only PATH, HOME, XDG_RUNTIME_DIR): --version, exec, and
// `run --no-compositor` answering its API and stopping cleanly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { ASSET_TREES } from "../../src/system/assets.ts";
import { guestPath } from "../helpers.ts";
import { unixClient } from "../appd/unix-client.ts";
import { buildOnce, fields, notifyPeer, readLines } from "./helpers.ts";

let box = ""; // the empty dir holding only ./weft
let home = "";
let run = "";

beforeAll(async () => {
  const { path } = await buildOnce();
  box = mkdtempSync(join(tmpdir(), "weft-box-"));
  copyFileSync(path, join(box, "weft"));
  chmodSync(join(box, "weft"), 0o755);
  home = join(box, "home");
  run = join(box, "run");
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(run, { mode: 0o700 });
}, 120_000);

afterAll(() => {
  if (!box) return;
  // Extracted files are read-only; make them removable first.
  const unlock = (d: string) => {
    chmodSync(d, 0o700);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) unlock(join(d, e.name));
  };
  unlock(box);
  rmSync(box, { recursive: true, force: true });
});

/** The scrubbed environment: nothing from this process but PATH. */
function scrubbed(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: home, XDG_RUNTIME_DIR: run, ...extra };
}

async function weft(args: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawn(["./weft", ...args], { cwd: box, env: scrubbed(extra), stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

describe("dist/weft copied alone into an empty dir", () => {
  test("--version names weft, Bun, Wasmtime and the build", async () => {
    expect(readdirSync(box).sort()).toEqual(["home", "run", "weft"]);
    const r = await weft(["--version"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`^weft ${pkg.version.replaceAll(".", "\\.")} \\(bun ${Bun.version.replaceAll(".", "\\.")}, wasmtime 49\\.0\\.0\\)\\nsingle-file build of \\S+, \\d{4}-\\d\\d-\\d\\dT\\S+Z\\n$`));
  });

  test("exec runs a guest; the libraries are extracted once, by content hash, into a private cache", async () => {
    const first = await weft(["exec", guestPath("hello")]);
    expect(first).toEqual({ code: 0, stdout: "hello from wasm\n", stderr: "" });
    const lib = join(home, ".cache", "weft", "lib");
    const dirs = readdirSync(lib).sort();
    expect(dirs.length).toBe(2);
    for (const d of [join(home, ".cache", "weft"), lib, ...dirs.map((d) => join(lib, d))]) expect((statSync(d).mode & 0o777).toString(8)).toBe("700");
    const files = dirs.flatMap((d) => readdirSync(join(lib, d)).map((f) => join(lib, d, f)));
    expect(files.map((f) => f.split("/").pop()).sort()).toEqual(["libwasmtime.so", "libweft_native.so"]);
    for (const f of files) {
      expect((statSync(f).mode & 0o777).toString(8)).toBe("500");
      expect(new Bun.CryptoHasher("sha256").update(await Bun.file(f).bytes()).digest("hex")).toBe(f.split("/").at(-2)!);
    }
    // A second start reuses them (same inode) after checking their hash.
    const ino = files.map((f) => statSync(f).ino);
    expect(await weft(["exec", guestPath("hello")])).toEqual({ code: 0, stdout: "hello from wasm\n", stderr: "" });
    expect(files.map((f) => statSync(f).ino)).toEqual(ino);
  }, 30_000);

  test("a tampered extraction is noticed and replaced", async () => {
    const lib = join(home, ".cache", "weft", "lib");
    const dir = readdirSync(lib).find((d) => readdirSync(join(lib, d)).includes("libweft_native.so"))!;
    const f = join(lib, dir, "libweft_native.so");
    chmodSync(f, 0o600);
    const fd = openSync(f, "r+");
    writeSync(fd, new Uint8Array([0x42]), 0, 1, 100);
    closeSync(fd);
    const r = await weft(["exec", guestPath("hello")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hello from wasm\n");
    expect(r.stderr).toContain("does not match its recorded SHA-256");
    expect(new Bun.CryptoHasher("sha256").update(await Bun.file(f).bytes()).digest("hex")).toBe(dir);
  }, 30_000);

  test("a cache dir others can write to is refused", async () => {
    const cache = join(box, "shared-cache");
    mkdirSync(join(cache, "weft"), { recursive: true });
    chmodSync(join(cache, "weft"), 0o777);
    const r = await weft(["exec", guestPath("hello")], { XDG_CACHE_HOME: cache });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is writable by group or others");
    expect(readdirSync(join(cache, "weft"))).toEqual([]);
  }, 30_000);

  test("run --no-compositor: READY over sd_notify, the API answers (bundled app installed and launched), SIGTERM stops it cleanly", async () => {
    await using peer = await notifyPeer(join(box, "notify.sock"));
    const t0 = performance.now();
    const p = Bun.spawn(["./weft", "run", "--no-compositor", "--http-port", "0"], {
      cwd: box,
      env: scrubbed({ NOTIFY_SOCKET: peer.path, WEFT_LOG: "warn" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = new Response(p.stderr).text();
    try {
      await peer.until((d) => d.some((x) => x.msg.startsWith("READY=1")), "READY=1", 15_000);
      console.log(`  start-up to READY (cache warm, incl. SHA-256 of the extracted libraries): ${(performance.now() - t0).toFixed(0)} ms (upper bound)`);
      let socket = "";
      for await (const l of readLines(p.stdout)) if (l.startsWith("APPD_SOCKET=") && (socket = l.slice(12))) break;
      expect(socket).toBe(join(run, "weft", "appd.sock"));
      const c = await unixClient(socket);
      const installed = await c.request({ type: "QUERY_INSTALLED_APPS" });
      // The bundled apps land in the (empty) user store; the machine's system store (/usr/share/weft/apps) is read too,
      // and on a machine with weft installed (the OS image, where this suite also runs) it is not empty.
      const systemStore = "/usr/share/weft/apps";
      const systemApps = existsSync(systemStore) ? readdirSync(systemStore).filter((n) => existsSync(join(systemStore, n, "wapp.toml"))) : [];
      const expected = [...new Set(["org.weft.example.counter", "org.weft.example.fetcher", "org.weft.example.hello", "org.weft.example.notes", ...systemApps])].sort();
      expect(installed.type === "INSTALLED_APPS" && installed.apps.map((a) => a.app_id).sort()).toEqual(expected);
      expect(await c.request(["LAUNCH_APP", "org.weft.example.hello", 0])).toMatchObject({ type: "LAUNCH_ACK", session_id: 1 });
      await peer.until((d) => d.some((x) => x.msg.includes("STATUS=1 app running")), "STATUS with the running app");
      await c.close();
    } finally {
      p.kill("SIGTERM");
    }
    expect(await p.exited).toBe(0);
    await peer.until((d) => d.some((x) => x.msg.startsWith("STOPPING=1")), "STOPPING=1");
    expect(fields(peer.got.at(-1)!.msg)).toEqual([
      ["STOPPING", "1"],
      ["STATUS", "stopping (SIGTERM): saving 1 running app"],
    ]);
    expect(await stderr).not.toMatch(/error|failed|refus/i);
    // The installed copies of the bundled apps (and the UI, and their key) came from the extracted asset trees, one dir each.
    expect(readdirSync(join(home, ".cache", "weft", "assets")).length).toBe(ASSET_TREES.length);
  }, 30_000);
});
