/** `cfcaVendor()` passes core's signing-vendor contract against the 安心签 emulator. */
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { runSigningVendorContract } from '@sealflow/core/testing';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect } from 'vitest';
import { contractPdf, vendorWorld } from './vendor-support.js';

const world = vendorWorld();
const server = setupServer(...world.emulator.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

runSigningVendorContract({
  name: 'cfca (emulator)',
  settleTimeoutMs: 5_000,
  create: async () => ({
    vendor: world.vendor(),
    samplePdf: contractPdf,
    signers: [world.borrower, world.platform],
    funder: world.funderSigner,
    flowCount: () => world.emulator.contractNumbers().length,
  }),
  verifyPdf: (bytes, flow) => {
    const placements = flow.signers.flatMap((s) => s.placements.filter((p) => p.documentKey === flow.documentKey));
    // One PAdES signature per placement, each over the bytes before it and intact.
    expect(verifyPdfSignatures(bytes).map((r) => r.valid)).toEqual(placements.map(() => true));
  },
});
