// Every wapp.toml rule of spec §2 (and weft's optional [runtime] keys), each
// with a failing case and the exact message a packager sees.
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkPackage, loadManifest, PackageError, parseManifest, RUNTIME_DEFAULTS } from "../../src/appd/manifest.ts";
import { copyFixture, makePackage, MANIFEST, mkfifo, ROOT, tempDir, WASM } from "./helpers.ts";

const ID_RULE = "^[a-z][a-z0-9]*(\\.[a-z][a-z0-9]*){2,}$";
const problemsOf = (toml: string) => parseManifest(toml).problems;

describe("parseManifest", () => {
  test("a minimal manifest gets the defaults", () => {
    expect(parseManifest(MANIFEST())).toEqual({
      manifest: {
        id: "org.example.hello",
        name: "Hello",
        version: "1.0.0",
        capabilities: [],
        caps: [],
        runtime: { module: "app.wasm", ...RUNTIME_DEFAULTS },
        ui: { entry: "ui/index.html" },
      },
      problems: [],
      warnings: [],
    });
  });

  test("the id rule", () => {
    for (const good of ["org.example.hello", "a.b.c", "io.github.user2.app", "org.weft.demo.counter"])
      expect(problemsOf(MANIFEST(good))).toEqual([]);
    for (const bad of ["Org.X.y", "org.example", "org..example.x", "org.example.x-y", "1org.example.x", "org.example.x.", "../../etc", "org/example/x", ""])
      expect(problemsOf(MANIFEST(bad))).toEqual([`wapp.toml: [package].id ${JSON.stringify(bad)} must match ${ID_RULE}`]);
  });

  test("required fields, each named", () => {
    expect(problemsOf("[package]\n[runtime]\n[ui]\n")).toEqual([
      "wapp.toml: [package].id is required",
      "wapp.toml: [package].name is required",
      "wapp.toml: [package].version is required",
      "wapp.toml: [runtime].module is required",
      "wapp.toml: [ui].entry is required",
    ]);
    expect(problemsOf('[package]\nid = "a.b.c"\nname = "x"\nversion = "1"\n')).toEqual([
      "wapp.toml: missing the [runtime] table",
      "wapp.toml: missing the [ui] table",
      "wapp.toml: [runtime].module is required",
      "wapp.toml: [ui].entry is required",
    ]);
    expect(problemsOf('package = 1\nruntime = "x"\n[ui]\nentry = "i.html"')).toContain("wapp.toml: package must be a table ([package]), got a number");
  });

  test("name is 1–64 characters, description at most 256, types are checked", () => {
    const m = (pkg: string) => problemsOf(MANIFEST("a.b.c").replace('name = "Hello"\n', pkg));
    expect(m('name = ""\n')).toEqual(["wapp.toml: [package].name must be 1–64 characters, got 0"]);
    expect(m(`name = "${"x".repeat(65)}"\n`)).toEqual(["wapp.toml: [package].name must be 1–64 characters, got 65"]);
    expect(m(`name = "${"é".repeat(64)}"\n`)).toEqual([]); // characters, not bytes
    expect(m('name = "a\\u0007b"\n')).toEqual(["wapp.toml: [package].name must not contain control characters"]);
    expect(m("name = 5\n")).toEqual(["wapp.toml: [package].name must be a string, got a number 5"]);
    expect(m(`name = "x"\ndescription = "${"d".repeat(257)}"\n`)).toEqual(["wapp.toml: [package].description must be at most 256 characters, got 257"]);
    expect(m(`name = "x"\ndescription = "${"d".repeat(256)}"\n`)).toEqual([]);
    expect(m('name = "x"\nauthor = ["a"]\n')).toEqual(['wapp.toml: [package].author must be a string, got an array ["a"]']);
    expect(problemsOf(MANIFEST().replace('version = "1.0.0"', "version = 1"))).toEqual(["wapp.toml: [package].version must be a string, got a number 1"]);
    expect(problemsOf(MANIFEST().replace('version = "1.0.0"', 'version = ""'))).toEqual(["wapp.toml: [package].version must not be empty"]);
  });

  test("capabilities: the exact list; unknown strings are errors", () => {
    const caps = (list: string) => parseManifest(MANIFEST("a.b.c", `capabilities = ${list}`));
    const all = [
      "fs:rw:app-data",
      "fs:read:app-data",
      "fs:rw:xdg-documents",
      "fs:read:xdg-documents",
      "net:fetch:*",
      "net:fetch:api.example.com",
      "sys:notifications",
      "sys:clipboard:read",
      "sys:clipboard:write",
      "hw:gpu:compute",
      "hw:gpu:render",
    ];
    const ok = caps(JSON.stringify(all));
    expect(ok.problems).toEqual([]);
    expect(ok.manifest?.capabilities).toEqual(all);
    expect(ok.manifest?.caps[5]).toEqual({ kind: "net:fetch", domain: "api.example.com" });
    expect(caps('["fs:write:app-data", "net:fetch:https://x.com/", 3, "net:fetch:a..b", "FS:RW:APP-DATA"]').problems).toEqual([
      'wapp.toml: [package].capabilities[0] "fs:write:app-data" is not a known capability (known: fs:rw:app-data, fs:read:app-data, fs:rw:xdg-documents, fs:read:xdg-documents, net:fetch:*, sys:notifications, sys:clipboard:read, sys:clipboard:write, hw:gpu:compute, hw:gpu:render, net:fetch:<domain>)',
      'wapp.toml: [package].capabilities[1] "net:fetch:https://x.com/": the domain must be a host name like example.com (no scheme, port, path or wildcard label)',
      "wapp.toml: [package].capabilities[2] must be a string, got a number 3",
      'wapp.toml: [package].capabilities[3] "net:fetch:a..b": the domain must be a host name like example.com (no scheme, port, path or wildcard label)',
      'wapp.toml: [package].capabilities[4] "FS:RW:APP-DATA" is not a known capability (known: fs:rw:app-data, fs:read:app-data, fs:rw:xdg-documents, fs:read:xdg-documents, net:fetch:*, sys:notifications, sys:clipboard:read, sys:clipboard:write, hw:gpu:compute, hw:gpu:render, net:fetch:<domain>)',
    ]);
    expect(caps('"fs:rw:app-data"').problems).toEqual(['wapp.toml: [package].capabilities must be an array of strings, got a string "fs:rw:app-data"']);
    const dup = caps('["sys:notifications", "sys:notifications", "net:fetch:Example.COM"]');
    expect(dup.problems).toEqual([]);
    expect(dup.warnings).toEqual(['wapp.toml: [package].capabilities lists "sys:notifications" twice']);
    expect(dup.manifest?.capabilities).toEqual(["sys:notifications", "net:fetch:example.com"]);
  });

  test("module and ui.entry may not leave the package", () => {
    const paths = (module: string, entry: string) =>
      problemsOf(MANIFEST("a.b.c").replace('module = "app.wasm"', `module = ${JSON.stringify(module)}`).replace('entry = "ui/index.html"', `entry = ${JSON.stringify(entry)}`));
    expect(paths("../app.wasm", "/etc/passwd")).toEqual([
      'wapp.toml: [runtime].module "../app.wasm" must stay inside the package (no ..)',
      'wapp.toml: [ui].entry "/etc/passwd" must be relative to the package, not absolute',
    ]);
    expect(paths("bin\\app.wasm", "ui/../../x.html")).toEqual([
      'wapp.toml: [runtime].module "bin\\\\app.wasm" must use / as the separator, not \\',
      'wapp.toml: [ui].entry "ui/../../x.html" must stay inside the package (no ..)',
    ]);
    expect(paths("./", "ui/a\0b")).toEqual(['wapp.toml: [runtime].module "./" is empty', 'wapp.toml: [ui].entry "ui/a\\u0000b" contains a NUL byte']);
    expect(parseManifest(MANIFEST("a.b.c").replace('module = "app.wasm"', 'module = "./bin//app.wasm"')).manifest?.runtime.module).toBe("bin/app.wasm");
  });

  test("optional [runtime] keys are typed and ranged", () => {
    const rt = (lines: string) => parseManifest(MANIFEST("a.b.c").replace('module = "app.wasm"', `module = "app.wasm"\n${lines}`));
    expect(rt('restart = "on-failure"\nmax_restarts = 3\nrestart_window_s = 30.5\nmemory_mib = 64\ncpu_percent = 50\nready_timeout_s = 5\npersist_state = true').manifest?.runtime).toEqual({
      module: "app.wasm",
      restart: "on-failure",
      maxRestarts: 3,
      restartWindowS: 30.5,
      memoryMib: 64,
      cpuPercent: 50,
      readyTimeoutS: 5,
      persistState: true,
    });
    expect(rt('restart = "sometimes"\nmax_restarts = -1\nrestart_window_s = 0\nmemory_mib = 1.5\ncpu_percent = "50"\nready_timeout_s = 601\npersist_state = "yes"').problems).toEqual([
      'wapp.toml: [runtime].restart must be "no", "on-failure" or "always", got "sometimes"',
      "wapp.toml: [runtime].max_restarts must be a whole number from 0 to 1000, got -1",
      "wapp.toml: [runtime].restart_window_s must be a number from 1 to 86400, got 0",
      "wapp.toml: [runtime].memory_mib must be a whole number from 1 to 4096, got 1.5",
      'wapp.toml: [runtime].cpu_percent must be a whole number from 1 to 1000, got "50"',
      "wapp.toml: [runtime].ready_timeout_s must be a number from 1 to 600, got 601",
      'wapp.toml: [runtime].persist_state must be true or false, got "yes"',
    ]);
    expect(rt("memory_mib = 8192").problems).toEqual(["wapp.toml: [runtime].memory_mib must be a whole number from 1 to 4096, got 8192"]);
  });

  test("unknown keys are warnings, not errors; bad TOML is one problem", () => {
    const r = parseManifest(`${MANIFEST("a.b.c")}\n[extra]\nx = 1\n`.replace('version = "1.0.0"', 'version = "1.0.0"\nhomepage = "x"'));
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual(['wapp.toml: unknown top-level key "extra" (ignored)', "wapp.toml: unknown key [package].homepage (ignored)"]);
    const bad = problemsOf('[package]\nid = "a');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toStartWith("wapp.toml: not valid TOML: Unterminated string");
  });
});

