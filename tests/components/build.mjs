// Builds component test guests; called by scripts/build-components.sh, which
// decides what is stale and passes only that. One process for all artifacts,
// so jco and componentize-js load once.
//
//   node tests/components/build.mjs adapt CORE.wasm OUT.wasm [CORE OUT ...]
//       wrap Preview 1 command modules with jco's wasi_snapshot_preview1
//       command adapter (= `jco new CORE --wasi-command -o OUT`)
//   node tests/components/build.mjs js WITDIR WORLD SRC.js OUT.wasm [SRC OUT ...]
//       componentize-js each SRC against WORLD in WITDIR
//   node tests/components/build.mjs wat WITDIR WORLD SRC.wat OUT.wasm [SRC OUT ...]
//       a hand-written core module (WAT) embedded with WORLD's types and made a component
//
// Every output is checked with `jco wit` (= componentWit): it must export
// wasi:cli/run and import only wasi:* (and, for js, weft:app/*) interfaces.
// One line per artifact: `built OUT (SIZE, SECONDS; imports ...)`.
import { readFile, writeFile, rename, stat } from 'node:fs/promises';
import { componentNew, componentWit, preview1AdapterCommandPath } from '@bytecodealliance/jco';

const [mode, ...rest] = process.argv.slice(2);

function fail(msg) {
  console.error(`build-components: ${msg}`);
  process.exit(1);
}

// Imports/exports of a component, from the WIT `jco wit` prints.
function worldOf(wit) {
  const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1].trim());
  const exports = [...wit.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1].trim());
  return { imports, exports };
}

// "wasi 0.2.12" / "wasi 0.2.10+0.2.12" etc.: the versions of each package family imported.
function summary(imports) {
  const byNs = new Map();
  for (const name of imports) {
    const m = /^([a-z0-9-]+):[^@]+@(.+)$/.exec(name);
    const ns = m ? m[1] : name;
    if (!byNs.has(ns)) byNs.set(ns, new Set());
    if (m) byNs.get(ns).add(m[2]);
  }
  return [...byNs].map(([ns, v]) => `${ns}@${[...v].sort().join('+')}`).join(' ');
}

// command: it must export wasi:cli/run (false only for a test of what is not a command).
async function check(out, bytes, allowed, command = true) {
  const { imports, exports } = worldOf(await componentWit(bytes));
  if (command && !exports.some((e) => /^wasi:cli\/run@0\.2\.\d+$/.test(e)))
    fail(`${out}: does not export wasi:cli/run@0.2.x (exports: ${exports.join(', ') || 'none'})`);
  const bad = imports.filter((i) => !allowed.some((re) => re.test(i)));
  if (bad.length) fail(`${out}: unexpected imports ${bad.join(', ')}`);
  return imports;
}

async function emit(out, bytes, t0, imports) {
  await writeFile(`${out}.tmp`, bytes);
  await rename(`${out}.tmp`, out);
  const size = (await stat(out)).size;
  const human = size >= 1 << 20 ? `${(size / (1 << 20)).toFixed(1)} MiB` : `${(size / 1024).toFixed(0)} KiB`;
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`built ${out} (${human}, ${secs} s; imports ${summary(imports)})`);
}

const WASI_ONLY = [/^wasi:/];

if (mode === 'adapt') {
  if (rest.length % 2) fail('adapt: expected CORE OUT pairs');
  const adapter = await readFile(preview1AdapterCommandPath());
  for (let i = 0; i < rest.length; i += 2) {
    const [core, out] = [rest[i], rest[i + 1]];
    const t0 = performance.now();
    const bytes = await componentNew(await readFile(core), [['wasi_snapshot_preview1', adapter]]);
    const imports = await check(out, bytes, WASI_ONLY);
    await emit(out, bytes, t0, imports);
  }
} else if (mode === 'js') {
  const [witPath, worldName, ...pairs] = rest;
  if (!witPath || !worldName || pairs.length % 2) fail('js: expected WITDIR WORLD SRC OUT ...');
  // componentize-js 0.23 reads the WIT through @bytecodealliance/preview2-shim,
  // whose 0.26 release (what jco 1.35 pulls in) starts with no preopens, so
  // every path fails with "No such file or directory (os error 44)". Give it
  // the host's root, as older shims did by default. Same module instance as
  // componentize-js's, since both resolve to the top-level node_modules.
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
  _setPreopens({ '/': '/' });
  const { componentize } = await import('@bytecodealliance/componentize-js');
  for (let i = 0; i < pairs.length; i += 2) {
    const [src, out] = [pairs[i], pairs[i + 1]];
    const t0 = performance.now();
    const { component } = await componentize({
      sourcePath: src,
      witPath,
      worldName,
      // No wasi:http imports (StarlingMonkey's global fetch / fetch-event need
      // wasi:http@0.2.10, which a plain WASI 0.2 host does not provide). The
      // guests use weft:app/fetch instead.
      disableFeatures: ['http', 'fetch-event'],
    });
    const imports = await check(out, component, [/^wasi:/, /^weft:app\//, /^weft:test-guests\//]);
    await emit(out, component, t0, imports);
  }
} else if (mode === 'wat') {
  // Hand-written canonical-ABI core modules: embed WORLD's types, then make a component.
  const [witPath, worldName, ...pairs] = rest;
  if (!witPath || !worldName || pairs.length % 2) fail('wat: expected WITDIR WORLD SRC OUT ...');
  // componentEmbed reads the WIT through the same preview2-shim as componentize-js (see above).
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
  _setPreopens({ '/': '/' });
  const { resolve } = await import('node:path');
  const { parse, componentEmbed } = await import('@bytecodealliance/jco');
  for (let i = 0; i < pairs.length; i += 2) {
    const [src, out] = [pairs[i], pairs[i + 1]];
    const t0 = performance.now();
    const text = await readFile(src, 'utf8');
    const core = await parse(text);
    const embedded = await componentEmbed({ binary: core, witPath: resolve(witPath), world: worldName });
    const component = await componentNew(embedded, []);
    // `;; world: NAME (not a command)` on the first line: a component made to lack wasi:cli/run.
    const command = !text.split('\n')[0].includes('(not a command)');
    const imports = await check(out, component, [/^wasi:/, /^weft:app\//], command);
    await emit(out, component, t0, imports);
  }
} else {
  fail(`usage: build.mjs adapt CORE OUT ... | js WITDIR WORLD SRC OUT ... | wat WITDIR WORLD SRC OUT ...`);
}
