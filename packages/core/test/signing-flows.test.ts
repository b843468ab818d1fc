import { describe, expect, it } from 'vitest';
import { SealflowError, isSigningEvent, signingRecordId } from '../src/index.js';
import {
  BORROWER,
  FUNDER,
  HASH_KEY,
  OTHER_BORROWER,
  expectNoPersonalData,
  recordingStore,
  setupSigning,
} from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

describe('signing scenes end to end (memory vendor)', () => {
  it('signs the credit grant bundle — credit contract and data-query authorisation — in one vendor flow', async () => {
    const recording = { current: null as ReturnType<typeof recordingStore> | null };
    const s = await setupSigning({
      wrapDocuments: (inner) => {
        recording.current = recordingStore(inner);
        return recording.current.store;
      },
    });
    const started = await s.signing.sign(s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-001' }));
    expect(started).toMatchObject({ status: 'PENDING', attempt: 1, scene: 'CREDIT_GRANT', funding: 'platform' });
    expect(started.templates.map((t) => t.versionId)).toEqual([s.versions.CREDIT_CONTRACT_V, s.versions.DATA_QUERY_V]);

    await s.drain();
    const done = (await s.signing.get(started.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.signed.map((d) => d.documentKey)).toEqual(['credit-contract', 'data-query-authorization']);
    expect(done.rendered).toHaveLength(2);
    expect(s.vendor.flowCount()).toBe(1);
    const creates = s.vendor.calls.filter((c) => c.method === 'createFlow');
    expect(creates).toHaveLength(1);
    // Both documents archived, each the rendered one with the vendor's signatures added.
    expect(recording.current!.signed()).toHaveLength(2);
    const downloaded = await s.signing.download(done.id);
    expect(downloaded.map((d) => d.fileName)).toEqual(['授信合同.pdf', '数据查询授权书.pdf']);
    for (const [i, file] of downloaded.entries()) {
      const rendered = (await s.documents.get(done.rendered[i]!.fileId)).bytes;
      expect(Buffer.from(file.bytes.subarray(0, rendered.length)).equals(Buffer.from(rendered))).toBe(true);
      expect(Buffer.from(file.bytes).toString('latin1')).toContain('signed by: borrower,platform');
    }
  });

  it('signs neither document of the bundle when one of them cannot be signed', async () => {
    const s = await setupSigning({ draft: ['DATA_QUERY_V'] });
    const error = await expectError(
      s.signing.sign(s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-002' })),
      'TEMPLATE_NOT_EFFECTIVE',
    );
    await s.drain();
    const record = (await s.signing.get((error as { recordId?: string }).recordId!))!;
    expect(record).toMatchObject({ status: 'FAILED', signed: [], rendered: [] });
    expect(s.vendor.calls).toEqual([]);
  });

  it('signs a platform-funded loan contract with the borrower and the platform seal', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ funding: 'platform' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done).toMatchObject({ status: 'COMPLETED', funding: 'platform', funderId: null, failure: null });
    expect(done.completedAt).toBe(s.clock.now());
    const [file] = await s.signing.download(done.id);
    expect(Buffer.from(file!.bytes).toString('latin1')).toContain('signed by: borrower,platform');
  });

  it('waits for the funder on a funder-funded loan; only the assigned funder can sign it', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-F-1' }));
    await s.drain();
    let current = (await s.signing.get(record.id))!;
    expect(current).toMatchObject({
      status: 'AWAITING_FUNDER',
      funderId: FUNDER.id,
      stage: 'vendorPhase.awaitingFunder',
    });
    // Waiting is durable: time passes and nothing happens until the funder calls.
    s.clock.advance(10 * 60_000);
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');

    const intruder = await expectError(
      s.signing.signAsFunder({ id: 'eve', funderId: 'other-bank' }, record.id, { sealId: 'funder-seal' }),
      'FUNDER_NOT_ASSIGNED',
    );
    expect(intruder.message).toContain('other-bank');
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');

    current = await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, {
      sealId: 'funder-seal',
    });
    expect(current.funderSignature).toMatchObject({
      actorId: 'bank-clerk',
      funderId: FUNDER.id,
      sealId: 'funder-seal',
    });
    await s.drain();
    current = (await s.signing.get(record.id))!;
    expect(current.status).toBe('COMPLETED');
    const [file] = await s.signing.download(record.id);
    expect(Buffer.from(file!.bytes).toString('latin1')).toContain('signed by: borrower,funder');
    // Signing again once done is refused, typed.
    await expectError(
      s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' }),
      'SIGNING_NOT_AWAITING_FUNDER',
    );
    expect(s.events.filter(isSigningEvent).map((e) => e.type)).toEqual([
      'signing.started',
      'signing.documents-rendered',
      'signing.vendor-flow-started',
      'signing.awaiting-funder',
      'signing.funder-signing',
      'signing.vendor-completed',
      'signing.completed',
    ]);
  });

  it('refuses a funder-funded loan without its funder, and a funding the scene does not take', async () => {
    const s = await setupSigning();
    await expectError(s.signing.sign(s.request({ funding: 'funder' })), 'INVALID_INPUT');
    await expectError(s.signing.sign(s.request({ scene: 'CARD_BINDING', funding: 'funder' })), 'INVALID_INPUT');
    await expectError(s.signing.sign(s.request({ scene: 'NO_SUCH_SCENE' })), 'INVALID_INPUT');
  });

  it('signs the card-binding agreement with the payment company', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ scene: 'CARD_BINDING', businessNo: 'CARD-1' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    const [file] = await s.signing.download(done.id);
    expect(file!.fileName).toBe('支付协议.pdf');
    expect(Buffer.from(file!.bytes).toString('latin1')).toContain('signed by: borrower,paymentCompany');
  });
});

