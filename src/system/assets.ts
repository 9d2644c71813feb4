// Where weft finds the native libraries it loads. In a checkout they sit
// where scripts/setup.sh put them; the single-file build will extract its
// embedded copies by content hash and point here (issue 7).
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

const LIBRARIES: Record<string, string> = {
  "libwasmtime.so": join(ROOT, "vendor", "wasmtime", "libwasmtime.so"),
  "libweft_native.so": join(ROOT, "build", "libweft_native.so"),
};

export function libraryPath(name: keyof typeof LIBRARIES | string): string {
  const p = LIBRARIES[name];
  if (!p) throw new Error(`unknown bundled library ${name}`);
  return p;
}
