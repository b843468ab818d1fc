/**
 * The customer's personal data inside signing, under the host's secret `hashKey`:
 * - a keyed hash (HMAC-SHA256) of the ID number, the only form in which records are indexed and queried, so a leaked
 *   table cannot be reversed by hashing all 10^9-ish plausible ID numbers;
 * - the borrower and the template values sealed with AES-256-GCM for the workflow, whose effects run later and need
 *   the plaintext to render and to name the signer at the vendor. Snapshots, outbox rows and audit entries only ever
 *   hold the sealed text.
 * Two keys are derived from `hashKey` with HKDF under different labels, so neither use can stand in for the other.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { SealflowError, ValidationError } from '../errors.js';
import { canonicalJson } from '../runtime/audit-chain.js';

export interface CustomerKeys {
  /** HMAC-SHA256 of an ID number (upper-cased, trimmed), hex. */
  idNumberHash(idNumber: string): string;
  /** Keyed fingerprint of any JSON-able value (canonical JSON), hex. */
  fingerprint(value: unknown): string;
  seal(value: unknown): string;
  open<T>(sealed: string): T;
}

export function customerKeys(hashKey: string | Uint8Array): CustomerKeys {
  const secret = typeof hashKey === 'string' ? Buffer.from(hashKey, 'utf8') : Buffer.from(hashKey);
  if (secret.length < 16) {
    throw new ValidationError('hashKey must be a secret of at least 16 bytes (32 random bytes recommended).', {
      details: { field: 'hashKey' },
    });
  }
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', secret, 'sealflow-signing', label, 32));
  const hashKeyBytes = derive('customer-id-hash-v1');
  const sealKey = derive('customer-data-seal-v1');
  const hmac = (text: string) => createHmac('sha256', hashKeyBytes).update(text).digest('hex');
  return {
    idNumberHash: (idNumber) => hmac(`id:${idNumber.trim().toUpperCase()}`),
    fingerprint: (value) => hmac(`fp:${canonicalJson(value)}`),
    seal(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return [
        'v1',
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        body.toString('base64url'),
      ].join('.');
    },
    open<T>(sealed: string): T {
      const [version, iv, tag, body] = sealed.split('.');
      try {
        if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('format');
        const decipher = createDecipheriv('aes-256-gcm', sealKey, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        const text = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
        return JSON.parse(text) as T;
      } catch (cause) {
        throw new SealflowError(
          'CUSTOMER_DATA_UNREADABLE',
          'The sealed customer data of this signing cannot be opened: the hashKey differs from the one it was sealed with, ' +
            'or the data was changed. Configure the original hashKey.',
          { cause, retryable: false },
        );
      }
    },
  };
}