describe('signing: idempotency, queries, download, events', () => {
  it('never makes two vendor flows for the same (businessNo, scene), even concurrently', async () => {
    const s = await setupSigning();
    const [a, b] = await Promise.all([s.signing.sign(s.request()), s.signing.sign(s.request())]);
    expect(a.id).toBe(b.id);
    await s.drain();
    const again = await s.signing.sign(s.request());
    expect(again.id).toBe(a.id);
    expect(again.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
    expect(a.id).toBe(signingRecordId('LOAN_CONTRACT', 'LN20260101001', 1));
    // The same business number in another scene is another signing.
    const card = await s.signing.sign(s.request({ scene: 'CARD_BINDING' }));
    expect(card.id).not.toBe(a.id);
    // The same key with different content is a conflict, not a silent return of someone else's signing.
    await expectError(s.signing.sign(s.request({ borrower: OTHER_BORROWER })), 'DUPLICATE');
  });

  it('finds records by customer through a keyed hash, by business number, scene, status and date', async () => {
    const s = await setupSigning();
    await s.signing.sign(s.request({ businessNo: 'Q-1' }));
    s.clock.advance(60_000);
    const t1 = s.clock.now();
    await s.signing.sign(s.request({ businessNo: 'Q-2', scene: 'CARD_BINDING' }));
    await s.signing.sign(s.request({ businessNo: 'Q-3', borrower: OTHER_BORROWER }));
    await s.drain();

    const mine = await s.signing.find({ customerIdNumber: BORROWER.idNumber });
    expect(mine.map((r) => r.businessNo).sort()).toEqual(['Q-1', 'Q-2']);
    expect(await s.signing.find({ customerIdNumber: BORROWER.idNumber.toLowerCase() })).toHaveLength(2);
    expect((await s.signing.find({ customerIdNumber: OTHER_BORROWER.idNumber })).map((r) => r.businessNo)).toEqual([
      'Q-3',
    ]);
    expect((await s.signing.find({ businessNo: 'Q-2' }))[0]?.scene).toBe('CARD_BINDING');
    expect(await s.signing.find({ scene: 'CARD_BINDING', status: 'COMPLETED' })).toHaveLength(1);
    expect((await s.signing.find({ from: t1 })).map((r) => r.businessNo).sort()).toEqual(['Q-2', 'Q-3']);
    expect((await s.signing.find({ to: t1 - 1 })).map((r) => r.businessNo)).toEqual(['Q-1']);

    // The plaintext is neither stored nor indexed: not in records, tags, snapshots, outbox or audit.
    const dump = await s.persistence.transaction(async (tx) => ({
      entities: await tx.entities.find('signing-record'),
      workflows: await tx.workflows.list({ machineId: 'signing' }),
      outbox: await tx.outbox.list(),
      audit: await Promise.all(
        (await tx.entities.find('signing-record')).flatMap((r) => [
          tx.audit.list(r.id),
          tx.audit.list(`evidence:${r.id}`),
        ]),
      ),
    }));
    const text = JSON.stringify(dump);
    expectNoPersonalData(text);
    expect(text).not.toContain(OTHER_BORROWER.idNumber);
    expect(text).not.toContain(HASH_KEY);
    expect(mine[0]!.customer).toMatchObject({
      maskedName: '张**',
      maskedIdNumber: `110101********${BORROWER.idNumber.slice(-4)}`,
    });
  });

  it('downloads in real time from the document store and refuses bytes that no longer match the hash', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    await expectError(s.signing.download(record.id), 'SIGNING_NOT_COMPLETED');
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    const [file] = await s.signing.download(done.id);
    expect(file!.sha256).toBe(done.signed[0]!.sha256);
    await s.store.corrupt(done.signed[0]!.fileId);
    const error = await expectError(s.signing.download(done.id), 'ARCHIVED_DOCUMENT_MISMATCH');
    expectNoPersonalData(error.message);
  });

  it('emits a typed domain event for every state change, once each, with stable outbox ids', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    await s.drain();
    await s.drain();
    const signingEvents = s.events.filter(isSigningEvent);
    expect(signingEvents.map((e) => e.type)).toEqual([
      'signing.started',
      'signing.documents-rendered',
      'signing.vendor-flow-started',
      'signing.vendor-completed',
      'signing.completed',
    ]);
    expect(new Set(signingEvents.map((e) => e.id)).size).toBe(signingEvents.length);
    for (const event of signingEvents) {
      expect(event.id).toMatch(new RegExp(`^${record.id}/\\d+/\\d+:${event.type}$`));
      expect(event.payload).toMatchObject({ recordId: record.id, businessNo: 'LN20260101001', attempt: 1 });
    }
    const completed = signingEvents.at(-1)!.payload;
    expect(completed).toMatchObject({ type: 'signing.completed', documents: [{ documentKey: 'loan-contract' }] });
    expectNoPersonalData(JSON.stringify(s.events));
    // The workflow's own audit chain verifies too.
    expect((await s.runtime.verifyAudit(record.id)).ok).toBe(true);
    const evidence = await s.persistence.transaction((tx) => tx.audit.list(`evidence:${record.id}`));
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
    expect(evidence.map((e) => e.type)).toEqual([
      'signing.requested',
      'documents.rendered',
      'vendor.flow-started',
      'vendor.sealed',
      'documents.archived',
      'signing.completed',
    ]);
  });

  it('re-delivers a domain event whose subscriber failed with the same id', async () => {
    const s = await setupSigning();
    const seen: string[] = [];
    let fail = true;
    s.runtime.onEvent((event) => {
      if (event.type !== 'signing.completed') return;
      seen.push(event.id);
      if (fail) {
        fail = false;
        throw new SealflowError('HOST_DOWN', 'subscriber down');
      }
    });
    await s.signing.sign(s.request());
    await s.drain();
    s.clock.advance(60_000);
    await s.drain();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
  });
});
