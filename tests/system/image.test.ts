// The OS image. By default the light check: weft staged into an empty tree
// the way image/build.ts stages it into Debian — the unit enabled, the unit
// verifying against the tree, the default app in the system store. With
// WEFT_SLOW_TESTS=1: build the real image (debootstrap, minutes the first
// time) and boot it under qemu with the smoke test (docs/deploy.md).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stageWeft } from "../../image/stage.ts";
import { ROOT } from "../helpers.ts";
import { buildOnce } from "./helpers.ts";

const slow = process.env.WEFT_SLOW_TESTS === "1";
let tree = "";

beforeAll(async () => {
  const { path } = await buildOnce();
  tree = mkdtempSync(join(tmpdir(), "weft-stage-"));
  await stageWeft(tree, { weft: path });
}, 120_000);

afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe("weft staged into a root tree (light image check)", () => {
  test("the executable, the units, the system user and the default app are in place", async () => {
    const { path } = await buildOnce();
    const sha = async (p: string) => new Bun.CryptoHasher("sha256").update(await Bun.file(p).bytes()).digest("hex");
    expect(await sha(join(tree, "usr/bin/weft"))).toBe(await sha(path));
    expect((statSync(join(tree, "usr/bin/weft")).mode & 0o777).toString(8)).toBe("755");
    expect(readFileSync(join(tree, "usr/lib/systemd/system/weft.service"), "utf8")).toBe(readFileSync(join(ROOT, "systemd/weft.service"), "utf8"));
    expect(readFileSync(join(tree, "usr/lib/sysusers.d/weft.conf"), "utf8")).toContain("u weft ");
    expect(existsSync(join(tree, "usr/share/weft/apps/org.weft.example.hello/wapp.toml"))).toBe(true);
    expect(existsSync(join(tree, "usr/share/weft/apps/org.weft.example.hello/app.wasm"))).toBe(true);
    // The bundled apps are installed signed, and the image trusts their key.
    expect(existsSync(join(tree, "usr/share/weft/apps/org.weft.example.counter/signature.sig"))).toBe(true);
    expect(readFileSync(join(tree, "etc/weft/trusted-keys/weft-bundled.pub"), "utf8")).toBe(readFileSync(join(ROOT, "examples/keys/weft-examples.pub"), "utf8"));
    expect(existsSync(join(tree, "usr/local/sbin/weft-smoke"))).toBe(false); // only with { smoke: true }
  }, 30_000);

  test("the unit is enabled (systemctl --root) and wanted by multi-user.target", () => {
    const link = join(tree, "etc/systemd/system/multi-user.target.wants/weft.service");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("/usr/lib/systemd/system/weft.service");
    if (!Bun.which("systemctl")) return;
    const r = Bun.spawnSync(["systemctl", `--root=${tree}`, "is-enabled", "weft.service"], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString().trim()).toBe("enabled");
  });

  test.skipIf(!Bun.which("systemd-analyze") || !existsSync("/usr/lib/systemd/system/sysinit.target"))("systemd-analyze verify --root passes on the staged tree (stock units borrowed from this host)", () => {
    // cp -a, not fs.cpSync: Bun 1.4.5's cpSync into an existing tree with symlinks ran out of memory here.
    expect(Bun.spawnSync(["cp", "-an", "/usr/lib/systemd/system/.", join(tree, "usr/lib/systemd/system/")]).exitCode).toBe(0);
    const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", `--root=${tree}`, "weft.service"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, SYSTEMD_LOG_COLOR: "0" } });
    expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" });
  });
});

describe.skipIf(!slow)("the image booted under qemu (WEFT_SLOW_TESTS=1)", () => {
  test("build with --smoke --with-tests, boot: weft READY, API, STATUS, watchdog restart, clean stop, then bun test inside the VM", async () => {
    const { path } = await buildOnce();
    const build = Bun.spawn(["bun", join(ROOT, "image", "build.ts"), "--smoke", "--with-tests", "--weft", path], { stdout: "inherit", stderr: "inherit" });
    expect(await build.exited).toBe(0);
    const boot = Bun.spawn(["bun", join(ROOT, "image", "boot.ts"), "--smoke", "--quiet"], { stdout: "inherit", stderr: "inherit" });
    expect(await boot.exited).toBe(0);
  }, 60 * 60_000);
});
