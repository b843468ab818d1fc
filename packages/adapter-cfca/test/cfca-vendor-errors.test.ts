/**
 * Bad input at the vendor level, each refused with a typed error whose message says what to do and carries no
 * personal data: a request signed with the wrong certificate, a `data` changed after signing, a stale txTime, a
 * contract number 安心签 does not know, an SMS code that is wrong, expired or malformed.
 */
import { createManualClock } from '@sealflow/core/memory';
import { NotFoundError, SealflowError } from '@sealflow/core';
import axios from 'axios';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CFCA_CODES } from '../src/testing/index.js';
import { makePlatformKey } from './emulator-support.js';
import { vendorWorld } from './vendor-support.js';

const emulatorClock = createManualClock(Date.now());
const world = vendorWorld({ clock: emulatorClock });
const { emulator } = world;
const server = setupServer(...emulator.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

const stranger = { kind: 'person' as const, name: '李四', idNumber: '110101199003071234', mobile: '13600002222' };

async function refusal(promise: Promise<unknown>): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealflowError);
  return error as SealflowError;
}

function expectMasked(error: SealflowError): void {
  const text = `${error.message} ${JSON.stringify(error.details)}`;
  for (const secret of [stranger.name, stranger.idNumber, stranger.mobile]) expect(text).not.toContain(secret);
}

describe('the request signature', () => {
  it('signed with a certificate 安心签 does not have for the platform: refused, not retryable', async () => {
    const other = makePlatformKey('AnxinSign@另一家公司@91110000MA00000000@1');
    const vendor = world.vendor({ signer: { key: other.keyPem, certificate: other.certificatePem } });
    const error = await refusal(vendor.accountOf(stranger));
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect(error.details?.vendorCode).toBe(CFCA_CODES.SIGNATURE_INVALID);
    expectMasked(error);
  });

  it('data changed after it was signed (a proxy re-encoding it): refused', async () => {
    const http = axios.create();
    http.interceptors.request.use((config) => {
      const form = new URLSearchParams(Buffer.from(config.data as Buffer).toString('utf8'));
      form.set('data', form.get('data')!.replace('"notSendPwd":1', '"notSendPwd":0'));
      config.data = Buffer.from(form.toString());
      return config;
    });
    const vendor = world.vendor({ axios: http });
    const error = await refusal(vendor.accountOf(stranger));
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect(error.details?.vendorCode).toBe(CFCA_CODES.SIGNATURE_INVALID);
    expectMasked(error);
  });

  it('a txTime far from 安心签’s clock (the server clock is wrong): refused', async () => {
    const vendor = world.vendor({ clock: createManualClock(emulatorClock.now() - 3_600_000) });
    const error = await refusal(vendor.accountOf(stranger));
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect(error.details?.vendorCode).toBe(CFCA_CODES.TX_TIME_INVALID);
  });
});

describe('contracts 安心签 does not know', () => {
  it('downloading an unknown contract number is NOT_FOUND; a create key that made nothing finds nothing', async () => {
    const vendor = world.vendor();
    const error = await refusal(vendor.client.download('JK20260601000000999'));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toContain('check the contract number');
    expect(await vendor.findFlow!({ createKey: 'never-used', businessNo: 'LN-0' }, { idempotencyKey: 'f' })).toBeNull();
    const unknown = await refusal(vendor.getFlow('SF00000000000000000000000', { idempotencyKey: 'g' }));
    expect(unknown).toBeInstanceOf(NotFoundError);
  });
});

describe('the authorisation SMS code', () => {
  it('a wrong code is refused and the party is not authorised; the right one still works', async () => {
    const vendor = world.vendor();
    const userId = await vendor.accountOf(stranger);
    await vendor.sendProxySignCode({ userId, projectCode: 'P-WRONG' });
    const right = emulator.lastCheckCode(userId, 'P-WRONG')!;
    const wrong = right === '000000' ? '111111' : '000000';
    const error = await refusal(vendor.confirmProxySignCode({ userId, projectCode: 'P-WRONG', checkCode: wrong }));
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect(error.details?.vendorCode).toBe(CFCA_CODES.CHECK_CODE_WRONG);
    expectMasked(error);
    expect(emulator.isAuthorized(userId, 'P-WRONG')).toBe(false);
    await vendor.confirmProxySignCode({ userId, projectCode: 'P-WRONG', checkCode: right });
    expect(emulator.isAuthorized(userId, 'P-WRONG')).toBe(true);
  });

  it('an expired code is refused; a new SMS gives a code that works', async () => {
    const vendor = world.vendor();
    const userId = await vendor.accountOf(stranger);
    await vendor.sendProxySignCode({ userId, projectCode: 'P-LATE' });
    const code = emulator.lastCheckCode(userId, 'P-LATE')!;
    emulatorClock.advance(6 * 60_000);
    const error = await refusal(vendor.confirmProxySignCode({ userId, projectCode: 'P-LATE', checkCode: code }));
    expect(error.details?.vendorCode).toBe(CFCA_CODES.CHECK_CODE_EXPIRED);
    expect(emulator.isAuthorized(userId, 'P-LATE')).toBe(false);
    await vendor.sendProxySignCode({ userId, projectCode: 'P-LATE' });
    await vendor.confirmProxySignCode({
      userId,
      projectCode: 'P-LATE',
      checkCode: emulator.lastCheckCode(userId, 'P-LATE')!,
    });
    expect(emulator.isAuthorized(userId, 'P-LATE')).toBe(true);
  });

  it('a code that is not digits is refused before 安心签 is asked', async () => {
    const vendor = world.vendor();
    const error = await refusal(
      vendor.confirmProxySignCode({ userId: world.borrowerUserId, projectCode: 'P', checkCode: '12ab' }),
    );
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('SMS');
  });
});
