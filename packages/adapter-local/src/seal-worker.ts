/**
 * The worker side of the sealing pool: one module per worker thread, loaded by tinypool. It rebuilds each signing
 * identity from the key and certificate bytes the pool sends, caches it by the pool's identity id (so a key is parsed
 * once per worker, not once per seal) and runs the same `sealPdf` as the in-process path.
 *
 * Errors cannot cross a thread boundary as class instances (structured clone keeps only name, message and stack), so a
 * `SealingError` comes back as a plain `{ code, message }` outcome and the pool re-throws it as a `SealingError`.
 */
import { SealingError, type SealingErrorCode } from './errors.js';
import { type SealAppearance, type SealOptions, sealPdf } from './seal-pdf.js';
import { loadSigningIdentity, type SigningIdentity } from './signing-identity.js';

/** What a worker needs to rebuild an identity: PEM text, which every worker can parse with node:crypto. */
export interface IdentityMaterial {
  /** Unique per identity object in the host thread; the worker's cache key. */
  readonly id: string;
  readonly certificatePem: string;
  readonly chainPem: string;
  readonly privateKeyPem: string;
}

/** A byte array the pool placed in shared memory once, under an id unique in the host thread. */
export interface SharedBytes {
  readonly id: string;
  readonly bytes: Uint8Array;
}

export interface SealTask {
  readonly pdf: Uint8Array;
  readonly identity: IdentityMaterial;
  readonly options: Omit<SealOptions, 'identity' | 'appearance'>;
  readonly appearance?: Omit<SealAppearance, 'image' | 'nameSeal'> & {
    image?: SharedBytes;
    nameSeal?: { name: string; font?: SharedBytes };
  };
}

export type SealOutcome =
  | { readonly ok: true; readonly pdf: Uint8Array }
  | { readonly ok: false; readonly code: SealingErrorCode; readonly message: string };

const identities = new Map<string, SigningIdentity>();

function identityFor(material: IdentityMaterial): SigningIdentity {
  let identity = identities.get(material.id);
  if (!identity) {
    // Validity was already judged when the host loaded the identity; re-judging here could only add warnings.
    identity = loadSigningIdentity({
      certificatePem: material.certificatePem,
      chainPem: material.chainPem,
      privateKeyPem: material.privateKeyPem,
    });
    identities.set(material.id, identity);
  }
  return identity;
}

const assets = new Map<string, Uint8Array>();

/** The array first received under this id: the image and font caches of `sealPdf` are keyed by array identity. */
function assetFor(shared: SharedBytes): Uint8Array {
  let bytes = assets.get(shared.id);
  if (!bytes) {
    bytes = shared.bytes;
    assets.set(shared.id, bytes);
  }
  return bytes;
}

function appearanceOf(task: SealTask): SealAppearance | undefined {
  if (!task.appearance) return undefined;
  const { image, nameSeal, ...rest } = task.appearance;
  return {
    ...rest,
    ...(image && { image: assetFor(image) }),
    ...(nameSeal && { nameSeal: { name: nameSeal.name, ...(nameSeal.font && { font: assetFor(nameSeal.font) }) } }),
  };
}

export default function sealInWorker(task: SealTask): SealOutcome {
  try {
    const appearance = appearanceOf(task);
    const pdf = sealPdf(task.pdf, {
      ...task.options,
      ...(appearance && { appearance }),
      identity: identityFor(task.identity),
    });
    return { ok: true, pdf };
  } catch (error) {
    // Only the stable code and the message travel: both are written to carry no personal data.
    if (error instanceof SealingError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}