describe("checkPackage", () => {
  test("a WEFT OS package as the spec shows it passes unmodified", async () => {
    using tmp = tempDir();
    const dir = copyFixture("weft-counter", tmp.path);
    const r = await checkPackage(dir);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.manifest).toMatchObject({ id: "org.weft.demo.counter", name: "Counter", capabilities: ["fs:rw:app-data", "sys:notifications"] });
    expect((await loadManifest(dir)).id).toBe("org.weft.demo.counter");
  });

  test("files named by the manifest must exist, be regular, and the module must be wasm", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path, { files: { "app.wasm": "not wasm at all" } });
    expect((await checkPackage(dir)).problems).toEqual(["app.wasm: not a WebAssembly file (does not start with the magic bytes 00 61 73 6d)"]);
    writeFileSync(join(dir, "app.wasm"), WASM.slice(0, 3));
    expect((await checkPackage(dir)).problems).toEqual(["app.wasm: not a WebAssembly file (does not start with the magic bytes 00 61 73 6d)"]);
    writeFileSync(join(dir, "wapp.toml"), MANIFEST().replace("app.wasm", "missing.wasm").replace("ui/index.html", "ui"));
    expect((await checkPackage(dir)).problems).toEqual([
      'wapp.toml: [runtime].module "missing.wasm": no such file in the package',
      'wapp.toml: [ui].entry "ui": is not a regular file',
    ]);
  });

  test("all problems at once: manifest, files, symlinks, special files, reserved names", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path, { manifest: MANIFEST("Bad.Id").replace('name = "Hello"', 'name = ""'), files: { "data/x": "mine" } });
    symlinkSync("/etc/passwd", join(dir, "ui", "passwd"));
    mkfifo(join(dir, "fifo"));
    const r = await checkPackage(dir);
    expect(r.manifest).toBeNull();
    expect(r.problems).toEqual([
      `wapp.toml: [package].id "Bad.Id" must match ${ID_RULE}`,
      "wapp.toml: [package].name must be 1–64 characters, got 0",
      "fifo: is a special file (device, FIFO or socket); packages hold only regular files and directories",
      "ui/passwd: is a symlink (packages may not contain symlinks; one could point outside the package)",
      "data: reserved for the app's own data (spec §1); a package may not ship it",
    ]);
    const err = await loadManifest(dir).catch((e) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect(err.problems).toEqual(r.problems);
  });

  test("a symlinked module is refused even when it points inside", async () => {
    using tmp = tempDir();
    const dir = makePackage(tmp.path, { manifest: MANIFEST().replace('module = "app.wasm"', 'module = "link.wasm"') });
    symlinkSync("app.wasm", join(dir, "link.wasm"));
    expect((await checkPackage(dir)).problems).toEqual([
      "link.wasm: is a symlink (packages may not contain symlinks; one could point outside the package)",
      'wapp.toml: [runtime].module "link.wasm": is a symlink (packages may not contain symlinks)',
    ]);
  });

  test("missing wapp.toml or directory", async () => {
    using tmp = tempDir();
    mkdirSync(join(tmp.path, "empty"));
    expect((await checkPackage(join(tmp.path, "empty"))).problems).toEqual(["wapp.toml: missing (every package needs one)"]);
    expect((await checkPackage(join(tmp.path, "nope"))).problems).toEqual([`${join(tmp.path, "nope")}: not a directory`]);
  });

  test("every example package in examples/apps passes once its module is built", async () => {
    using tmp = tempDir();
    const examples = join(ROOT, "examples", "apps");
    const apps = readdirSync(examples, { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps) {
      const dir = join(tmp.path, app.name);
      cpSync(join(examples, app.name), dir, { recursive: true });
      const { manifest } = parseManifest(await Bun.file(join(dir, "wapp.toml")).text());
      writeFileSync(join(dir, manifest!.runtime.module), WASM); // stands in for the built module
      expect(await checkPackage(dir)).toMatchObject({ problems: [], warnings: [] });
    }
  });
});
