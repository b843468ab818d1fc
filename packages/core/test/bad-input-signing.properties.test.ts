/**
 * The signing service's entry points under generated bad input: `sign` requests with any field replaced, vendor
 * callbacks addressed to any vendor id with any body, and the record queries with any id. Every failure is a
 * `SealflowError` with a stable code; a request refused as INVALID_INPUT leaves no record, a request refused after
 * it was identified leaves exactly the FAILED record docs/signing.md promises, and no message shows an ID number.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SealflowError, type SignRequest, SigningRefusedError } from '../src/index.js';
import { PROPERTY_RUNS, PROTOTYPE_KEYS, anyValue } from './bad-input-fixtures.js';
import { BORROWER, type SigningSetup, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

const anyInput = anyValue({ withTypedArray: true });
const replacement = fc.oneof(
  fc.constantFrom('11010119', '110101199', '1381234', '+8613912345678', '', ' ', '2026-13-01', '1e400'),
  fc.string({ maxLength: 30 }),
  anyInput,
);

/** Paths into a sign request that a mutation replaces; the first segment `values` reaches template sources. */
const PATHS = [
  ['borrower', 'idNumber'],
  ['borrower', 'mobile'],
  ['borrower', 'name'],
  ['borrower'],
  ['values', 'loan', 'amount'],
  ['values', 'loan', 'startDate'],
  ['values', 'loan', 'termMonths'],
  ['values', 'loan'],
  ['values', 'credit', 'limit'],
  ['values'],
  ['values', '__proto__'],
  ['values', 'constructor'],
  ['scene'],
  ['funding'],
  ['funder'],
  ['consent', 'at'],
  ['consent', 'documentVersionsShown'],
  ['consent'],
  ['actor'],
  ['actor', 'id'],
];

function withReplaced(request: SignRequest, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(request) as unknown as Record<string, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  Object.defineProperty(node, path.at(-1)!, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

function expectMasked(error: SealflowError, request: unknown): void {
  const id = (request as { borrower?: { idNumber?: unknown } }).borrower?.idNumber;
  const text = JSON.stringify({ message: error.message, details: error.details }, (_k, v) =>
    typeof v === 'bigint' ? String(v) : v,
  );
  if (typeof id === 'string' && id.length >= 8) expect(text).not.toContain(id);
  expect(text).not.toContain(BORROWER.idNumber);
}

describe('sign: any request field replaced by anything', () => {
  let s: SigningSetup;
  beforeAll(async () => {
    s = await setupSigning();
  });

  it('answers with a record or a typed error; INVALID_INPUT leaves no record, a refusal leaves a FAILED one (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...PATHS), replacement), { minLength: 1, maxLength: 2 }),
        async (replacements) => {
          const businessNo = `PB-${++run}`;
          const request = replacements.reduce<unknown>(
            (r, [path, value]) => withReplaced(r as SignRequest, path, value),
            s.request({ businessNo }),
          );
          try {
            const record = await s.signing.sign(request as SignRequest);
            expect(record.businessNo).toBe(businessNo);
          } catch (error) {
            expect(error, String(error)).toBeInstanceOf(SealflowError);
            const typed = error as SealflowError;
            expect(typed.code).toMatch(/^[A-Z][A-Z_]+$/);
            expectMasked(typed, request);
            const records = await s.signing.find({ businessNo });
            if (typed instanceof SigningRefusedError) {
              expect(records.map((r) => [r.id, r.status])).toEqual([[typed.recordId, 'FAILED']]);
            } else {
              expect(records).toEqual([]);
            }
          }
        },
      ),
      PROPERTY_RUNS,
    );
  });

  it('regressions: an 8- or 9-character ID number is refused with its FAILED record, a BigInt value without one', async () => {
    for (const [businessNo, idNumber] of [
      ['SHORT-8', '11010119'],
      ['SHORT-9', '110101199'],
    ]) {
      const error = await expectError(
        s.signing.sign(s.request({ businessNo, borrower: { ...BORROWER, idNumber: idNumber! } })),
        'TEMPLATE_VALUE_INVALID',
      );
      expect(error).toBeInstanceOf(SigningRefusedError);
      const [record] = await s.signing.find({ businessNo: businessNo! });
      expect(record).toMatchObject({ status: 'FAILED', customer: { maskedIdNumber: '*'.repeat(idNumber!.length) } });
    }
    const request = s.request({ businessNo: 'BIGINT' });
    const error = await expectError(
      s.signing.sign({ ...request, values: { ...request.values, loan: { amount: 50_000n } } }),
      'INVALID_INPUT',
    );
    expect(error.message).toMatch(/— values: loan\.amount is a bigint/);
    expect(await s.signing.find({ businessNo: 'BIGINT' })).toEqual([]);
  });
});

