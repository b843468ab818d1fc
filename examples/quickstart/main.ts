/**
 * sealflow quickstart: a lender's backend, offline, in one run. `pnpm demo` from the repository root.
 * The wiring is in `setup.ts`, the template configuration in `template-definitions.ts`, the story in `quickstart.ts`.
 */
import { runQuickstart } from './quickstart.js';

await runQuickstart();
