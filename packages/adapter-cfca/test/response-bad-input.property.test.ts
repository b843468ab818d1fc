/**
 * CFCA 安心签 under generated bad input. CFCA pushes no callbacks, so what arrives from outside is its answers and,
 * on the emulator's side, signed request bodies: any answer (status, JSON of any shape, CFCA's error form with any
 * members, bytes, a PDF or ZIP header) to a transaction or a download is a result or a typed error; any signature,
 * data and certificate given to `verifyCfcaSignature` is a verdict, never a throw, and changed data never passes.
 */
import { isSealflowError } from '@sealflow/core';
import axios, { type AxiosAdapter } from 'axios';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerOrTypedError, bounded, countInputs, propertyRuns } from '../../../reliability/property.js';
import { createCfcaClient, signCfcaData, verifyCfcaSignature } from '../src/index.js';
import { createCfcaTestCertificate } from '../src/client/test-certificates.js';

const PLAT_ID = '3FEC02111C593DECE05312016B0A418F';
const platform = createCfcaTestCertificate({ commonName: 'AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1' });
const other = createCfcaTestCertificate({ commonName: 'AnxinSign@另一家公司@91310000MA1K00001X@1' });

const anything = fc.anything({
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'head', 'retCode', 'errorCode')),
  maxDepth: 3,
  withNullPrototype: true,
});
const retCode = fc.oneof(fc.constantFrom('60000000', 60000000, '60000001', '60030201', '50000000', ''), anything);
const jsonAnswer = fc.oneof(
  fc.record({ head: fc.record({ retCode, retMessage: fc.oneof(fc.string(), anything) }, { requiredKeys: [] }) }),
  fc.record(
    {
      errorCode: fc.oneof(fc.constantFrom('60000001', '60030201', '60010001', '00000000'), anything),
      errorMessage: anything,
    },
    { requiredKeys: [] },
  ),
  anything,
);
const answerBytes = fc.oneof(
  jsonAnswer.map((value) => Buffer.from(JSON.stringify(value) ?? 'undefined')),
  fc.string({ maxLength: 80 }).map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.concat([Buffer.from('%PDF-1.7\n'), bytes])),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), bytes])),
);
const status = fc.constantFrom(200, 201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503, 0, 999);

/** A client whose every answer is the given status and bytes, without a network. */
function clientAnswering(answer: { status: number; body: Buffer }) {
  const adapter: AxiosAdapter = async (config) => ({
    data: answer.body.buffer.slice(answer.body.byteOffset, answer.body.byteOffset + answer.body.byteLength),
    status: answer.status,
    statusText: '',
    headers: {},
    config,
  });
  return createCfcaClient({
    baseUrl: 'https://127.0.0.1:9/FEP/',
    platId: PLAT_ID,
    tls: { cert: platform.certificatePem, key: platform.privateKeyPem },
    signer: { key: platform.privateKeyPem, certificate: platform.certificatePem },
    burst: 1_000_000,
    qps: 1_000_000,
    axios: axios.create({ adapter }),
  });
}

const person = { personName: '张三', identTypeCode: '0', identNo: '110101199003071234', mobilePhone: '13812345678' };

