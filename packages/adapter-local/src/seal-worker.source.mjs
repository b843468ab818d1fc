// The sealing pool's worker when sealflow runs from its TypeScript sources (its own tests and benchmark). Node 20
// applies no `--import` loader inside worker threads, so this plain module loads the TypeScript worker through tsx's
// API. Published builds never use it: they run the compiled seal-worker.js.
import { tsImport } from 'tsx/esm/api';

const worker = await tsImport('./seal-worker.ts', import.meta.url);
export default worker.default;
