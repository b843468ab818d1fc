// Imports one entry point in a fresh process and writes every module URL the import resolved, one per line, to the
// file named by the second argument. Run with tsx and the @sealflow/source condition (the entries are TypeScript).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const [entry, out] = process.argv.slice(2);
// A resolve hook that appends each resolved URL to `out` synchronously, so nothing is lost when the import settles.
const hook = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(out, result.url + '\\n');
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, { parentURL: import.meta.url, data: { out } });
await import(pathToFileURL(entry).href);