describe('vendor callbacks and record queries: any vendor id, any body, any id', () => {
  let s: SigningSetup;
  let recordId: string;
  beforeAll(async () => {
    s = await setupSigning();
    recordId = (await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'CB-1' }))).id;
    await s.drain();
  });

  const vendorId = fc.oneof(fc.constantFrom('memory', ...PROTOTYPE_KEYS), fc.string({ maxLength: 20 }), anyInput);
  const callback = fc.oneof(
    anyInput,
    fc.record({ headers: fc.dictionary(fc.string(), fc.string()), rawBody: fc.oneof(fc.string(), anyInput) }),
  );

  it('handleVendorCallback never applies anything unauthenticated (property)', async () => {
    const audit = async () => (await s.persistence.transaction((tx) => tx.audit.list(recordId))).length;
    const before = await audit();
    await fc.assert(
      fc.asyncProperty(vendorId, callback, async (vendor, body) => {
        const error = await s.signing.handleVendorCallback(vendor as string, body as never).then(
          (result) => expect.unreachable(`accepted ${JSON.stringify(result)}`),
          (e: unknown) => e,
        );
        expect(error, String(error)).toBeInstanceOf(SealflowError);
        expect(['NOT_FOUND', 'CALLBACK_REJECTED', 'INVALID_INPUT']).toContain((error as SealflowError).code);
      }),
      PROPERTY_RUNS,
    );
    expect(await audit()).toBe(before);
  });

  it('a callback addressed to a prototype key is an unknown vendor', async () => {
    for (const vendor of PROTOTYPE_KEYS) {
      await expectError(s.signing.handleVendorCallback(vendor, { headers: {}, rawBody: '{}' } as never), 'NOT_FOUND');
    }
  });

  it('get, download, signerUrl, resign and verifyEvidence with any id (property)', async () => {
    // The real record is the expensive case (evidence is verified, documents read); it comes up one time in 20.
    const id = fc.oneof(
      { arbitrary: fc.constant(recordId), weight: 1 },
      { arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, ''), weight: 4 },
      { arbitrary: fc.string({ maxLength: 30 }), weight: 7 },
      { arbitrary: anyInput, weight: 8 },
    );
    await fc.assert(
      fc.asyncProperty(id, fc.oneof(fc.constantFrom('borrower'), anyInput), async (someId, role) => {
        const calls = [
          () => s.signing.get(someId as string),
          () => s.signing.download(someId as string),
          () => s.signing.signerUrl(someId as string, role as string),
          () => s.signing.resign(someId as string, { id: 'ops' }),
          () => s.signing.verifyEvidence(someId as string),
          () => s.signing.find({ businessNo: someId as string, limit: 5 }),
        ];
        for (const call of calls) {
          await call().catch((error: unknown) => {
            expect(error, String(error)).toBeInstanceOf(SealflowError);
            expect((error as SealflowError).code).toMatch(/^[A-Z][A-Z_]+$/);
          });
        }
      }),
      PROPERTY_RUNS,
    );
  });
});
