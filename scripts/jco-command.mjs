// One C (Preview 1) core module into a WASI 0.2 command component that also
// imports one of weft's WIT packages: `jco embed` of the world, then `jco new`
// with jco's wasi_snapshot_preview1 command adapter. Shared by
// examples/build.mjs (weft:app) and tests/cell/guests/build.mjs (weft:cell).
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { componentEmbed, componentNew, componentWit, preview1AdapterCommandPath } from '@bytecodealliance/jco';

// jco's wasm-tools reads the WIT through @bytecodealliance/preview2-shim,
// which starts with no preopens (every path "No such file or directory"):
// give it the host's root, as tests/components/build.mjs does.
const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
_setPreopens({ '/': '/' });
const adapter = await readFile(preview1AdapterCommandPath());

/**
 * A WIT package directory in a temp dir: `world` as its world.wit and `dep`
 * (e.g. wit/weft-app.wit) under deps/. Returns it and its removal.
 */
export async function witPackage(world, dep) {
  const dir = await mkdtemp(join(tmpdir(), 'weft-wit-'));
  const name = basename(dep, '.wit');
  await mkdir(join(dir, 'deps', name), { recursive: true });
  await copyFile(world, join(dir, 'world.wit'));
  await copyFile(dep, join(dir, 'deps', name, `${name}.wit`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Builds OUT from CORE against world `worldName` of the package in `witDir`,
 * checks it exports wasi:cli/run and imports only wasi:* and what `allowed`
 * matches, and writes it atomically. Returns its size and imports; throws a
 * message naming OUT when a check fails.
 */
export async function commandComponent({ core, witDir, worldName, allowed, out }) {
  const embedded = await componentEmbed({ binary: await readFile(core), witPath: resolve(witDir), world: worldName, stringEncoding: 'utf8' });
  const component = await componentNew(embedded, [['wasi_snapshot_preview1', adapter]]);
  const text = await componentWit(component);
  const imports = [...text.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1].trim());
  const exports = [...text.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1].trim());
  if (!exports.some((e) => /^wasi:cli\/run@0\.2\.\d+$/.test(e))) throw new Error(`${out}: does not export wasi:cli/run (exports: ${exports.join(', ')})`);
  const bad = imports.filter((n) => !n.startsWith('wasi:') && !allowed.test(n));
  if (bad.length) throw new Error(`${out}: unexpected imports ${bad.join(', ')}`);
  await writeFile(`${out}.tmp`, component);
  await rename(`${out}.tmp`, out);
  return { kib: ((await stat(out)).size / 1024).toFixed(0), imports };
}
