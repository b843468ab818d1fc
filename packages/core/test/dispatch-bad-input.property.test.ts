/**
 * `sealflow.dispatch` under generated bad input: every command and query of applications, offers, institutions (with
 * the ledger's top-ups, transfers and movement pages), complaints and ratings, called with arguments drawn from real
 * ids, valid inputs with one field replaced, and anything at all. Each call settles within its bound with a result
 * or a `SealflowError` with a stable code; the workflows the calls started run without a raw error; afterwards a
 * valid application still goes all the way to dispatch and every institution's ledger still adds up.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  answerOrTypedError,
  assertTypedError,
  bounded,
  countInputs,
  propertyRuns,
} from '../../../reliability/property.js';
import { createSealflow, type DispatchActor, type Sealflow, silentLogger } from '../src/index.js';
import { createManualClock, createMemoryNotifier, createMemorySigningVendor } from '../src/memory/index.js';
import { PROTOTYPE_KEYS, anyValue } from './bad-input-fixtures.js';
import {
  admin,
  COMPLETE,
  cm,
  FIGURES,
  followUp,
  PRODUCTS,
  reviewer,
  service,
  settler,
  supervisor,
} from './dispatch-application-fixtures.js';
import { BORROWER, creditCode, FUNDER, HASH_KEY, ORGANIZATIONS, SEALS } from './signing-fixtures.js';

const INSTITUTIONS = [
  { id: FUNDER.id, name: FUNDER.name, creditCode: FUNDER.creditCode, sealId: 'funder-seal' },
  { id: 'inst-b', name: '乙小贷公司', creditCode: creditCode('91310000MA1B00000') },
  { id: 'inst-c', name: '丙小贷公司', creditCode: creditCode('91310000MA1C00000') },
];
const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});
const ACTORS: DispatchActor[] = [
  admin,
  cm,
  reviewer,
  service,
  supervisor,
  followUp,
  settler,
  ...INSTITUTIONS.map((i) => staffOf(i.id)),
];

let applicationSeq = 0;
const openInput = () => ({
  applicationNumber: `SQ-P-${++applicationSeq}`,
  customer: BORROWER,
  productCode: 'HOUSE',
  amountFen: 30_000_000,
  region: '310000',
  businessCategory: 'mortgage',
});

interface Fixture {
  sealflow: Sealflow;
  drain(): Promise<void>;
  ids: string[];
}

async function setup(): Promise<Fixture> {
  const clock = createManualClock(Date.UTC(2026, 10, 30, 2));
  const sealflow = await createSealflow({
    vendors: { memory: createMemorySigningVendor({ clock }) },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    seals: SEALS,
    clock,
    logger: silentLogger,
    start: false,
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier: createMemoryNotifier() },
  });
  const dispatch = sealflow.dispatch!;
  const drain = async () => {
    for (let i = 0; i < 30; i++) {
      const pass = await sealflow.runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
  };
  for (const profile of INSTITUTIONS) {
    await dispatch.institutions.register(admin, {
      ...profile,
      regions: ['310000'],
      categories: ['mortgage'],
      capacity: 10,
    });
    await dispatch.institutions.topUp(admin, {
      institutionId: profile.id,
      account: 'deposit',
      amountFen: 900_000_000,
      key: `seed:${profile.id}`,
    });
  }
  const id = await passedApplication(sealflow, drain);
  const view = await dispatch.offers.get(`dispatch:${id}:1`, followUp);
  await dispatch.complaints.receive(service, {
    complaintNo: 'TS-0001',
    subject: '放款后被多收服务费',
    content: '客户反映机构多收了服务费。',
    contact: { name: BORROWER.name, mobile: BORROWER.mobile },
    customerId: 'cust-001',
    applicationId: id,
    institutionId: FUNDER.id,
  });
  const ids = [
    id,
    `dispatch:${id}:1`,
    'TS-0001',
    ...INSTITUTIONS.map((i) => i.id),
    ...view.offers.map((o) => o.offerId),
  ];
  return { sealflow, drain, ids };
}

/** A new application taken through registration, materials and review to a pass, and its dispatch started. */
async function passedApplication(sealflow: Sealflow, drain: () => Promise<void>): Promise<string> {
  const applications = sealflow.dispatch!.applications;
  const opened = await applications.open(cm, openInput());
  const id = opened.applicationId;
  await applications.registerCustomer(cm, id, BORROWER);
  await applications.submitMaterials(cm, id, COMPLETE);
  await applications.confirmProduct(cm, id);
  await applications.submitForReview(cm, id);
  await applications.pass(reviewer, id);
  await drain();
  return id;
}

/** Valid arguments of the commands that take an object, for a generator to break one field of. */
function samples(f: Fixture): Record<string, unknown>[] {
  const [applicationId] = f.ids;
  return [
    openInput(),
    BORROWER,
    { institutionId: FUNDER.id, account: 'deposit', amountFen: 100, key: 'k-1' },
    { institutionId: FUNDER.id, from: 'deposit', to: 'guarantee', amountFen: 100, key: 'k-2' },
    { id: 'inst-new', name: '新机构', creditCode: creditCode('91310000MA1E00000'), regions: ['310000'] },
    { applicationId, requestedAmountFen: 30_000_000, region: '310000', businessCategory: 'mortgage' },
    { complaintNo: 'TS-0002', subject: '催收', content: '电话太多', contact: { name: '李四', mobile: '13800001111' } },
    { side: 'platform', score: 5, comment: '' },
    { limit: 10, cursor: '' },
    FIGURES,
    { ...COMPLETE[0] },
    { at: 0, channel: 'app', documentVersionsShown: [] },
  ];
}

