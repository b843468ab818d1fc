/**
 * `esignVendor()` with `personSilentSign` passes core's signing-vendor contract against the e签宝 emulator too: it
 * then declares personAutoSign, and a borrower with a silent-sign authorisation is signed without interaction.
 */
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { runEsignContract } from './esign-contract-run.js';

runEsignContract({
  name: 'esign with personSilentSign (emulator)',
  vendor: { personSilentSign: { enabled: true } },
  // The borrower has a real-named e签宝 account and authorised the platform to sign for them (v1 静默签署授权).
  prepare: (emulator) => {
    const { psnId } = emulator.addPerson({
      name: TEST_BORROWER.name,
      idNo: TEST_BORROWER.idNumber,
      mobile: TEST_BORROWER.mobile!,
    });
    emulator.authorizeSilentSign(psnId);
  },
});
