/** `pnpm bench [suite …]`: runs every suite in bench/suites (or the named ones), prints tables, writes JSON. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BenchSuite, printTable, writeResults } from './harness.js';

const dir = join(import.meta.dirname, 'suites');
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, '')));

for (const file of files) {
  const suite = (await import(pathToFileURL(join(dir, file)).href)).default as BenchSuite;
  console.log(`running ${suite.name}: ${suite.description}`);
  const rows = await suite.run();
  printTable(suite.name, rows);
  console.log(`wrote ${writeResults(suite.name, rows)}`);
}
