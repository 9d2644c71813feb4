// A temp app store with real packages built from the repo's C guests, and a
// daemon serving it — what the API tests run against.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon, type Daemon, type DaemonOptions } from "../../src/appd/daemon.ts";
import { installPackage } from "../../src/appd/package-store.ts";
import { guestPath, ROOT, tempDir } from "../helpers.ts";

export interface TestApp {
  id: string;
  guest: string;
  runtime?: string;
  capabilities?: string[];
}

/** The apps every API test store holds. */
export const TEST_APPS: TestApp[] = [
  // prints READY then idles in a 10 ms sleep loop (the WEFT app shape)
  { id: "org.weft.test.ready", guest: "ready" },
  // never says READY
  { id: "org.weft.test.silent", guest: "spin", runtime: 'ready_timeout_s = 1' },
  // traps at once; restarts on failure until it is marked failed
  { id: "org.weft.test.crashy", guest: "trap_divzero", runtime: 'restart = "on-failure"\nmax_restarts = 3\nrestart_window_s = 60' },
  // traps at once
  { id: "org.weft.test.trap", guest: "trap_unreachable" },
  // report what they can reach, by capability
  { id: "org.weft.test.capsrw", guest: "caps", capabilities: ["fs:rw:app-data", "fs:rw:xdg-documents"] },
  { id: "org.weft.test.capsro", guest: "caps", capabilities: ["fs:read:app-data", "fs:read:xdg-documents"] },
  { id: "org.weft.test.capsnone", guest: "caps" },
  // counts its starts in /state (persist_state): restored sessions see their count go on
  { id: "org.weft.test.state", guest: "state", runtime: "persist_state = true" },
];

export function writePackage(dir: string, app: TestApp): void {
  mkdirSync(join(dir, "ui"), { recursive: true });
  cpSync(guestPath(app.guest), join(dir, "app.wasm"));
  writeFileSync(join(dir, "ui", "index.html"), `<!doctype html><title>${app.id}</title>`);
  writeFileSync(
    join(dir, "wapp.toml"),
    `[package]
id = "${app.id}"
name = "Test ${app.guest}"
version = "1.0.0"
capabilities = ${JSON.stringify(app.capabilities ?? [])}

[runtime]
module = "app.wasm"
${app.runtime ?? ""}

[ui]
entry = "ui/index.html"
`,
  );
}

export interface TestDaemon extends Daemon {
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A daemon on a temp store (WEFT_APP_STORE) with TEST_APPS and the bundled
 * hello example installed unsigned, its socket in a temp runtime dir.
 */
let template: Promise<string> | null = null;

/**
 * The test store, installed once per process and copied for each daemon: an
 * install fsyncs every file, which on a busy disk made daemon set-up take
 * seconds (install itself is tested in package-store.test.ts).
 */
function templateStore(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-store-template-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const store = join(dir, "store");
    for (const app of TEST_APPS) {
      const src = join(dir, "src", app.id);
      writePackage(src, app);
      await installPackage(src, { root: store, allowUnsigned: true });
    }
    // The example is signed with the checkout's examples key (scripts/build-examples.sh); these tests trust no keys, so install it as unsigned.
    const hello = join(dir, "src", "hello");
    cpSync(join(ROOT, "examples", "apps", "hello"), hello, { recursive: true, filter: (p) => !p.endsWith("/signature.sig") });
    await installPackage(hello, { root: store, allowUnsigned: true });
    return store;
  })();
  return template;
}

/** The environment variables testDaemon points at its temp dirs; restored on dispose. */
const ENV_KEYS = ["WEFT_APP_STORE", "XDG_RUNTIME_DIR", "XDG_STATE_HOME", "WEFT_TRUSTED_KEYS", "HOME"] as const;

export async function testDaemon(opts: DaemonOptions = {}): Promise<TestDaemon> {
  // bun test runs every file in one process: leave the environment as found.
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const restoreEnv = () => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
  const tmp = tempDir("weft-appd-");
  const store = join(tmp.path, "store");
  const runtime = join(tmp.path, "run");
  mkdirSync(runtime, { mode: 0o700 });
  process.env.WEFT_APP_STORE = store;
  process.env.XDG_RUNTIME_DIR = runtime;
  process.env.WEFT_TRUSTED_KEYS = join(tmp.path, "no-keys");
  process.env.HOME = join(tmp.path, "home");
  process.env.XDG_STATE_HOME = join(tmp.path, "state");
  mkdirSync(join(tmp.path, "home", "Documents"), { recursive: true });
  cpSync(await templateStore(), store, { recursive: true });
  let d: Daemon;
  try {
    d = await startDaemon({ socketPath: join(runtime, "appd.sock"), backoffMs: () => 10, httpPort: false, ...opts });
  } catch (e) {
    restoreEnv();
    tmp[Symbol.dispose]();
    throw e;
  }
  return {
    ...d,
    dir: tmp.path,
    async [Symbol.asyncDispose]() {
      await d.close();
      tmp[Symbol.dispose]();
      restoreEnv();
    },
  };
}
