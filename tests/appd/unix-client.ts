// A minimal client of the appd Unix socket, as WEFT's Rust clients speak it.
import { decode } from "@msgpack/msgpack";
import type { Response } from "../../src/ipc/messages.ts";
import { encodeFrame, FrameReader } from "../../src/ipc/framing.ts";
import { SocketWriter } from "../../src/ipc/socket-writer.ts";

export async function unixClient(path: string) {
  const reader = new FrameReader();
  const waiting: ((r: Response) => void)[] = [];
  let closed: () => void;
  const closedP = new Promise<void>((r) => (closed = r));
  let writer: SocketWriter | null = null;
  const socket = await Bun.connect({
    unix: path,
    socket: {
      drain() {
        writer?.drain();
      },
      data(_s, chunk) {
        for (const body of reader.push(chunk)) waiting.shift()?.(decode(body) as Response);
      },
      close() {
        closed();
      },
    },
  });
  writer = new SocketWriter(socket as never);
  const w = writer;
  return {
    request(msg: unknown): Promise<Response> {
      return new Promise((resolve) => {
        waiting.push(resolve);
        w.write(encodeFrame(msg));
      });
    },
    /** Sends raw bytes (for malformed-frame tests). */
    raw(bytes: Uint8Array): Promise<Response> {
      return new Promise((resolve) => {
        waiting.push(resolve);
        w.write(bytes);
      });
    },
    closed: closedP,
    async close() {
      socket.end();
      await closedP;
    },
  };
}
