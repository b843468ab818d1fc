/**
 * sealflow quickstart: a lender's backend, offline, in one run. `pnpm demo` from the repository root.
 * The wiring is in `setup.ts`, the cast in `cast.ts`, the story in `quickstart.ts` and its chapters.
 */
import { runQuickstart } from './quickstart.js';

await runQuickstart();
