/** `esignVendor()` passes core's signing-vendor contract against the e签宝 emulator. */
import { runEsignContract } from './esign-contract-run.js';

runEsignContract({ name: 'esign (emulator)' });
