// Writes ustar archives byte by byte, so tests can make the archives a
// hostile image would carry (`../` names, absolute paths, devices, links)
// without root and without trusting tar to refuse to create them.
export type TarEntry =
  | { type: "file"; name: string; data?: string | Uint8Array; mode?: number }
  | { type: "dir"; name: string }
  | { type: "symlink" | "hardlink"; name: string; target: string }
  | { type: "chardev" | "fifo"; name: string };

const FLAG = { file: "0", hardlink: "1", symlink: "2", chardev: "3", dir: "5", fifo: "6" } as const;

function field(buf: Uint8Array, off: number, len: number, text: string): void {
  const b = new TextEncoder().encode(text);
  if (b.length > len) throw new Error(`tar field too long: ${text}`);
  buf.set(b, off);
}
const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0");

export function tarBytes(entries: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.type === "file" ? (typeof e.data === "string" || e.data === undefined ? new TextEncoder().encode(e.data ?? "") : e.data) : new Uint8Array();
    const h = new Uint8Array(512);
    field(h, 0, 100, e.name);
    field(h, 100, 8, octal(e.type === "dir" ? 0o755 : e.type === "file" ? (e.mode ?? 0o644) : 0o777, 8));
    field(h, 108, 8, octal(0, 8));
    field(h, 116, 8, octal(0, 8));
    field(h, 124, 12, octal(data.length, 12));
    field(h, 136, 12, octal(0, 12));
    field(h, 148, 8, "        ");
    field(h, 156, 1, FLAG[e.type]);
    if (e.type === "symlink" || e.type === "hardlink") field(h, 157, 100, e.target);
    field(h, 257, 6, "ustar");
    field(h, 263, 2, "00");
    const sum = h.reduce((a, b) => a + b, 0);
    field(h, 148, 8, `${octal(sum, 7)}\0`);
    parts.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export async function writeTar(path: string, entries: TarEntry[]): Promise<string> {
  const bytes = tarBytes(entries);
  await Bun.write(path, path.endsWith(".zst") ? Bun.zstdCompressSync(bytes) : bytes);
  return path;
}
