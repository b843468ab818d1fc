import { describe, expect, it } from 'vitest';
import {
  createSigningGateway,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
  SealflowError,
  type SignerSpec,
  type SigningVendor,
  TimeoutError,
  ValidationError,
} from '../src/index.js';
import { createManualClock, createMemoryLogger, createMemorySigningVendor } from '../src/memory/index.js';

const PDF = new TextEncoder().encode('%PDF-1.7\n%%EOF\n');
const idNumber = withIdNumberCheckChar;
const NAME = '欧阳娜娜';
const ID = idNumber('11010519491231002');
const MOBILE = '13912345678';

const borrower: SignerSpec = {
  role: 'borrower',
  kind: 'person',
  name: NAME,
  idNumber: ID,
  mobile: MOBILE,
  autoSign: true,
  order: 1,
  placements: [{ documentKey: 'contract', page: 0, x: 100, y: 100 }],
};
const platform: SignerSpec = {
  role: 'platform',
  kind: 'organization',
  name: '某某消费金融股份有限公司',
  idNumber: withCreditCodeCheckChar('91310000MA1FL0000'),
  sealId: 'platform-seal',
  autoSign: true,
  order: 2,
  placements: [{ documentKey: 'contract', field: 'lenderSeal' }],
};

const ctx = (idempotencyKey: string) => ({ idempotencyKey });
const retryable = (message = 'HTTP 503 from vendor') =>
  new SealflowError('VENDOR_UNAVAILABLE', message, { retryable: true, details: { vendorCode: '503' } });
const refused = () => new SealflowError('VENDOR_REJECTED', 'seal not authorised', { retryable: false });

/** A gateway whose sleeps are recorded instead of waited, with a fixed jitter. */
function harness(vendor: SigningVendor, retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number }) {
  const delays: number[] = [];
  const logger = createMemoryLogger();
  const gateway = createSigningGateway(vendor, {
    logger,
    retry,
    random: () => 0.5,
    sleep: async (ms) => void delays.push(ms),
  });
  return { gateway, delays, logger };
}

async function uploaded(vendor: SigningVendor) {
  return vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, ctx('upload'));
}

async function flowInput(vendor: SigningVendor, signers: SignerSpec[] = [borrower, platform]) {
  return { title: `${NAME}的借款合同`, businessNo: 'LN0001', documents: [await uploaded(vendor)], signers };
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as SealflowError,
  );

