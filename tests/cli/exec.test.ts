// `weft exec` as a user runs it: a separate process, real stdio, exit codes.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { guestPath, tempDir, weft } from "../helpers.ts";

describe("weft exec", () => {
  test("stdio passes through and the guest's exit code is weft's", async () => {
    expect(await weft(["exec", guestPath("hello")])).toEqual({ code: 0, stdout: "hello from wasm\n", stderr: "" });
    expect((await weft(["exec", guestPath("exit"), "42"])).code).toBe(42);
    expect((await weft(["exec", guestPath("exit"), "1"])).code).toBe(1);
    const echo = await weft(["exec", guestPath("stdin_echo")], { stdin: "piped in\n" });
    expect(echo).toEqual({ code: 0, stdout: "piped in\n", stderr: "bytes=9\n" });
    // poll() on stdin goes through the shadowed poll_oneoff to Wasmtime's own (it failed with
    // "missing required memory export" before the WASI trampolines).
    expect(await weft(["exec", guestPath("poll_stdin")], { stdin: "ready" })).toEqual({ code: 0, stdout: "poll 1 readable 1 read 5\n", stderr: "" });
  });

  test("args and --env", async () => {
    expect((await weft(["exec", guestPath("args"), "a", "--not-a-weft-flag"])).stdout).toBe(`argv[0]=${guestPath("args")}\nargv[1]=a\nargv[2]=--not-a-weft-flag\n`);
    expect((await weft(["exec", "--env", "X=1", "--env=Y=two", guestPath("env")])).stdout).toBe("X=1\nY=two\n");
  });

  test("--dir HOST::GUEST and :ro", async () => {
    using dir = tempDir();
    const data = join(dir.path, "data");
    mkdirSync(data);
    writeFileSync(join(data, "in.txt"), "hi");
    const read = await weft(["exec", "--dir", `${data}::/data:ro`, guestPath("readfile"), "/data/in.txt"]);
    expect(read).toEqual({ code: 0, stdout: "hi", stderr: "" });
    const denied = await weft(["exec", "--dir", `${data}::/data:ro`, guestPath("writefile"), "/data/out.txt", "x"]);
    expect(denied.code).toBe(2);
    expect(existsSync(join(data, "out.txt"))).toBe(false);
    const allowed = await weft(["exec", "--dir", `${data}::/data`, guestPath("writefile"), "/data/out.txt", "x"]);
    expect(allowed.code).toBe(0);
    expect(readFileSync(join(data, "out.txt"), "utf8")).toBe("x");
  });

  test("a trap prints one clear line and exits 134", async () => {
    const r = await weft(["exec", guestPath("trap_divzero")]);
    expect(r.code).toBe(134);
    expect(r.stderr).toMatch(/^weft: \S+trap_divzero\.wasm: trap: integer divide by zero in \S+ at offset 0x[0-9a-f]+\n$/);
  });

  test("--timeout ends an infinite loop with 124; --mem reports out of memory with 137", async () => {
    const t = await weft(["exec", "--timeout", "0.2", guestPath("spin")]);
    expect(t.code).toBe(124);
    expect(t.stderr).toContain("timeout");
    const m = await weft(["exec", "--mem", "8", guestPath("oom")]);
    expect(m.code).toBe(137);
    expect(m.stderr).toContain("out of memory");
  });

  test("--fuel: out of fuel exits 153", async () => {
    const r = await weft(["exec", "--fuel", "1000", guestPath("fuel_count"), "100000000"]);
    expect(r.code).toBe(153);
    expect(r.stderr).toContain("out of fuel");
  });

  test("bad input gets one clear line, never a stack trace", async () => {
    using dir = tempDir();
    const text = join(dir.path, "text.wasm");
    writeFileSync(text, "this is not wasm");
    const cases: [string[], number, RegExp][] = [
      [["exec", join(dir.path, "missing.wasm")], 127, /no such file/],
      [["exec", text], 126, /not a WebAssembly module/],
      [["exec", guestPath("malformed/truncated")], 126, /invalid module/],
      [["exec", "--bogus", guestPath("hello")], 2, /unknown option '--bogus'/],
      [["exec"], 2, /missing MODULE\.wasm/],
      [["exec", "--mem", "lots", guestPath("hello")], 2, /--mem must be a positive number/],
      [["exec", "--dir", join(dir.path, "nope"), guestPath("hello")], 2, /is not a directory/],
      [["exec", "--env", "NOEQUALS", guestPath("hello")], 2, /--env needs K=V/],
      [["nosuchcommand"], 2, /unknown command/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await weft(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
  });

  test("--help for weft and for exec", async () => {
    const top = await weft(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("exec");
    const ex = await weft(["exec", "--help"]);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toContain("--dir HOST[::GUEST][:ro]");
    const v = await weft(["--version"]);
    expect(v.stdout).toMatch(/^weft \S+ \(bun \S+, wasmtime 49\.0\.0\)\n$/);
  });
});
