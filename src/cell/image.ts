// A cell image: a merged tree whose bin/main.wasm is pid0, whose etc/cell.toml
// says what the cell is granted, and whose svc/<name>/ are nested images run
// as background services (images all the way down). usr/lib/ and boot/ are
// reserved: kept in the tree, not interpreted.
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { wasmKind } from "../runtime/cache.ts";
import { CONFIG_FILE, DEFAULT_LIMITS, defaultConfig, nestedGrantProblems, parseConfig, SERVICE_LIMITS, type CellConfig } from "./config.ts";
import { ImageError, layerCount, mergeLayers, type MergedTree } from "./layers.ts";

export const MAIN = "bin/main.wasm";

export interface ImageNode {
  /** "" for the image itself, "svc/web", "svc/web/svc/cache" for services. */
  path: string;
  /** Host directory seen as `/` by this node's process. */
  root: string;
  wasm: Uint8Array;
  config: CellConfig;
}

export interface Image extends ImageNode {
  tree: MergedTree;
  services: ImageNode[];
  close(): Promise<void>;
}

async function readNode(root: string, path: string, missingMain: string): Promise<ImageNode> {
  const file = join(root, MAIN);
  const st = await lstat(file).catch(() => null);
  if (!st) throw new ImageError(missingMain);
  if (!st.isFile()) throw new ImageError(`${path ? `${path}/` : ""}${MAIN} is not a regular file`);
  const wasm = new Uint8Array(await Bun.file(file).arrayBuffer());
  if (!wasmKind(wasm)) throw new ImageError(`${path ? `${path}/` : ""}${MAIN} is not a WebAssembly module or component`);
  const cfgFile = join(root, CONFIG_FILE);
  const cst = await lstat(cfgFile).catch(() => null);
  const defaults = path ? SERVICE_LIMITS : DEFAULT_LIMITS;
  let config = defaultConfig(defaults);
  if (cst) {
    if (!cst.isFile()) throw new ImageError(`${path ? `${path}/` : ""}${CONFIG_FILE} is not a regular file`);
    config = parseConfig(await Bun.file(cfgFile).text(), `${path ? `${path}/` : ""}${CONFIG_FILE}`, defaults);
  }
  return { path, root, wasm, config };
}

/** Services under `root/svc/`, depth first (a service's own services follow it). */
async function readServices(root: string, prefix: string): Promise<ImageNode[]> {
  const svc = join(root, "svc");
  const st = await lstat(svc).catch(() => null);
  if (!st) return [];
  if (!st.isDirectory()) throw new ImageError(`${prefix}svc is not a directory`);
  const out: ImageNode[] = [];
  const names = (await readdir(svc, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of names) {
    const path = `${prefix}svc/${e.name}`;
    if (!e.isDirectory()) throw new ImageError(`${path}: a service is a directory (a nested image)`);
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(e.name)) throw new ImageError(`${path}: a service name uses a-z, 0-9, ".", "_" and "-"`);
    const node = await readNode(join(svc, e.name), path, `service ${path} has no ${MAIN}`);
    out.push(node, ...(await readServices(node.root, `${path}/`)));
  }
  return out;
}

/** Merges the layers and reads the image; the caller closes it when the cell is gone. */
export async function openImage(layers: string[], scratchParent?: string): Promise<Image> {
  const tree = await mergeLayers(layers, scratchParent);
  try {
    const main = await readNode(tree.root, "", `no ${MAIN} in the merged image (${layerCount(layers.length)} given: ${layers.join(", ")})`);
    const services = await readServices(tree.root, "");
    const nested = nestedGrantProblems([main, ...services].map((n) => ({ who: n.path ? `${n.path}/${CONFIG_FILE}` : CONFIG_FILE, dirs: n.config.dirs, image: n.root })));
    if (nested.length) throw new ImageError(nested.join("\n"));
    return { ...main, tree, services, close: () => tree.cleanup() };
  } catch (e) {
    await tree.cleanup();
    throw e;
  }
}
