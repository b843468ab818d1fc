/**
 * The chain-notary port: chain heads published outside the database.
 *
 * A keyed, anchored chain shows every edit made without the host's key, but two things leave nothing behind inside
 * the database: deleting a whole chain together with what anchors it, and putting back an exact earlier copy of both.
 * A notary holds heads where a database editor cannot reach them — an RFC 3161 time-stamping authority, a
 * transparency log, write-once storage, a regulator's evidence platform — so a head attested once must still be in
 * the chain later. sealflow ships the port and an in-memory notary for tests (`createMemoryChainNotary` in
 * `@sealflow/core/memory`); an adapter for a particular authority implements these two methods.
 *
 * Rules every implementation keeps:
 * - `attest` stores the head durably outside sealflow's database before it returns, and never forgets one.
 * - `latest` returns the attestation with the most entries for the stream (the newest head), or null.
 * - `token` is the authority's proof (for RFC 3161, the DER TimeStampToken over SHA-256 of `head`, base64); sealflow
 *   keeps it opaque and hands it out in evidence packages.
 */

export interface ChainHead {
  /** The audit stream, such as `evidence:<recordId>`. */
  streamId: string;
  /** How many entries the chain had. */
  entries: number;
  /** The link of its last entry. */
  head: string;
}

/** A head the notary has attested, with the notary's own proof of when it saw it. */
export interface ChainAttestation extends ChainHead {
  /** When the notary attested it, epoch ms (the authority's time where it has one). */
  at: number;
  /** The notary's name, as `ChainNotary.name`. */
  notary: string;
  token: string;
}

/**
 * The chain-notary port: publishes the head of an evidence chain to an independent party, so that rewriting the
 * chain later is detectable even by someone holding the database and the keys.
 */
export interface ChainNotary {
  /** A short name for errors and evidence packages, such as `memory` or `tsa-example`. */
  readonly name: string;
  attest(head: ChainHead): Promise<ChainAttestation>;
  latest(streamId: string): Promise<ChainAttestation | null>;
}
