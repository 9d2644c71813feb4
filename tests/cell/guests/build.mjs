// Makes the weft:cell C test guests' components; called by
// scripts/build-cell-guests.sh with the stale ones only.
//
//   node tests/cell/guests/build.mjs CORE.wasm OUT.wasm [CORE OUT ...]
//
// Each embeds tests/cell/guests/world.wit (which imports weft:cell,
// wit/weft-cell.wit); the result must export wasi:cli/run and import only
// wasi:* and weft:cell/* (scripts/jco-command.mjs does the work).
import { commandComponent, witPackage } from '../../../scripts/jco-command.mjs';

const args = process.argv.slice(2);
const fail = (msg) => {
  console.error(`build-cell-guests: ${msg}`);
  process.exit(1);
};
if (!args.length || args.length % 2) fail('usage: build.mjs CORE OUT [CORE OUT ...]');
const wit = await witPackage('tests/cell/guests/world.wit', 'wit/weft-cell.wit');
try {
  for (let i = 0; i < args.length; i += 2) {
    const [core, out] = [args[i], args[i + 1]];
    const t0 = performance.now();
    const { kib } = await commandComponent({ core, witDir: wit.dir, worldName: 'guest', allowed: /^weft:cell\//, out });
    console.log(`built ${out} (${kib} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
} catch (e) {
  fail(e.message);
} finally {
  await wit.remove();
}
