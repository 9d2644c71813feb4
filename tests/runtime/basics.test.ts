// WASI Preview 1 basics through the in-process runtime: stdio, args, env,
// exit codes, stdin.
import { describe, expect, test } from "bun:test";
import { runGuest, tempDir } from "../helpers.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

describe("wasi basics", () => {
  test("hello prints and exits 0", async () => {
    const r = await runGuest("hello");
    expect(r.status.kind).toBe("exit");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout).toBe("hello from wasm\n");
  });

  test("argv reaches the guest unchanged", async () => {
    const r = await runGuest("args", { argv: ["args", "one", "two words", "ünïcode", ""] });
    expect(r.stdout).toBe("argv[0]=args\nargv[1]=one\nargv[2]=two words\nargv[3]=ünïcode\nargv[4]=\n");
  });

  test("env is exactly what was given, nothing from the host", async () => {
    const r = await runGuest("env", { env: [["B", "2"], ["A", "1=one"]] });
    expect(r.stdout).toBe("A=1=one\nB=2\n");
  });

  for (const code of [0, 1, 42]) {
    test(`exit code ${code}`, async () => {
      const r = await runGuest("exit", { argv: ["exit", String(code)] });
      expect(r.status).toMatchObject({ kind: "exit", code });
    });
  }

  test("stdin from a file", async () => {
    using dir = tempDir();
    const file = join(dir.path, "in.txt");
    writeFileSync(file, "line one\nline two\n");
    const r = await runGuest("stdin_echo", { stdin: { file } });
    expect(r.stdout).toBe("line one\nline two\n");
    expect(r.stderr).toBe("bytes=18\n");
  });

  test("clocks and randomness work", async () => {
    const r = await runGuest("clock");
    expect(r.status).toMatchObject({ kind: "exit", code: 0 });
    expect(r.stdout.length).toBeGreaterThan(0);
  });
});
