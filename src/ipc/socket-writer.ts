// Bun's socket.write() is unbuffered: it returns how many bytes the kernel
// took and drops nothing silently only if we keep the rest. This queues the
// rest and flushes it from the socket's `drain` handler, in order.
import type { Socket } from "bun";

export class SocketWriter {
  private queue: Uint8Array[] = [];

  constructor(private readonly socket: Socket<unknown>) {}

  write(bytes: Uint8Array): void {
    if (this.queue.length) {
      this.queue.push(bytes);
      return;
    }
    const n = this.socket.write(bytes);
    if (n < bytes.length) this.queue.push(bytes.subarray(Math.max(n, 0)));
  }

  /** Call from the socket's `drain` handler. */
  drain(): void {
    while (this.queue.length) {
      const head = this.queue[0];
      const n = this.socket.write(head);
      if (n < head.length) {
        this.queue[0] = head.subarray(Math.max(n, 0));
        return;
      }
      this.queue.shift();
    }
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get pending(): number {
    return this.queue.reduce((a, b) => a + b.length, 0);
  }
}
