/**
 * What no check inside the database can show — a signing deleted whole, or put back to an earlier copy of its rows
 * that was validly sealed at the time — shows against a head published outside it through the `ChainNotary` port.
 */
import { describe, expect, it } from 'vitest';
import { type EntityRow, createSigningService } from '../src/index.js';
import { createMemoryChainNotary } from '../src/memory/index.js';
import { databaseEditor } from './database-editor.js';
import { TEMPLATE_CODES, UI_LOAN_SCENE, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

describe('evidence heads published to a notary', () => {
  it('shows a signing put back to an earlier copy, or deleted whole, which the database alone cannot', async () => {
    const editor = databaseEditor();
    const notary = createMemoryChainNotary();
    const s = await setupSigning({ wrapPersistence: editor.wrap, evidenceNotary: notary });
    const unnotarised = createSigningService({
      ...s.environment,
      runtime: s.runtime,
      templates: s.templates,
      identityVerifier: s.identityVerifier,
      scenes: [UI_LOAN_SCENE],
      templateCodes: TEMPLATE_CODES,
    });
    const record = await s.signing.sign(s.request());
    const stream = `evidence:${record.id}`;
    // An editor keeps a copy of the rows while the signing is under way.
    const early = await s.persistence.transaction(async (tx) => ({
      row: (await tx.entities.get('signing-record', record.id)) as EntityRow,
      entries: await tx.audit.list(stream),
    }));
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('COMPLETED');
    const attestation = await s.signing.attestEvidence(record.id);
    const entries = await s.persistence.transaction((tx) => tx.audit.list(stream));
    expect(attestation).toMatchObject({ streamId: stream, entries: entries.length, head: entries.at(-1)!.hash });
    expect((await s.signing.exportEvidencePackage(record.id)).manifest.attestation).toEqual(attestation);

    // The copy put back: every seal in it is genuine, so only the attested head shows it.
    editor.edits.audit = (id, list) => (id === stream ? early.entries : list);
    editor.edits.entity = (row) => (row.id === record.id ? early.row : row);
    expect((await s.signing.get(record.id))!.status).not.toBe('COMPLETED');
    expect((await unnotarised.verifyEvidence(record.id)).ok).toBe(true);
    let verification = await s.signing.verifyEvidence(record.id);
    expect(verification.ok).toBe(false);
    expect(verification.record).toEqual([
      { kind: 'attested-head-missing', attested: entries.length, found: early.entries.length, notary: 'memory' },
    ]);
    await expectError(s.signing.attestEvidence(record.id), 'EVIDENCE_TAMPERED');

    // Deleted whole: without a notary there is nothing to find; with one, it is reported.
    editor.edits.audit = (id, list) => (id === stream ? [] : list);
    editor.edits.entity = (row) => (row.id === record.id ? null : row);
    await expectError(unnotarised.verifyEvidence(record.id), 'NOT_FOUND');
    verification = await s.signing.verifyEvidence(record.id);
    expect(verification.record).toEqual([
      { kind: 'record-missing' },
      { kind: 'attested-head-missing', attested: entries.length, found: 0, notary: 'memory' },
    ]);

    editor.edits.audit = null;
    editor.edits.entity = null;
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
    await expectError(unnotarised.attestEvidence(record.id), 'NOTARY_NOT_CONFIGURED');
  });

  it('accepts a chain that grew after its head was attested', async () => {
    const notary = createMemoryChainNotary();
    const s = await setupSigning({ evidenceNotary: notary });
    const record = await s.signing.sign(s.request());
    const early = await s.signing.attestEvidence(record.id);
    await s.drain();
    const verification = await s.signing.verifyEvidence(record.id);
    expect(verification.entries).toBeGreaterThan(early.entries);
    expect(verification.ok).toBe(true);
  });
});
