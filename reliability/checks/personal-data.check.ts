/**
 * The personal-data scan. Representative flows run with known people — a signing that completes, one refused by the
 * real-name check, requests with bad values, vendor callbacks carrying a mobile, a loan application through
 * dispatch, a complaint whose text names the customer — through a memory logger, an event collector, a notifier, a
 * webhook receiver on loopback and the errors the calls throw. Every captured line and body is then searched for
 * the people's ID numbers, mobiles and names in plain text, and for anything shaped like an 18-digit ID number or a
 * mainland mobile at all. One hit fails the check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSealflow,
  dateInChina,
  type DispatchActor,
  type DomainEvent,
  type Sealflow,
  type SignRequest,
} from '../../packages/core/src/index.js';
import {
  createManualClock,
  createMemoryLogger,
  createMemoryNotifier,
  createMemorySigningVendor,
} from '../../packages/core/src/memory/index.js';
import { COMPLETE, PRODUCTS, cm, reviewer, service } from '../../packages/core/test/dispatch-application-fixtures.js';
import { startReceiver, type WebhookReceiver } from '../../packages/core/test/fixtures/webhook-receiver.js';
import {
  definitionWith,
  FUNDER,
  HASH_KEY,
  idNumber,
  ORGANIZATIONS,
  SEALS,
  TEMPLATE_CODES,
  UI_LOAN_SCENE,
} from '../../packages/core/test/signing-fixtures.js';
import { CONTRACT_PDF, editor, LEVELS, legalLee, riskRay } from '../../packages/core/test/template-fixtures.js';
import { countInputs } from '../property.js';

/** People only this check uses, so a hit cannot come from a constant elsewhere in the code. */
const PEOPLE = {
  signer: { name: '欧阳明远', idNumber: idNumber('44030519880214123'), mobile: '13760012345' },
  refused: { name: '司马静怡', idNumber: idNumber('32010219921130456'), mobile: '15987654321' },
  applicant: { name: '诸葛文昌', idNumber: idNumber('51010719850607789'), mobile: '18611112222' },
  complainant: { name: '上官婉清', idNumber: idNumber('33010619930808234'), mobile: '17722223333' },
};
const PLAIN = Object.values(PEOPLE).flatMap((p) => [p.idNumber, p.mobile, p.name]);
/** Anything shaped like personal data, whoever it belongs to (letters and digits around it make it something else). */
const SHAPES = [
  {
    what: 'an 18-digit ID number',
    pattern: /(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}[01]\d[0-3]\d{4}[0-9Xx](?![0-9A-Za-z])/g,
  },
  { what: 'a mobile number', pattern: /(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])/g },
];

interface Captured {
  where: string;
  text: string;
}

const captured: Captured[] = [];
const keep = (where: string, value: unknown) =>
  captured.push({
    where,
    text: typeof value === 'string' ? value : JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
  });
/** A refusal's message, code and details, as a host would log or return them. */
async function refusal(where: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const e = error as { code?: string; message?: string; details?: unknown };
    keep(`error from ${where}`, { code: e.code, message: e.message, details: e.details });
  }
}

