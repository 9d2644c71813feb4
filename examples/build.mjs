// Makes the C example apps' components; called by scripts/build-examples.sh,
// which decides what is stale and passes only that.
//
//   node examples/build.mjs CORE.wasm WORLD.wit OUT.wasm [CORE WORLD OUT ...]
//
// For each: embed the app's world (which imports weft:app, wit/weft-app.wit)
// into the core module's component-type section (= `jco embed`), then wrap
// it with jco's wasi_snapshot_preview1 command adapter (= `jco new
// --wasi-command`). The result must export wasi:cli/run and import only
// wasi:* and weft:app/* interfaces.
import { mkdtemp, readFile, rename, rm, stat, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { componentEmbed, componentNew, componentWit, preview1AdapterCommandPath } from '@bytecodealliance/jco';

const args = process.argv.slice(2);
const fail = (msg) => {
  console.error(`build-examples: ${msg}`);
  process.exit(1);
};
if (!args.length || args.length % 3) fail('usage: build.mjs CORE WORLD OUT [CORE WORLD OUT ...]');

// jco's wasm-tools reads the WIT through @bytecodealliance/preview2-shim,
// which starts with no preopens (every path "No such file or directory"):
// give it the host's root, as tests/components/build.mjs does.
const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
_setPreopens({ '/': '/' });
const adapter = await readFile(preview1AdapterCommandPath());
const work = await mkdtemp(join(tmpdir(), 'weft-examples-'));
try {
  for (let i = 0; i < args.length; i += 3) {
    const [core, world, out] = args.slice(i, i + 3);
    const t0 = performance.now();
    // A WIT package dir: the app's world, with weft:app as its dependency.
    const wit = join(work, String(i));
    await mkdir(join(wit, 'deps', 'weft-app'), { recursive: true });
    await copyFile(world, join(wit, 'world.wit'));
    await copyFile('wit/weft-app.wit', join(wit, 'deps', 'weft-app', 'weft-app.wit'));
    const embedded = await componentEmbed({ binary: await readFile(core), witPath: resolve(wit), world: 'app', stringEncoding: 'utf8' });
    const component = await componentNew(embedded, [['wasi_snapshot_preview1', adapter]]);
    const text = await componentWit(component);
    const imports = [...text.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1].trim());
    const exports = [...text.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1].trim());
    if (!exports.some((e) => /^wasi:cli\/run@0\.2\.\d+$/.test(e))) fail(`${out}: does not export wasi:cli/run (exports: ${exports.join(', ')})`);
    const bad = imports.filter((n) => !/^(wasi:|weft:app\/)/.test(n));
    if (bad.length) fail(`${out}: unexpected imports ${bad.join(', ')}`);
    await writeFile(`${out}.tmp`, component);
    await rename(`${out}.tmp`, out);
    const kib = ((await stat(out)).size / 1024).toFixed(0);
    const weft = imports.filter((n) => n.startsWith('weft:')).map((n) => n.replace(/^weft:app\/|@.*$/g, ''));
    console.log(`built ${out} (${kib} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s; weft:app ${weft.join(' ')})`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
