/**
 * An opt-in pool of worker threads for sealing. `sealPdf` is CPU-bound and synchronous (hashing, signing, writing the
 * incremental update), so one Node thread seals one document at a time; a host with spare cores can hand seals to a
 * pool and seal several at once. Pass the pool to `localSigner({ pool })` or call `pool.seal` directly.
 *
 * Keys never cross threads as `KeyObject`s: the pool exports each identity once to PEM (PKCS#8 key, certificates) and
 * sends that text with every task; each worker parses it once and caches it by an id private to this process.
 *
 * The seal image and a name seal's font are treated the same way: the first time the pool meets a byte array it
 * copies it once into shared memory under an id, and every task sends that shared view (no copy per task). A worker
 * keeps the first array it received under each id and seals with it, so the image it decoded or the font it parsed
 * for one seal serves all later ones — as a byte array passed again does in the calling thread.
 */
import { randomUUID } from 'node:crypto';
import { Tinypool } from 'tinypool';
import { SealingError } from './errors.js';
import type { SealOptions } from './seal-pdf.js';
import type { IdentityMaterial, SealOutcome, SealTask, SharedBytes } from './seal-worker.js';
import type { SigningIdentity } from './signing-identity.js';

/** Options for `createSealingPool`. */
export interface SealingPoolOptions {
  /** Worker threads to keep; one per core you want sealing to use. Defaults to 2. */
  size?: number;
}

/** Worker threads that seal PDFs off the host's main thread; made by `createSealingPool`. */
export interface SealingPool {
  /** The number of worker threads. */
  readonly size: number;
  /** Seals `pdf` in a worker thread: the same result and the same `SealingError` codes as `sealPdf`. */
  seal(pdf: Uint8Array, options: SealOptions): Promise<Uint8Array>;
  /** Ends every worker thread; seals still queued are rejected. Call it when the host shuts down. */
  close(): Promise<void>;
}

/**
 * Starts `size` worker threads that seal with `sealPdf`. Throws `SealingError` INVALID_INPUT when `size` is not a
 * whole number of at least 1. Close the pool when the host shuts down, or its threads keep the process alive.
 */
export function createSealingPool(options: SealingPoolOptions = {}): SealingPool {
  const size = options.size ?? 2;
  if (!Number.isInteger(size) || size < 1) {
    throw new SealingError('INVALID_INPUT', `createSealingPool: size must be a whole number ≥ 1 (got ${size}).`);
  }
  const workers = new Tinypool({ ...workerEntry(), minThreads: size, maxThreads: size });
  let closed = false;
  return {
    size,
    async seal(pdf, { identity, appearance, ...rest }) {
      if (closed) {
        throw new SealingError('INVALID_INPUT', 'The sealing pool is closed: create a new one with createSealingPool.');
      }
      const { image, nameSeal, ...appearanceRest } = appearance ?? {};
      const task: SealTask = {
        pdf,
        identity: materialOf(identity),
        options: rest,
        appearance: appearance && {
          ...appearanceRest,
          image: image && sharedBytesOf(image),
          nameSeal: nameSeal && { name: nameSeal.name, font: nameSeal.font && sharedBytesOf(nameSeal.font) },
        },
      };
      const outcome = (await workers.run(task)) as SealOutcome;
      if (!outcome.ok) throw new SealingError(outcome.code, outcome.message);
      return outcome.pdf;
    },
    async close() {
      closed = true;
      await workers.destroy();
    },
  };
}

/**
 * The published package runs the built `seal-worker.js` next to this module. When sealflow is loaded from its
 * TypeScript sources (its own tests, the benchmark), Node cannot run a `.ts` worker by itself, so a plain-JS shim
 * loads it through tsx, with the `@sealflow/source` condition that makes the workspace sources importable.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  return {
    filename: new URL(fromSource ? './seal-worker.source.mjs' : './seal-worker.js', import.meta.url).href,
    execArgv: fromSource ? ['--conditions=@sealflow/source'] : [],
  };
}

const materials = new WeakMap<SigningIdentity, IdentityMaterial>();

function materialOf(identity: SigningIdentity): IdentityMaterial {
  let material = materials.get(identity);
  if (!material) {
    material = {
      id: randomUUID(),
      certificatePem: pem(identity.certificate),
      chainPem: identity.chain.map(pem).join(''),
      privateKeyPem: identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
    materials.set(identity, material);
  }
  return material;
}

const sharedAssets = new WeakMap<Uint8Array, SharedBytes>();

/** The bytes' one copy in shared memory, made the first time the pool sees this array. */
function sharedBytesOf(bytes: Uint8Array): SharedBytes {
  let shared = sharedAssets.get(bytes);
  if (!shared) {
    const view = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
    view.set(bytes);
    shared = { id: randomUUID(), bytes: view };
    sharedAssets.set(bytes, shared);
  }
  return shared;
}

function pem(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