describe('no personal data in logs, errors, events, notifications or webhooks', () => {
  const clock = createManualClock(Date.UTC(2026, 10, 30, 2));
  const logger = createMemoryLogger();
  const notifier = createMemoryNotifier();
  const events: DomainEvent[] = [];
  let receiver: WebhookReceiver;
  let sealflow: Sealflow;
  const drain = async () => {
    for (let i = 0; i < 40; i++) {
      const pass = await sealflow.runtime.runOnce({ limit: 50 });
      const sent = await sealflow.webhooks!.runOnce();
      if (Object.values(pass).every((n) => n === 0) && !sent) return;
    }
  };

  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    sealflow = await createSealflow({
      vendors: { memory: createMemorySigningVendor({ clock }) },
      identityVerifier: {
        check: async (person) =>
          person.idNumber === PEOPLE.refused.idNumber
            ? { verified: false }
            : { verified: true, method: 'three-element', verifiedAt: clock.now() },
      },
      hashKey: HASH_KEY,
      organizations: ORGANIZATIONS,
      seals: SEALS,
      clock,
      logger,
      start: false,
      approvalLevels: LEVELS,
      scenes: [UI_LOAN_SCENE],
      templateCodes: TEMPLATE_CODES,
      dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier },
      webhooks: { subscribers: [{ id: 'host', url: receiver.url('/events'), secret: 'scan-secret-0123456789' }] },
    });
    sealflow.runtime.onEvent((event) => void events.push(event));
    for (const [code, type, roles] of [
      ['CREDIT_CONTRACT_V', 'CREDIT_CONTRACT', ['platform']],
      ['DATA_QUERY_V', 'DATA_QUERY_AUTHORIZATION', ['platform']],
      ['LOAN_CONTRACT_V', 'LOAN_CONTRACT', ['platform', 'funder']],
      ['PAYMENT_AGREEMENT_V', 'PAYMENT_AGREEMENT', ['paymentCompany']],
    ] as const) {
      const draft = await sealflow.templates.importTemplate(editor, {
        code,
        name: code,
        documentType: type,
        pdf: CONTRACT_PDF,
        definition: definitionWith([...roles]),
      });
      await sealflow.templates.submit(editor, draft.id);
      await sealflow.templates.approve(legalLee, draft.id);
      await sealflow.templates.approve(riskRay, draft.id);
    }
  });
  afterAll(async () => {
    await sealflow?.close();
    await receiver?.close();
  });

  const request = (borrower: (typeof PEOPLE)['signer'], businessNo: string, values?: unknown): SignRequest => ({
    businessNo,
    scene: 'CREDIT_GRANT',
    borrower,
    values: (values ?? {
      loan: { amount: '50000.00', startDate: dateInChina(new Date(clock.now())), termMonths: 12 },
      credit: { limit: '100000.00' },
    }) as SignRequest['values'],
    consent: {
      at: clock.now(),
      channel: 'app',
      ip: '203.0.113.7',
      device: 'iPhone',
      documentVersionsShown: ['CREDIT_CONTRACT_V.v0001', 'DATA_QUERY_V.v0001'],
    },
    actor: { id: 'lending-system' },
  });

  it('runs signings, refusals, callbacks, dispatch and a complaint with known people', async () => {
    const done = await sealflow.signing.sign(request(PEOPLE.signer, 'PD-1'));
    await drain();
    keep('signing record', await sealflow.signing.get(done.id));
    await refusal('sign (real-name check refuses)', () => sealflow.signing.sign(request(PEOPLE.refused, 'PD-2')));
    await refusal('sign (ID number in an amount)', () =>
      sealflow.signing.sign(
        request(PEOPLE.signer, 'PD-3', {
          loan: { amount: PEOPLE.signer.idNumber },
          credit: { limit: PEOPLE.signer.mobile },
        }),
      ),
    );
    await refusal('sign (malformed borrower)', () =>
      sealflow.signing.sign(request({ ...PEOPLE.signer, idNumber: `${PEOPLE.signer.idNumber}0` }, 'PD-4')),
    );
    await refusal('sign (mobile as the ID number)', () =>
      sealflow.signing.sign(request({ ...PEOPLE.signer, idNumber: PEOPLE.signer.mobile }, 'PD-5')),
    );
    await refusal('vendor callback', () =>
      sealflow.signing.handleVendorCallback('memory', {
        headers: {},
        query: { mobile: PEOPLE.signer.mobile },
        rawBody: JSON.stringify({ flowId: 'nope', mobile: PEOPLE.signer.mobile, idNumber: PEOPLE.signer.idNumber }),
      }),
    );

    const dispatch = sealflow.dispatch!;
    const admin: DispatchActor = { id: 'adm', roles: ['platform-admin'] };
    await dispatch.institutions.register(admin, {
      id: FUNDER.id,
      name: FUNDER.name,
      creditCode: FUNDER.creditCode,
      sealId: 'funder-seal',
      regions: ['310000'],
      categories: ['mortgage'],
      capacity: 10,
    });
    await dispatch.institutions.topUp(admin, {
      institutionId: FUNDER.id,
      account: 'deposit',
      amountFen: 9e8,
      key: 'seed',
    });
    const opened = await dispatch.applications.open(cm, {
      applicationNumber: 'SQ-PD-1',
      customer: PEOPLE.applicant,
      productCode: 'HOUSE',
      amountFen: 30_000_000,
      region: '310000',
      businessCategory: 'mortgage',
    });
    await dispatch.applications.registerCustomer(cm, opened.applicationId, PEOPLE.applicant);
    await dispatch.applications.submitMaterials(cm, opened.applicationId, COMPLETE);
    await dispatch.applications.confirmProduct(cm, opened.applicationId);
    await dispatch.applications.submitForReview(cm, opened.applicationId);
    await dispatch.applications.pass(reviewer, opened.applicationId);
    await drain();
    await refusal('applications.registerCustomer (another person)', () =>
      dispatch.applications.registerCustomer(cm, opened.applicationId, PEOPLE.refused),
    );
    await refusal('applications.open (bad ID number)', () =>
      dispatch.applications.open(cm, {
        applicationNumber: 'SQ-PD-2',
        customer: { ...PEOPLE.applicant, idNumber: PEOPLE.applicant.idNumber.replace(/.$/, '0') },
        productCode: 'HOUSE',
        amountFen: 30_000_000,
        region: '310000',
        businessCategory: 'mortgage',
      }),
    );
    await dispatch.complaints.receive(service, {
      complaintNo: 'TS-PD-1',
      subject: '放款后被多收服务费',
      content: `客户${PEOPLE.complainant.name}（手机${PEOPLE.complainant.mobile}，身份证${PEOPLE.complainant.idNumber}）反映机构多收了服务费。`,
      contact: { name: PEOPLE.complainant.name, mobile: PEOPLE.complainant.mobile },
      customerId: 'cust-pd',
      applicationId: opened.applicationId,
      institutionId: FUNDER.id,
    });
    await refusal('complaints.receive (duplicate)', () =>
      dispatch.complaints.receive(service, {
        complaintNo: 'TS-PD-1',
        subject: PEOPLE.complainant.mobile,
        content: PEOPLE.complainant.idNumber,
        contact: { name: PEOPLE.complainant.name, mobile: PEOPLE.complainant.mobile },
      }),
    );
    await drain();

    expect(events.length, 'the flows emitted events').toBeGreaterThan(5);
    expect(receiver.requests.length, 'webhooks were delivered').toBeGreaterThan(5);
    for (const r of logger.records) keep(`log ${r.level}`, r);
    for (const e of events) keep(`event ${e.type}`, e);
    for (const n of notifier.delivered()) keep('notification', n);
    for (const r of receiver.requests) keep('webhook body', r.body);
  });

  it('finds no ID number, mobile or name in plain text in anything captured', ({ task }) => {
    expect(captured.length).toBeGreaterThan(20);
    const hits = scan(captured);
    countInputs(task, captured.length);
    const errors = captured.filter((c) => c.where.startsWith('error')).length;
    task.meta.outcome =
      `${captured.length} captured lines and bodies (${logger.records.length} log lines, ${events.length} events, ` +
      `${receiver.requests.length} webhook bodies, ${notifier.delivered().length} notifications, ${errors} errors); ` +
      `${hits.length} hits`;
    expect(hits, hits.join('\n')).toEqual([]);
  });

  it('the scan finds a planted leak of each kind, plain or merely shaped like one', () => {
    const planted = [
      { where: 'log', text: JSON.stringify({ message: `verified ${PEOPLE.signer.idNumber}` }) },
      { where: 'event', text: `{"mobile":"${PEOPLE.applicant.mobile}"}` },
      { where: 'webhook', text: `{"who":"${PEOPLE.complainant.name}"}` },
      { where: 'error', text: '身份证110101199003071234已存在' },
      { where: 'error', text: '手机13800001111' },
    ];
    for (const line of planted) expect(scan([line]).length, line.text).toBeGreaterThan(0);
    // Masked forms, hashes and timestamps are not hits.
    expect(scan([{ where: 'log', text: '440305********1234 137****2345 1764468000000 a13912340000f' }])).toEqual([]);
  });
});

function scan(lines: readonly Captured[]): string[] {
  const hits: string[] = [];
  for (const { where, text } of lines) {
    for (const value of PLAIN)
      if (text.includes(value)) hits.push(`${where}: contains "${value}" — ${text.slice(0, 300)}`);
    for (const { what, pattern } of SHAPES) {
      for (const match of text.matchAll(pattern)) hits.push(`${where}: ${what} "${match[0]}" — ${text.slice(0, 300)}`);
    }
  }
  return hits;
}
