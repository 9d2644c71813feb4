// A minimal client of the appd Unix socket, as WEFT's Rust clients speak it.
import { decode } from "@msgpack/msgpack";
import type { Response } from "../../src/ipc/messages.ts";
import { encodeFrame, FrameReader } from "../../src/ipc/framing.ts";

export async function unixClient(path: string) {
  const reader = new FrameReader();
  const waiting: ((r: Response) => void)[] = [];
  let closed: () => void;
  const closedP = new Promise<void>((r) => (closed = r));
  const socket = await Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        for (const body of reader.push(chunk)) waiting.shift()?.(decode(body) as Response);
      },
      close() {
        closed();
      },
    },
  });
  return {
    request(msg: unknown): Promise<Response> {
      return new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(encodeFrame(msg));
      });
    },
    /** Sends raw bytes (for malformed-frame tests). */
    raw(bytes: Uint8Array): Promise<Response> {
      return new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(bytes);
      });
    },
    closed: closedP,
    async close() {
      socket.end();
      await closedP;
    },
  };
}
