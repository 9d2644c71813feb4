// Runs one src/cli command module like bin/weft.ts would (used by tests so
// they do not depend on the dispatcher's registration table).
const [name, ...argv] = process.argv.slice(2);
const mod = (await import(`../../src/cli/${name}.ts`)) as { default: { run(a: string[]): Promise<number> } };
process.exit(await mod.default.run(argv));
export {};
