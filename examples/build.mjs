// Makes the C example apps' components; called by scripts/build-examples.sh,
// which decides what is stale and passes only that.
//
//   node examples/build.mjs CORE.wasm WORLD.wit OUT.wasm [CORE WORLD OUT ...]
//
// Each app's world imports weft:app (wit/weft-app.wit); the result must
// export wasi:cli/run and import only wasi:* and weft:app/* interfaces
// (scripts/jco-command.mjs does the embedding and the checks).
import { commandComponent, witPackage } from '../scripts/jco-command.mjs';

const args = process.argv.slice(2);
const fail = (msg) => {
  console.error(`build-examples: ${msg}`);
  process.exit(1);
};
if (!args.length || args.length % 3) fail('usage: build.mjs CORE WORLD OUT [CORE WORLD OUT ...]');

for (let i = 0; i < args.length; i += 3) {
  const [core, world, out] = args.slice(i, i + 3);
  const t0 = performance.now();
  const wit = await witPackage(world, 'wit/weft-app.wit');
  try {
    const { kib, imports } = await commandComponent({ core, witDir: wit.dir, worldName: 'app', allowed: /^weft:app\//, out });
    const weft = imports.filter((n) => n.startsWith('weft:')).map((n) => n.replace(/^weft:app\/|@.*$/g, ''));
    console.log(`built ${out} (${kib} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s; weft:app ${weft.join(' ')})`);
  } catch (e) {
    fail(e.message);
  } finally {
    await wit.remove();
  }
}