describe('CFCA answers: any status and body', () => {
  it('a transaction or download answers with the result or a typed error (property)', async ({ task }) => {
    const runs = propertyRuns();
    await fc.assert(
      fc.asyncProperty(
        status,
        answerBytes,
        fc.constantFrom('transaction', 'download', 'batchDownload'),
        async (code, body, call) => {
          const client = clientAnswering({ status: code, body });
          const result = await answerOrTypedError<unknown>(`CFCA ${call}`, () =>
            call === 'transaction'
              ? client.transaction('3001', { person })
              : call === 'download'
                ? client.download('C0001')
                : client.batchDownload(['C0001', 'C0002']),
          );
          if (result === undefined) return;
          if (call === 'transaction') {
            expect(String((result as { head: { retCode: unknown } }).head.retCode)).toBe('60000000');
          } else {
            expect(result).toBeInstanceOf(Uint8Array);
          }
        },
      ),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('refuses any transaction code and body with a typed error before sending (property)', async ({ task }) => {
    const runs = propertyRuns();
    const client = clientAnswering({ status: 200, body: Buffer.from('{"head":{"retCode":"60000000"}}') });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('3001', '3203', '300', '30011', '__proto__'), fc.string({ maxLength: 6 })),
        fc.oneof(fc.record({ person: fc.oneof(fc.constant(person), anything) }), anything),
        fc.oneof(fc.constant(undefined), fc.record({ contractFile: fc.record({ bytes: fc.uint8Array() }) }), anything),
        async (txCode, body, options) => {
          await answerOrTypedError('CFCA transaction', () =>
            client.transaction(txCode, body as Record<string, unknown>, options as never),
          );
        },
      ),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });
});

describe('CFCA request bodies with prototype-named members', () => {
  it('sends a body with a member named __proto__ or constructor, where masking used to throw a TypeError', async () => {
    const client = clientAnswering({ status: 200, body: Buffer.from('{"head":{"retCode":"60000000"}}') });
    for (const text of ['{"__proto__":"13812345678"}', '{"constructor":"13812345678"}']) {
      const answer = await client.transaction('3001', { person: JSON.parse(text) });
      expect(answer.head.retCode).toBe('60000000');
    }
  });
});

describe('verifyCfcaSignature: any signature, data and certificate', () => {
  const data = JSON.stringify({ head: { txTime: '20270101003005' }, person });
  const genuine = signCfcaData(data, { key: platform.privateKeyPem, certificate: platform.certificatePem });
  const der = Buffer.from(genuine, 'base64');

  it('gives a verdict and never passes changed data or another signer (property)', async ({ task }) => {
    const runs = propertyRuns();
    const damaged = fc
      .array(fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      })
      .map((edits) => {
        const copy = Buffer.from(der);
        for (const [at, xor] of edits) copy[at]! ^= xor;
        return copy.toString('base64');
      });
    const truncated = fc.nat({ max: der.length - 1 }).map((n) => der.subarray(0, n).toString('base64'));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          damaged,
          truncated,
          fc.base64String({ maxLength: 200 }),
          fc.string({ maxLength: 50 }),
          fc.constant(genuine),
        ),
        fc.oneof(fc.constant(data), fc.string({ maxLength: 50 }), fc.uint8Array({ maxLength: 50 })),
        fc.constantFrom(
          undefined,
          platform.certificatePem,
          other.certificatePem,
          'not a certificate',
          new Uint8Array(3),
        ),
        async (signature, signed, certificate) => {
          const verdict = await bounded('verifyCfcaSignature', () =>
            verifyCfcaSignature({ data: signed, signature, ...(certificate === undefined ? {} : { certificate }) }),
          );
          expect(typeof verdict.ok).toBe('boolean');
          if (!verdict.ok) expect(verdict.message.length).toBeGreaterThan(10);
          const changedData = typeof signed !== 'string' || signed !== data;
          if (changedData) expect(verdict.ok, 'changed data passed').toBe(false);
          if (certificate === other.certificatePem) expect(verdict.ok, 'another signer passed').toBe(false);
        },
      ),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('answers inputs of the wrong types with a verdict or a typed error (property)', async ({ task }) => {
    const runs = propertyRuns();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ data: anything, signature: fc.oneof(fc.constant(genuine), anything), certificate: anything }),
          anything,
        ),
        async (input) => {
          try {
            const verdict = verifyCfcaSignature(input as never);
            expect(typeof verdict.ok).toBe('boolean');
          } catch (error) {
            expect(isSealflowError(error), String(error)).toBe(true);
          }
        },
      ),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('still passes the genuine signature', () => {
    expect(verifyCfcaSignature({ data, signature: genuine, certificate: platform.certificatePem }).ok).toBe(true);
  });
});