function argument(f: Fixture) {
  const anything = anyValue({ withTypedArray: true });
  const broken = fc
    .tuple(fc.constantFrom(...samples(f)), fc.string({ maxLength: 12 }), fc.oneof(anything, fc.string()))
    .map(([sample, key, value]) => {
      const copy = structuredClone(sample);
      const keys = Object.keys(copy);
      const target = keys.length && key.length % 2 === 0 ? keys[key.length % keys.length]! : key;
      Object.defineProperty(copy, target, { value, enumerable: true, configurable: true, writable: true });
      return copy;
    });
  return fc.oneof(
    { arbitrary: fc.constantFrom(...ACTORS), weight: 4 },
    { arbitrary: fc.constantFrom(...f.ids), weight: 4 },
    { arbitrary: fc.constantFrom(...samples(f)), weight: 2 },
    { arbitrary: broken, weight: 3 },
    {
      arbitrary: fc.constantFrom(
        ...PROTOTYPE_KEYS,
        '',
        'x'.repeat(5_000),
        -1,
        0,
        Number.NaN,
        2 ** 60,
        { id: '', roles: [] },
        { id: 'x', roles: ['platform-admin', 'institution'] },
        { id: 'x', roles: ['institution'], institutionId: '__proto__' },
      ),
      weight: 2,
    },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    { arbitrary: anything, weight: 2 },
  );
}

/** Every method of the dispatch facade, by dotted name. */
function methods(sealflow: Sealflow): Array<[string, (...args: unknown[]) => unknown]> {
  const dispatch = sealflow.dispatch!;
  const list: Array<[string, (...args: unknown[]) => unknown]> = [
    ['signLoanContract', dispatch.signLoanContract.bind(dispatch) as (...args: unknown[]) => unknown],
  ];
  for (const group of ['applications', 'offers', 'institutions', 'complaints', 'ratings'] as const) {
    const target = dispatch[group] as unknown as Record<string, unknown>;
    for (const name of Object.keys(target)) {
      const fn = target[name];
      if (typeof fn === 'function') list.push([`${group}.${name}`, fn.bind(target) as (...args: unknown[]) => unknown]);
    }
  }
  return list;
}

describe('sealflow.dispatch: any command or query with any arguments', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await setup();
  });

  it('reaches every service of the facade', () => {
    const names = methods(f.sealflow).map(([name]) => name);
    for (const name of ['applications.open', 'offers.accept', 'institutions.transfer', 'complaints.decide']) {
      expect(names).toContain(name);
    }
    expect(names.length).toBeGreaterThan(40);
  });

  it('answers with a result or a typed error, and its workflows run on (property)', async ({ task }) => {
    const all = methods(f.sealflow);
    const runs = propertyRuns();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...all),
        fc.array(argument(f), { minLength: 0, maxLength: 5 }),
        fc.boolean(),
        fc.constantFrom(...ACTORS),
        fc.constantFrom(...f.ids),
        async ([name, fn], generated, shaped, actor, id) => {
          // Half the calls keep the shape the method expects (the actor first, or last for offers, then an id), so
          // the generated values get past the actor check and reach the commands' own validation and rules.
          const args = !shaped
            ? generated
            : name.startsWith('offers.')
              ? [id, ...generated.slice(0, fn.length - 2), actor]
              : [actor, id, ...generated];
          const answer = await answerOrTypedError(`dispatch.${name}`, () => fn(...args) as Promise<unknown>);
          if (answer !== undefined) answered++;
          try {
            await bounded('the runtime after the call', () => f.drain());
          } catch (error) {
            assertTypedError(error, `the runtime after dispatch.${name}`);
          }
        },
      ),
      { numRuns: runs },
    );
    countInputs(task, runs);
    // Real ids and valid samples are in the mix: a run where nothing is ever accepted tests only the refusals.
    if (runs >= 100) expect(answered).toBeGreaterThan(0);
    console.info(`dispatch: ${answered} of ${runs} generated calls answered, the rest refused with typed errors`);
  });

  it('refuses signLoanContract and complaints.contact for ids that are not strings, where printing them in the message used to throw', async () => {
    const error = await f.sealflow.dispatch!.signLoanContract(admin, { toString: 0 } as never).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('INVALID_INPUT');
    const contact = await f.sealflow
      .dispatch!.complaints.contact(admin, Object.create(null) as never)
      .catch((e: unknown) => e);
    expect((contact as { code?: string }).code).toBe('INVALID_INPUT');
  });

  it('still takes a valid application to dispatch, and every ledger still adds up', async () => {
    const id = await passedApplication(f.sealflow, f.drain);
    const view = await f.sealflow.dispatch!.offers.get(`dispatch:${id}:1`, followUp);
    expect(view.offers.length).toBeGreaterThan(0);
    for (const { id: institutionId } of INSTITUTIONS) {
      const verification = await f.sealflow.dispatch!.institutions.verify(admin, institutionId);
      expect(verification, institutionId).toMatchObject({ ok: true });
    }
  });
});
