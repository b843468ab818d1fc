/** Core's signing-vendor contract on `esignVendor()` with a create log: the lookups it skips change no outcome. */
import { memoryEsignCreateLog } from '../src/index.js';
import { runEsignContract } from './esign-contract-run.js';

runEsignContract({
  name: 'esignVendor with a create log (e签宝 emulator)',
  vendor: { createLog: memoryEsignCreateLog() },
});