describe('createSigningGateway: the vendor object', () => {
  const capabilities = createMemorySigningVendor().capabilities;

  it('lists every missing required method at once', () => {
    const vendor = { id: 'broken', capabilities, uploadDocument: async () => ({}) } as unknown as SigningVendor;
    const error = (() => {
      try {
        createSigningGateway(vendor);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error?.message).toContain('missing required method(s) createFlow, getFlow, downloadSigned, cancelFlow');
  });

  it('requires the optional methods its declared capabilities promise', () => {
    const { fillTemplate, appendSigner, parseCallback, ...rest } = createMemorySigningVendor();
    void [fillTemplate, appendSigner, parseCallback];
    expect(() => createSigningGateway(rest as SigningVendor)).toThrow(
      /declares vendorTemplates but has no fillTemplate\(\); declares appendSigners but has no appendSigner\(\); declares callbacks but has no parseCallback\(\)/,
    );
    const honest = {
      ...rest,
      capabilities: { ...capabilities, vendorTemplates: false, appendSigners: false, callbacks: false },
    };
    expect(() => createSigningGateway(honest as SigningVendor)).not.toThrow();
  });

  it('refuses incomplete capabilities', () => {
    const vendor = {
      ...createMemorySigningVendor(),
      capabilities: { personAutoSign: true },
    } as unknown as SigningVendor;
    expect(() => createSigningGateway(vendor)).toThrow(/capabilities: organizationAutoSeal/);
  });
});

describe('createSigningGateway: inputs', () => {
  it('refuses a bad ID number with the zod path, a masked message, and no vendor call', async () => {
    const vendor = createMemorySigningVendor();
    const { gateway } = harness(vendor);
    const badId = `${ID.slice(0, 17)}${ID.endsWith('0') ? '1' : '0'}`;
    const error = await rejection(
      gateway.createFlow(await flowInput(vendor, [{ ...borrower, idNumber: badId }, platform]), ctx('c')),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('flow.signers.0.idNumber');
    expect(error.message).not.toContain(badId);
    expect(vendor.calls.map((c) => c.method)).toEqual(['uploadDocument']);
  });

  it('names the path of each problem: placements, document keys, duplicate roles, mobile', async () => {
    const vendor = createMemorySigningVendor();
    const { gateway } = harness(vendor);
    const input = await flowInput(vendor, [
      { ...borrower, mobile: '1391234567', placements: [{ documentKey: 'loan', page: 0, x: 1, y: 1 }] },
      { ...platform, role: 'borrower', placements: [{ documentKey: 'contract', page: -1, x: 1, y: 1 }] },
    ]);
    const error = await rejection(gateway.createFlow(input, ctx('c')));
    expect(error.details?.paths).toEqual(
      expect.arrayContaining([
        'flow.signers.0.mobile',
        'flow.signers.0.placements.0.documentKey',
        'flow.signers.1.placements.0.page',
        'flow.signers.1.role',
      ]),
    );
  });

  it('requires a non-empty idempotency key on every call', async () => {
    const { gateway } = harness(createMemorySigningVendor());
    for (const context of [undefined, {}, { idempotencyKey: '' }, { idempotencyKey: '  ' }]) {
      const error = await rejection(gateway.getFlow('f1', context as never));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toContain('context.idempotencyKey');
      // The same readable wording as a signing request's, not zod's raw "expected string, received undefined".
      expect(error.message).not.toMatch(/received undefined|Invalid input/);
    }
    const missing = await rejection(gateway.getFlow('f1', {} as never));
    expect(missing.message).toContain('context.idempotencyKey is required');
  });

  it('refuses an upload that is not a PDF', async () => {
    const { gateway } = harness(createMemorySigningVendor());
    const error = await rejection(
      gateway.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: new Uint8Array([1, 2, 3]) }, ctx('u')),
    );
    expect(error.message).toContain('document.bytes: is not a PDF');
  });
});

describe('createSigningGateway: capabilities', () => {
  it('refuses an auto-signed person when personAutoSign is missing, saying so, before calling the vendor', async () => {
    const vendor = createMemorySigningVendor({ capabilities: { personAutoSign: false } });
    const { gateway } = harness(vendor);
    const error = await rejection(gateway.createFlow(await flowInput(vendor), ctx('c')));
    expect(error.code).toBe('VENDOR_UNSUPPORTED');
    expect(error.message).toContain('personAutoSign');
    expect(error.retryable).toBe(false);
    expect(vendor.calls.some((c) => c.method === 'createFlow')).toBe(false);
  });

  it('refuses more signers than maxSignersPerFlow, and undeclared optional methods', async () => {
    const vendor = createMemorySigningVendor({
      capabilities: { maxSignersPerFlow: 1, appendSigners: false, vendorTemplates: false, callbacks: false },
    });
    const { gateway } = harness(vendor);
    const tooMany = await rejection(gateway.createFlow(await flowInput(vendor), ctx('c')));
    expect(tooMany).toMatchObject({
      code: 'VENDOR_UNSUPPORTED',
      details: { capability: 'maxSignersPerFlow', limit: 1 },
    });
    expect((await rejection(gateway.appendSigner('f1', platform, ctx('a')))).message).toContain('appendSigners');
    expect(
      (
        await rejection(
          gateway.fillTemplate({ key: 'k', fileName: 'f.pdf', vendorTemplateId: 't', values: {} }, ctx('f')),
        )
      ).message,
    ).toContain('vendorTemplates');
    expect((await rejection(gateway.parseCallback({ headers: {}, query: {}, rawBody: '' }))).code).toBe(
      'VENDOR_UNSUPPORTED',
    );
    expect(vendor.calls.map((c) => c.method)).toEqual(['uploadDocument']);
  });
});

describe('createSigningGateway: outputs', () => {
  it('turns a malformed vendor reply into VENDOR_BAD_RESPONSE, not retried', async () => {
    const memory = createMemorySigningVendor();
    let calls = 0;
    const vendor: SigningVendor = {
      ...memory,
      getFlow: async () => {
        calls++;
        return { flowId: 'f1', status: 'done', signers: [] } as never;
      },
    };
    const error = await rejection(harness(vendor).gateway.getFlow('f1', ctx('g')));
    expect(error).toMatchObject({ code: 'VENDOR_BAD_RESPONSE', retryable: false, details: { vendor: 'memory' } });
    expect(error.message).toContain('status');
    expect(calls).toBe(1);
  });

  it('refuses a reply about another flow than the one asked for', async () => {
    const memory = createMemorySigningVendor();
    const vendor: SigningVendor = {
      ...memory,
      getFlow: async () => ({ flowId: 'someone-else', status: 'signing', signers: [] }),
    };
    expect((await rejection(harness(vendor).gateway.getFlow('f1', ctx('g')))).code).toBe('VENDOR_BAD_RESPONSE');
  });
});

describe('createSigningGateway: retries', () => {
  it('retries retryable errors with the same key and capped exponential backoff with jitter', async () => {
    const vendor = createMemorySigningVendor({ failures: { createFlow: [retryable(), retryable(), retryable()] } });
    const { gateway, delays } = harness(vendor, { attempts: 4, baseDelayMs: 1000, maxDelayMs: 1500 });
    const flow = await gateway.createFlow(await flowInput(vendor), ctx('create-1'));
    expect(flow.status).toBe('completed');
    // Steps 1000, 2000→1500, 4000→1500; equal jitter at random 0.5 gives ¾ of each.
    expect(delays).toEqual([750, 1125, 1125]);
    const creates = vendor.calls.filter((c) => c.method === 'createFlow');
    expect(creates.map((c) => c.idempotencyKey)).toEqual(['create-1', 'create-1', 'create-1', 'create-1']);
    expect(vendor.flowCount()).toBe(1);
  });

  it('uses the defaults: 3 tries, 200 ms base, and gives up with the last error', async () => {
    const vendor = createMemorySigningVendor({
      failures: { getFlow: [retryable('a'), retryable('b'), retryable('c')] },
    });
    const { gateway, delays } = harness(vendor);
    const error = await rejection(gateway.getFlow('f1', ctx('g')));
    expect(error.message).toBe('c');
    expect(delays).toEqual([150, 300]);
  });

  it('never retries a non-retryable error', async () => {
    const vendor = createMemorySigningVendor({ failures: { createFlow: [refused()] } });
    const { gateway, delays } = harness(vendor);
    expect((await rejection(gateway.createFlow(await flowInput(vendor), ctx('c')))).code).toBe('VENDOR_REJECTED');
    expect(vendor.calls.filter((c) => c.method === 'createFlow')).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('stops retrying once the caller aborts', async () => {
    const vendor = createMemorySigningVendor({ failures: { getFlow: [retryable(), retryable()] } });
    const controller = new AbortController();
    const gateway = createSigningGateway(vendor, {
      sleep: async () => {
        controller.abort();
        throw new Error('aborted');
      },
    });
    const error = await rejection(gateway.getFlow('f1', { idempotencyKey: 'g', signal: controller.signal }));
    expect(error.code).toBe('VENDOR_UNAVAILABLE');
    expect(vendor.calls).toHaveLength(1);
  });

  it('normalises anything else thrown into a retryable VENDOR_FAILURE naming the vendor', async () => {
    const vendor = createMemorySigningVendor({ failures: { getFlow: [new TypeError('fetch failed'), 'weird'] } });
    const { gateway } = harness(vendor, { attempts: 2 });
    const error = await rejection(gateway.getFlow('f1', ctx('g')));
    expect(error).toBeInstanceOf(SealflowError);
    expect(error).toMatchObject({
      code: 'VENDOR_FAILURE',
      retryable: true,
      details: { vendor: 'memory', method: 'getFlow' },
    });
    expect(error.message).toBe('memory.getFlow failed: weird');
    expect(vendor.calls).toHaveLength(2);
  });
});

describe('createSigningGateway: timeouts', () => {
  /** A vendor whose getFlow never answers on the tries `hang` picks (and ignores its signal, as a stuck SDK would). */
  function hangingVendor(hang: (attempt: number) => boolean) {
    const memory = createMemorySigningVendor();
    const tries: { idempotencyKey: string; signal: AbortSignal | undefined }[] = [];
    const vendor: SigningVendor = {
      ...memory,
      getFlow: async (flowId, context) => {
        tries.push({ idempotencyKey: context.idempotencyKey, signal: context.signal });
        if (hang(tries.length)) await new Promise(() => {});
        return { flowId, status: 'signing', signers: [] };
      },
    };
    return { vendor, tries };
  }

  /** Let the gateway reach its next await, then move the manual clock. */
  async function advance(clock: ReturnType<typeof createManualClock>, ms: number) {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    clock.advance(ms);
  }

  it('gives up on a try that does not answer, aborts its signal and retries with the same key', async () => {
    const { vendor, tries } = hangingVendor((attempt) => attempt === 1);
    const clock = createManualClock();
    const logger = createMemoryLogger();
    const gateway = createSigningGateway(vendor, {
      logger,
      clock,
      scheduler: clock,
      timeoutMs: 1_000,
      random: () => 0.5,
      retry: { baseDelayMs: 200 },
    });
    const caller = new AbortController();
    const flow = gateway.getFlow('f1', { idempotencyKey: 'poll-1', signal: caller.signal });
    await advance(clock, 999);
    expect(tries).toHaveLength(1);
    expect(tries[0]!.signal?.aborted).toBe(false);
    await advance(clock, 1);
    expect(tries[0]!.signal?.aborted).toBe(true);
    expect(tries[0]!.signal?.reason).toMatchObject({ code: 'VENDOR_TIMEOUT', retryable: true });
    expect(caller.signal.aborted).toBe(false);
    await advance(clock, 150);
    expect(await flow).toMatchObject({ flowId: 'f1', status: 'signing' });
    expect(tries.map((t) => t.idempotencyKey)).toEqual(['poll-1', 'poll-1']);
    const outcomes = logger.records.filter((r) => r.message === 'vendor_call').map((r) => r.fields);
    expect(outcomes.map((f) => [f.outcome, f.code])).toEqual([
      ['retry', 'VENDOR_TIMEOUT'],
      ['ok', undefined],
    ]);
  });

  it('fails with a retryable TimeoutError once every try has timed out', async () => {
    const { vendor, tries } = hangingVendor(() => true);
    const clock = createManualClock();
    const gateway = createSigningGateway(vendor, {
      clock,
      scheduler: clock,
      timeoutMs: 500,
      retry: { attempts: 2 },
      sleep: async () => {},
    });
    const outcome = rejection(gateway.getFlow('f1', ctx('poll-2')));
    await advance(clock, 500);
    await advance(clock, 500);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      code: 'VENDOR_TIMEOUT',
      retryable: true,
      details: { vendor: 'memory', method: 'getFlow', timeoutMs: 500, attempt: 2 },
    });
    expect(error.message).toContain('500 ms');
    expect(tries).toHaveLength(2);
  });

  it('takes a per-method timeout over the default', async () => {
    const memory = createMemorySigningVendor();
    const vendor: SigningVendor = { ...memory, getFlow: () => new Promise(() => {}) };
    const clock = createManualClock();
    const gateway = createSigningGateway(vendor, {
      scheduler: clock,
      timeoutMs: 10_000,
      methodTimeoutMs: { getFlow: 50 },
      retry: { attempts: 1 },
    });
    const outcome = rejection(gateway.getFlow('f1', ctx('poll-3')));
    await advance(clock, 50);
    expect(await outcome).toMatchObject({ code: 'VENDOR_TIMEOUT', details: { timeoutMs: 50 } });
  });

  it('hands the caller’s abort to the vendor and stops waiting for a vendor that ignores it', async () => {
    const { vendor, tries } = hangingVendor(() => true);
    const clock = createManualClock();
    const gateway = createSigningGateway(vendor, { scheduler: clock });
    const caller = new AbortController();
    const outcome = rejection(gateway.getFlow('f1', { idempotencyKey: 'poll-4', signal: caller.signal }));
    await new Promise((resolve) => setImmediate(resolve));
    caller.abort(new Error('the workflow gave up'));
    expect(tries[0]!.signal?.aborted).toBe(true);
    // The clock never moves: the call ends because the caller gave up, not by a timeout.
    expect(await outcome).toMatchObject({ code: 'VENDOR_ABORTED', retryable: false });
    expect(tries).toHaveLength(1);
    // A call made after the caller gave up does not reach the vendor at all.
    expect(await rejection(gateway.getFlow('f1', { idempotencyKey: 'poll-5', signal: caller.signal }))).toMatchObject({
      code: 'VENDOR_ABORTED',
    });
    expect(tries).toHaveLength(1);
  });

  it('refuses timeouts that are not positive numbers, and unknown methods', () => {
    const vendor = createMemorySigningVendor();
    expect(() => createSigningGateway(vendor, { timeoutMs: 0 })).toThrow(ValidationError);
    expect(() =>
      createSigningGateway(vendor, { methodTimeoutMs: { findFlow: 100, downloadSigned: 60_000 } }),
    ).not.toThrow();
    expect(() => createSigningGateway(vendor, { methodTimeoutMs: { getFlow: Number.NaN } })).toThrow(
      /methodTimeoutMs\.getFlow is NaN/,
    );
    expect(() =>
      createSigningGateway(vendor, { methodTimeoutMs: { downloadSign: 1 } as unknown as { getFlow: number } }),
    ).toThrow(/methodTimeoutMs\.downloadSign is not a vendor call/);
  });
});

describe('createSigningGateway: personal data', () => {
  it('never puts a name, ID number or mobile in logs or error messages, even when the vendor echoes them', async () => {
    const echo = `个人签署方${NAME}(${ID}, ${MOBILE})实名信息不一致`;
    const vendor = createMemorySigningVendor({
      failures: { createFlow: [new Error(echo), new SealflowError('VENDOR_REJECTED', echo, { retryable: false })] },
    });
    const { gateway, logger } = harness(vendor);
    const error = await rejection(gateway.createFlow(await flowInput(vendor), ctx('c')));
    for (const text of [error.message, String((error.cause as Error | undefined)?.message ?? ''), logger.text()]) {
      for (const secret of [NAME, ID, MOBILE]) expect(text).not.toContain(secret);
    }
    expect(error.message).toContain('欧***');
    expect(error.message).toContain('110105********');

    const first = await rejection(
      createSigningGateway(createMemorySigningVendor({ failures: { createFlow: [new Error(echo)] } }), {
        retry: { attempts: 1 },
      }).createFlow(await flowInput(vendor), ctx('c2')),
    );
    expect(first.code).toBe('VENDOR_FAILURE');
    expect(first.message).not.toContain(NAME);
    expect((first.cause as Error).stack).not.toContain(NAME);
  });

  it('logs vendor_call at debug with method, vendor, duration and outcome for each try', async () => {
    let now = 1_000;
    const vendor = createMemorySigningVendor({ failures: { createFlow: [retryable()] } });
    const slowVendor: SigningVendor = {
      ...vendor,
      createFlow: async (input, context) => {
        now += 40;
        return vendor.createFlow(input, context);
      },
    };
    const logger = createMemoryLogger();
    const gateway = createSigningGateway(slowVendor, { logger, clock: { now: () => now }, sleep: async () => {} });
    await gateway.createFlow(await flowInput(vendor), ctx('c'));
    const calls = logger.records.filter((r) => r.message === 'vendor_call');
    expect(calls.map((r) => [r.level, r.fields.method, r.fields.outcome, r.fields.durationMs])).toEqual([
      ['debug', 'createFlow', 'retry', 40],
      ['debug', 'createFlow', 'ok', 40],
    ]);
    expect(calls[0]?.fields).toMatchObject({
      vendor: 'memory',
      attempt: 1,
      code: 'VENDOR_UNAVAILABLE',
      idempotencyKey: 'c',
    });
    for (const secret of [NAME, ID, MOBILE]) expect(logger.text()).not.toContain(secret);
  });

  it('masks the reason a vendor gives for a flow', async () => {
    const memory = createMemorySigningVendor();
    const vendor: SigningVendor = {
      ...memory,
      getFlow: async (flowId) => ({ flowId, status: 'rejected', signers: [], reason: `用户 ${MOBILE} 拒签` }),
    };
    const flow = await harness(vendor).gateway.getFlow('f1', ctx('g'));
    expect(flow.reason).toBe('用户 139****5678 拒签');
  });
});
