/**
 * core's signing scenes as e签宝 can sign them, so that switching from the local signer is configuration alone:
 * `vendors: { esign }, scenes: esignScenes()`.
 */
import { DEFAULT_SCENES, type SigningSceneInput } from '@sealflow/core';

/** Options of {@link esignScenes}. */
export interface EsignScenesOptions {
  /**
   * The scenes to adapt. Default: core's default scenes (CREDIT_GRANT, LOAN_CONTRACT, CARD_BINDING). Give your own
   * scenes here to adapt them the same way.
   */
  scenes?: readonly SigningSceneInput[];
  /**
   * `true` when the vendor runs with `personSilentSign: { enabled: true }`: persons keep `signing: 'auto'` and are
   * signed through their v1 silent-sign authorisation. Default `false`: persons sign on e签宝's sign page.
   */
  personSilentSign?: boolean;
}

const STAGE: Record<string, number> = { auto: 0, vendorUi: 1, ownCall: 2 };

/**
 * The scenes with every person who would be signed for automatically (`signing: 'auto'`) switched to sign on
 * e签宝's page (`vendorUi`), since e签宝 V3 cannot sign for a person. Because a party that waits must come after
 * every automatic one, parties are renumbered: automatic ones first in their old order, then the person, then a
 * funder signing with its own call. With `personSilentSign: true`, the scenes are returned as they are (copied).
 */
export function esignScenes(options: EsignScenesOptions = {}): SigningSceneInput[] {
  const scenes = options.scenes ?? DEFAULT_SCENES;
  return scenes.map((scene) => {
    const copy = structuredClone(scene) as SigningSceneInput;
    if (options.personSilentSign) return copy;
    const parties = copy.parties.map((party) =>
      party.kind === 'person' && party.signing === 'auto' ? { ...party, signing: 'vendorUi' as const } : party,
    );
    const ranked = parties
      .map((party, index) => ({ party, index }))
      .sort(
        (a, b) =>
          (STAGE[a.party.signing] ?? 0) - (STAGE[b.party.signing] ?? 0) ||
          a.party.order - b.party.order ||
          a.index - b.index,
      );
    // Parties of different fundings never meet in one flow, but distinct orders keep every funding valid.
    const orders = new Map(ranked.map(({ party }, i) => [party, i + 1]));
    copy.parties = parties.map((party) => ({ ...party, order: orders.get(party)! }));
    return copy;
  });
}
