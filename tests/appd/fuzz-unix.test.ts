// 10,000 random and mutated frames at the appd Unix socket: each is answered
// or the connection closed cleanly, the server keeps serving, memory stays flat.
import { expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { encodeFrame, MAX_FRAME } from "../../src/ipc/framing.ts";
import { testDaemon } from "./fixtures.ts";
import { unixClient } from "./unix-client.ts";

/** A small deterministic PRNG so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
}

const VALID: unknown[] = [
  ["LAUNCH_APP", "org.weft.test.ready", 0],
  { type: "QUERY_RUNNING" },
  ["QUERY_APP_STATE", 1],
  { type: "TERMINATE_APP", session_id: 3 },
  ["PANEL_GESTURE", 0, 3, 100, 0],
  { type: "IPC_FORWARD", session_id: 1, payload: "x" },
];

function mutate(r: () => number): Uint8Array {
  const pick = r();
  if (pick < 0.25) {
    // random body bytes, honest length
    const body = new Uint8Array(Math.floor(r() * 64));
    for (let i = 0; i < body.length; i++) body[i] = Math.floor(r() * 256);
    return frame(body);
  }
  if (pick < 0.6) {
    // a valid request with bytes flipped
    const body = encode(VALID[Math.floor(r() * VALID.length)]);
    for (let k = 0; k < 1 + r() * 3; k++) body[Math.floor(r() * body.length)] ^= 1 << Math.floor(r() * 8);
    return frame(body);
  }
  if (pick < 0.8) {
    // wrong types and shapes
    const shapes = [null, 42, "LAUNCH_APP", [], [1, 2, 3], { type: 7 }, { type: "LAUNCH_APP" }, ["QUERY_APP_STATE", "one"], { type: "QUERY_APP_STATE", session_id: 2 ** 40 }, new Uint8Array(5), [[["deep"]]]];
    return frame(encode(shapes[Math.floor(r() * shapes.length)]));
  }
  // truncated MessagePack: claims a long string / map that never comes
  return frame(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0x7f]));
}

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

test("10,000 random and mutated frames: every one answered, the server keeps serving in flat memory", async () => {
  await using d = await testDaemon();
  const r = rng(0x5eed);
  const c = await unixClient(d.unix.path);
  Bun.gc(true);
  const rss0 = process.memoryUsage.rss();
  const kinds = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    const reply = await c.raw(mutate(r));
    kinds.set(reply.type, (kinds.get(reply.type) ?? 0) + 1);
  }
  Bun.gc(true);
  const grown = process.memoryUsage.rss() - rss0;
  expect([...kinds.keys()].every((k) => typeof k === "string")).toBe(true);
  expect(kinds.get("ERROR")!).toBeGreaterThan(5000);
  // Still serving, on the same connection and a new one.
  expect((await c.request({ type: "QUERY_INSTALLED_APPS" })).type).toBe("INSTALLED_APPS");
  await c.close();
  const c2 = await unixClient(d.unix.path);
  expect((await c2.request(["QUERY_RUNNING"])).type).toBe("RUNNING_APPS");
  await c2.close();
  expect(grown).toBeLessThan(64 * 1024 * 1024);
  // Whatever the fuzz launched is torn down by the daemon's close.
}, 120_000);

test("a frame just over the cap is refused; one just under is read", async () => {
  await using d = await testDaemon();
  const c = await unixClient(d.unix.path);
  const big = encodeFrame({ type: "QUERY_RUNNING", pad: "x".repeat(MAX_FRAME - 64) });
  expect(big.length - 4).toBeLessThanOrEqual(MAX_FRAME);
  expect((await c.raw(big)).type).toBe("RUNNING_APPS");
  const over = new Uint8Array(4);
  new DataView(over.buffer).setUint32(0, MAX_FRAME + 1, true);
  expect(await c.raw(over)).toMatchObject({ type: "ERROR", code: 4 });
  await c.closed;
});

test("a 100,000-deep nested frame is refused at once, without stalling the loop", async () => {
  await using d = await testDaemon();
  const c = await unixClient(d.unix.path);
  const body = new Uint8Array(100_001).fill(0x91); // fixarray(1) × 100,000 …
  body[100_000] = 0xc0; // … around a nil
  const t0 = performance.now();
  expect(await c.raw(frame(body))).toMatchObject({ type: "ERROR", code: 1 });
  expect(performance.now() - t0).toBeLessThan(200);
  expect((await c.request(["QUERY_RUNNING"])).type).toBe("RUNNING_APPS");
  await c.close();
});
