// The appd Unix socket transport: the shared API contract, plus what only a
// byte stream can get wrong (framing, size caps, peer uid, socket mode).
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { apiContract } from "./contract.ts";
import { testDaemon } from "./fixtures.ts";
import { unixClient } from "./unix-client.ts";

apiContract("unix socket", (d) => unixClient(d.unix.path));

describe("unix socket transport", () => {
  test("socket is 0600 in a 0700 runtime dir", async () => {
    await using d = await testDaemon();
    expect(statSync(d.unix.path).mode & 0o777).toBe(0o600);
    expect(statSync(process.env.XDG_RUNTIME_DIR + "/weft").mode & 0o777).toBe(0o700);
  });

  test("a live socket is never taken over (another weft serves it); a stale one from a crash is", async () => {
    await using d = await testDaemon();
    const { serveUnix } = await import("../../src/appd/unix-server.ts");
    const { closeFd, listenUnix } = await import("../../ffi/libc.ts");
    expect(() => serveUnix(d.unix.path, d.api)).toThrow(`${d.unix.path}: another weft is already serving this socket`);
    const c = await unixClient(d.unix.path); // the first server still answers
    expect((await c.request({ type: "QUERY_RUNNING" })).type).toBe("RUNNING_APPS");
    await c.close();
    // A crash leaves the socket file with nobody listening: connect is refused, so it is replaced.
    const stale = d.unix.path + ".stale";
    closeFd(listenUnix(stale));
    const s = serveUnix(stale, d.api);
    try {
      const c2 = await unixClient(stale);
      expect((await c2.request({ type: "QUERY_RUNNING" })).type).toBe("RUNNING_APPS");
      await c2.close();
    } finally {
      s.close();
    }
  });

  test("a peer of another uid is refused (SO_PEERCRED)", async () => {
    await using d = await testDaemon();
    // A second server on the same API that only admits uid 12345: we (another uid) are cut off.
    const { serveUnix } = await import("../../src/appd/unix-server.ts");
    const strict = serveUnix(d.unix.path + ".strict", d.api, { allowUid: 12345 });
    try {
      const c = await unixClient(strict.path);
      await c.closed; // closed by the server before any byte is read
      expect(strict.stats().refused).toBe(1);
    } finally {
      strict.close();
    }
  });

  test("another user cannot even connect (mode 0600)", async () => {
    await using d = await testDaemon();
    const probe = Bun.spawn(
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", `import socket\ntry:\n socket.socket(socket.AF_UNIX).connect(${JSON.stringify(d.unix.path)}); print("connected")\nexcept OSError as e: print(type(e).__name__)`],
      { stdout: "pipe", stderr: "pipe" },
    );
    const out = (await new Response(probe.stdout).text()).trim();
    await probe.exited;
    expect(out).toBe("PermissionError");
  });

  test("an oversize frame gets an ERROR and a clean close; the server keeps serving", async () => {
    await using d = await testDaemon();
    const c = await unixClient(d.unix.path);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 64 << 20, true); // claims 64 MiB
    expect(await c.raw(header)).toMatchObject({ type: "ERROR", code: 4 });
    await c.closed;
    const c2 = await unixClient(d.unix.path);
    expect((await c2.request(["QUERY_RUNNING"])).type).toBe("RUNNING_APPS");
    await c2.close();
  });

  test("malformed MessagePack gets an ERROR and the connection stays usable", async () => {
    await using d = await testDaemon();
    const c = await unixClient(d.unix.path);
    const junk = new Uint8Array([3, 0, 0, 0, 0xc1, 0xc1, 0xc1]); // 0xc1 is never valid
    expect(await c.raw(junk)).toMatchObject({ type: "ERROR", code: 1 });
    expect((await c.request({ type: "QUERY_RUNNING" })).type).toBe("RUNNING_APPS");
    await c.close();
  });

  test("requests split across writes and several per write are answered in order", async () => {
    await using d = await testDaemon();
    const c = await unixClient(d.unix.path);
    const { encodeFrame } = await import("../../src/ipc/framing.ts");
    const a = encodeFrame(["QUERY_APP_STATE", 7]);
    const b = encodeFrame(["QUERY_APP_STATE", 8]);
    const both = new Uint8Array([...a, ...b]);
    const p1 = c.raw(both.subarray(0, 3));
    const p2 = c.raw(both.subarray(3));
    expect([await p1, await p2]).toEqual([
      { type: "APP_STATE", session_id: 7, state: "not_found" },
      { type: "APP_STATE", session_id: 8, state: "not_found" },
    ]);
    await c.close();
  });
});
