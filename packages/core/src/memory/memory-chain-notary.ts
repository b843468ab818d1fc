import { createHash } from 'node:crypto';
import { type Clock, systemClock } from '../ports/clock.js';
import type { ChainAttestation, ChainNotary } from '../ports/chain-notary.js';

/** An in-memory {@link ChainNotary} that also lets a test read what was attested. */
export interface MemoryChainNotary extends ChainNotary {
  /** Every attestation made, in order. */
  readonly attestations: readonly ChainAttestation[];
}

/** A notary that keeps heads in process memory: for tests and demos; it stands in for an RFC 3161 authority. */
export function createMemoryChainNotary(options: { clock?: Clock; name?: string } = {}): MemoryChainNotary {
  const clock = options.clock ?? systemClock;
  const name = options.name ?? 'memory';
  const attestations: ChainAttestation[] = [];
  return {
    name,
    attestations,
    async attest(head) {
      const at = clock.now();
      // Stands in for a signed time-stamp token: a digest over what was attested and when.
      const token = createHash('sha256').update(`${head.streamId}\n${head.entries}\n${head.head}\n${at}`).digest('hex');
      const attestation = { streamId: head.streamId, entries: head.entries, head: head.head, at, notary: name, token };
      attestations.push(attestation);
      return { ...attestation };
    },
    async latest(streamId) {
      let latest: ChainAttestation | null = null;
      for (const a of attestations) if (a.streamId === streamId && (!latest || a.entries >= latest.entries)) latest = a;
      return latest ? { ...latest } : null;
    },
  };
}
