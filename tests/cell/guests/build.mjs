// Makes the weft:cell C test guests' components; called by
// scripts/build-cell-guests.sh with the stale ones only.
//
//   node tests/cell/guests/build.mjs CORE.wasm OUT.wasm [CORE OUT ...]
//
// For each: embed tests/cell/guests/world.wit (which imports weft:cell,
// wit/weft-cell.wit) into the core module (= `jco embed`), then wrap it with
// jco's wasi_snapshot_preview1 command adapter (= `jco new --wasi-command`).
// The result must export wasi:cli/run and import only wasi:* and weft:cell/*.
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { componentEmbed, componentNew, componentWit, preview1AdapterCommandPath } from '@bytecodealliance/jco';

const args = process.argv.slice(2);
const fail = (msg) => {
  console.error(`build-cell-guests: ${msg}`);
  process.exit(1);
};
if (!args.length || args.length % 2) fail('usage: build.mjs CORE OUT [CORE OUT ...]');
// jco reads the WIT through @bytecodealliance/preview2-shim, which starts
// with no preopens: give it the host's root (as tests/components/build.mjs does).
const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
_setPreopens({ '/': '/' });
const adapter = await readFile(preview1AdapterCommandPath());
const wit = await mkdtemp(join(tmpdir(), 'weft-cell-wit-'));
try {
  await mkdir(join(wit, 'deps', 'weft-cell'), { recursive: true });
  await copyFile('tests/cell/guests/world.wit', join(wit, 'world.wit'));
  await copyFile('wit/weft-cell.wit', join(wit, 'deps', 'weft-cell', 'weft-cell.wit'));
  for (let i = 0; i < args.length; i += 2) {
    const [core, out] = [args[i], args[i + 1]];
    const t0 = performance.now();
    const embedded = await componentEmbed({ binary: await readFile(core), witPath: resolve(wit), world: 'guest', stringEncoding: 'utf8' });
    const component = await componentNew(embedded, [['wasi_snapshot_preview1', adapter]]);
    const text = await componentWit(component);
    const imports = [...text.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1].trim());
    const exports = [...text.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1].trim());
    if (!exports.some((e) => /^wasi:cli\/run@0\.2\.\d+$/.test(e))) fail(`${out}: does not export wasi:cli/run (exports: ${exports.join(', ')})`);
    const bad = imports.filter((n) => !/^(wasi:|weft:cell\/)/.test(n));
    if (bad.length) fail(`${out}: unexpected imports ${bad.join(', ')}`);
    await writeFile(`${out}.tmp`, component);
    await rename(`${out}.tmp`, out);
    const kib = ((await stat(out)).size / 1024).toFixed(0);
    console.log(`built ${out} (${kib} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
} finally {
  await rm(wit, { recursive: true, force: true });
}
