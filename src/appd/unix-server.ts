// The appd Unix socket (spec §1, §3): mode 0600 in a 0700 dir, peers of
// another uid refused (SO_PEERCRED), 4-byte LE length + MessagePack frames,
// one request one response, in order. We accept connections ourselves (libc
// through FFI, woken by the loop's fd watcher) because Bun does not expose an
// accepted socket's fd, and hand each allowed fd to Bun.
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { acceptOne, closeFd, getuid, listenUnix, peerCred, unixSocketLive } from "../../ffi/libc.ts";
import { ErrorCode, type Response } from "../ipc/messages.ts";
import { decodeBody, encodeFrame, FrameReader, FrameTooLarge } from "../ipc/framing.ts";
import { SocketWriter } from "../ipc/socket-writer.ts";
import { watchFd } from "../loop/fd.ts";
import { log } from "../system/log.ts";
import type { Api } from "./api.ts";

/** Requests one connection may have waiting for an answer. */
const MAX_QUEUED = 256;

export interface UnixServer {
  path: string;
  close(): void;
  stats(): { connections: number; refused: number };
}

interface Conn {
  reader: FrameReader;
  writer: SocketWriter;
  /** Requests are answered strictly in order, one at a time. */
  chain: Promise<void>;
  queued: number;
  closed: boolean;
  /** An unframeable stream: earlier requests are still answered, nothing after. */
  refused?: boolean;
  endAfterDrain?: boolean;
}

export function serveUnix(path: string, api: Api, opts: { allowUid?: number } = {}): UnixServer {
  // A stale socket from a crash would make bind fail; anything else at the path is not ours to remove,
  // and neither is a live one (another weft, or a `weft cell run`, serves it).
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    if (unixSocketLive(path)) throw new Error(`${path}: another weft is already serving this socket; stop it first, or set WEFT_APPD_SOCKET to another path`);
    unlinkSync(path);
  }
  const fd = listenUnix(path);
  chmodSync(path, 0o600);
  const uid = opts.allowUid ?? getuid();
  let connections = 0;
  let refused = 0;

  /** Answers `last` after the replies already queued (so they arrive in order), then closes. */
  const refuse = (socket: import("bun").Socket<Conn>, last: Response) => {
    const c = socket.data;
    c.refused = true;
    c.chain = c.chain.then(() => {
      c.writer.write(encodeFrame(last));
      if (c.writer.pending === 0) socket.end();
      else c.endAfterDrain = true;
    });
  };

  const handlers = {
    open(socket: import("bun").Socket<Conn>) {
      socket.data = { reader: new FrameReader(), writer: new SocketWriter(socket as never), chain: Promise.resolve(), queued: 0, closed: false };
      connections++;
    },
    data(socket: import("bun").Socket<Conn>, chunk: Uint8Array) {
      const c = socket.data;
      if (c.refused) return; // the stream lost its framing; we are closing it
      let bodies: Uint8Array[];
      try {
        bodies = c.reader.push(chunk);
      } catch (e) {
        // An oversize length: answer once, then close — the rest of the stream cannot be framed.
        return refuse(socket, { type: "ERROR", code: ErrorCode.frameTooLarge, message: e instanceof FrameTooLarge ? e.message : "unreadable frame" });
      }
      // A client that pipelines without reading must not queue unbounded work.
      if (c.queued + bodies.length > MAX_QUEUED)
        return refuse(socket, { type: "ERROR", code: ErrorCode.badRequest, message: `more than ${MAX_QUEUED} requests waiting; read the answers` });
      c.queued += bodies.length;
      for (const body of bodies) {
        c.chain = c.chain.then(async () => {
          c.queued--;
          if (c.closed) return;
          let reply: Response;
          try {
            reply = await api.handle(decodeBody(body));
          } catch (e) {
            reply = { type: "ERROR", code: ErrorCode.badRequest, message: `malformed MessagePack body: ${(e as Error).message}` };
          }
          if (!c.closed) c.writer.write(encodeFrame(reply));
        });
      }
    },
    drain(socket: import("bun").Socket<Conn>) {
      const c = socket.data;
      c.writer.drain();
      if (c.endAfterDrain && c.writer.pending === 0) socket.end();
    },
    close(socket: import("bun").Socket<Conn>) {
      if (socket.data) socket.data.closed = true;
      connections--;
    },
    error(socket: import("bun").Socket<Conn>, e: Error) {
      log.debug(`appd socket client error: ${e.message}`);
    },
  };

  const watch = watchFd(fd, () => {
    for (;;) {
      let client: number | null;
      try {
        client = acceptOne(fd);
      } catch (e) {
        log.warn(`appd socket: ${(e as Error).message}`);
        return;
      }
      if (client === null) return;
      let peer;
      try {
        peer = peerCred(client);
      } catch {
        closeFd(client);
        continue;
      }
      if (peer.uid !== uid) {
        refused++;
        log.warn(`appd socket: refused pid ${peer.pid} (uid ${peer.uid}; only uid ${uid} may connect)`);
        closeFd(client);
        continue;
      }
      // Bun wraps an existing fd (FdSocketOptions); its connect() typings omit that overload.
      const adopt = { fd: client, socket: handlers } as unknown as import("bun").UnixSocketOptions<Conn>;
      Bun.connect<Conn>(adopt).catch((e) => {
        log.warn(`appd socket: cannot adopt client fd: ${(e as Error).message}`);
        closeFd(client);
      });
    }
  });

  return {
    path,
    close() {
      watch.close();
      closeFd(fd);
      try {
        unlinkSync(path);
      } catch {}
    },
    stats: () => ({ connections, refused }),
  };
}
