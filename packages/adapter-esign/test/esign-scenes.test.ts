/** `esignScenes()`: core's scenes as e签宝 can sign them, so that the switch from localSigner is configuration alone. */
import { DEFAULT_SCENES } from '@sealflow/core';
import { describe, expect, it } from 'vitest';
// core validates scenes when a service starts; its validator is internal, so the test reaches it by path.
import { resolveScenes } from '../../core/src/signing/scenes.js';
import { esignScenes } from '../src/index.js';

const partiesOf = (code: string, scenes = esignScenes()) =>
  scenes.find((s) => s.code === code)!.parties.map((p) => [p.role, p.signing, p.order, p.funding ?? '-']);

describe('esignScenes', () => {
  it('moves every person from auto to the sign page, after the automatic seals and before a funder', () => {
    expect(partiesOf('CREDIT_GRANT')).toEqual([
      ['borrower', 'vendorUi', 2, '-'],
      ['platform', 'auto', 1, '-'],
    ]);
    expect(partiesOf('LOAN_CONTRACT')).toEqual([
      ['borrower', 'vendorUi', 2, '-'],
      ['platform', 'auto', 1, 'platform'],
      ['funder', 'ownCall', 3, 'funder'],
    ]);
    expect(partiesOf('CARD_BINDING')).toEqual([
      ['borrower', 'vendorUi', 2, '-'],
      ['paymentCompany', 'auto', 1, '-'],
    ]);
  });

  it('gives scenes core accepts, keeps everything else, and leaves core’s defaults untouched', () => {
    const before = JSON.stringify(DEFAULT_SCENES);
    const scenes = esignScenes();
    expect([...resolveScenes(scenes).keys()]).toEqual(['CREDIT_GRANT', 'LOAN_CONTRACT', 'CARD_BINDING']);
    expect(scenes.map(({ parties: _, ...rest }) => rest)).toEqual(
      DEFAULT_SCENES.map(({ parties: _, ...rest }) => rest),
    );
    expect(JSON.stringify(DEFAULT_SCENES)).toBe(before);
  });

  it('with personSilentSign, persons keep signing automatically; a host’s own scenes are adapted the same way', () => {
    expect(esignScenes({ personSilentSign: true })).toEqual(DEFAULT_SCENES);
    const own = esignScenes({
      scenes: [
        {
          code: 'GUARANTEE',
          name: '担保函',
          documents: [
            { key: 'guarantee', documentType: 'GUARANTEE', templateCode: 'GUARANTEE', fileName: '担保函.pdf' },
          ],
          parties: [
            { role: 'guarantor', kind: 'person', signing: 'auto', order: 1 },
            { role: 'platform', kind: 'organization', signing: 'auto', order: 1 },
            { role: 'insurer', kind: 'organization', signing: 'auto', order: 3 },
          ],
        },
      ],
    });
    expect(partiesOf('GUARANTEE', own)).toEqual([
      ['guarantor', 'vendorUi', 3, '-'],
      ['platform', 'auto', 1, '-'],
      ['insurer', 'auto', 2, '-'],
    ]);
    expect(
      resolveScenes(own)
        .get('GUARANTEE')
        ?.parties.map((p) => p.order),
    ).toEqual([3, 1, 2]);
  });
});
