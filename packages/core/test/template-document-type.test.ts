/**
 * A template's document type (`documentType`): what signing scenes ask for, how lists filter by it, and versions
 * stored with the field under its earlier name `scene`, which still load, list and sign.
 */
import { describe, expect, it } from 'vitest';
import type { TemplateDefinitionError, TemplateVersion } from '../src/index.js';
import { setupSigning } from './signing-fixtures.js';
import {
  CONTRACT_PDF,
  editor,
  expectError,
  importLoanContract,
  legalLee,
  riskRay,
  setupTemplates,
} from './template-fixtures.js';

/** Rewrite a stored version as an earlier release wrote it: the document type under `definition.scene`. */
async function storeWithScene(persistence: ReturnType<typeof setupTemplates>['persistence'], versionId: string) {
  await persistence.transaction(async (tx) => {
    const row = (await tx.entities.get('template-version', versionId))!;
    const { documentType, ...definition } = (row.data as TemplateVersion).definition;
    const data = { ...(row.data as TemplateVersion), definition: { ...definition, scene: documentType } };
    expect(
      await tx.entities.update('template-version', versionId, row.version, {
        data,
        tags: row.tags,
        uniqueKey: row.uniqueKey,
        updatedAt: row.updatedAt,
      }),
    ).toBe(true);
  });
}

describe('template document types', () => {
  it('imports, reads and lists by documentType', async () => {
    const { service } = setupTemplates();
    const loan = await importLoanContract(service);
    const credit = await importLoanContract(service, { code: 'CREDIT_A', documentType: 'CREDIT_CONTRACT' });
    expect(loan.definition.documentType).toBe('LOAN_CONTRACT');
    expect((await service.getVersion(credit.id))?.definition.documentType).toBe('CREDIT_CONTRACT');
    expect((await service.list({ documentType: 'CREDIT_CONTRACT' })).map((v) => v.id)).toEqual([credit.id]);
  });

  it('refuses `scene` in an import, a definition or a list filter, saying to use documentType', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const legacyImport = { code: 'LOAN_CONTRACT_V', name: '借款合同', scene: 'LOAN_CONTRACT', pdf: CONTRACT_PDF };
    const imported = await expectError(service.importTemplate(editor, legacyImport as never), 'INVALID_INPUT');
    expect(imported.message).toContain('documentType');
    expect(await footprint()).toEqual(before);

    const loan = await importLoanContract(service);
    const edited = await expectError(
      service.updateDraft(editor, loan.id, { scene: 'X' } as never),
      'TEMPLATE_DEFINITION_INVALID',
    );
    expect((edited as TemplateDefinitionError).problems[0]?.message).toContain('documentType');

    const listed = await expectError(service.list({ scene: 'LOAN_CONTRACT' } as never), 'INVALID_INPUT');
    expect(listed.message).toContain('documentType');
  });

  it('reads versions stored with `scene`, lists them by documentType and writes documentType back', async () => {
    const { service, persistence } = setupTemplates();
    const v1 = await importLoanContract(service);
    await service.submit(editor, v1.id);
    await service.approve(legalLee, v1.id);
    await service.approve(riskRay, v1.id);
    await storeWithScene(persistence, v1.id);

    const read = await service.requireEffective('LOAN_CONTRACT_V');
    expect(read.definition.documentType).toBe('LOAN_CONTRACT');
    expect(read.definition).not.toHaveProperty('scene');
    expect((await service.list({ documentType: 'LOAN_CONTRACT' })).map((v) => v.id)).toEqual([v1.id]);

    // A revision copies the old definition, and superseding v1 rewrites it: both are stored as documentType.
    const v2 = await service.reviseEffective(editor, 'LOAN_CONTRACT_V');
    await service.submit(editor, v2.id);
    await service.approve(legalLee, v2.id);
    await service.approve(riskRay, v2.id);
    const stored = await persistence.transaction(async (tx) => ({
      v1: (await tx.entities.get('template-version', v1.id))!.data as TemplateVersion,
      v2: (await tx.entities.get('template-version', v2.id))!.data as TemplateVersion,
    }));
    expect(stored.v1.status).toBe('SUPERSEDED');
    for (const version of [stored.v1, stored.v2]) {
      expect(version.definition.documentType).toBe('LOAN_CONTRACT');
      expect(version.definition).not.toHaveProperty('scene');
    }
    expect((await service.list({ documentType: 'LOAN_CONTRACT' })).map((v) => v.id)).toEqual([v1.id, v2.id]);
  });

  it('a version stored with `scene` still signs', async () => {
    const s = await setupSigning();
    await storeWithScene(s.persistence, s.versions.LOAN_CONTRACT_V!);
    const record = await s.signing.sign(s.request({ funding: 'platform' }));
    await s.drain();
    expect((await s.signing.get(record.id))?.status).toBe('COMPLETED');
  });

  it('refuses to sign a template of another document type than the scene document expects, keeping a record', async () => {
    const s = await setupSigning();
    // The host maps the 数据查询授权书 to its credit contract by mistake.
    const signing = await s.anotherInstance({
      templateCodes: {
        CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'CREDIT_CONTRACT_V' },
      },
    });
    const error = await expectError(
      signing.sign(s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-MISTYPED' })),
      'TEMPLATE_DOCUMENT_TYPE_MISMATCH',
    );
    expect(error.message).toContain('data-query-authorization expects a DATA_QUERY_AUTHORIZATION');
    expect(error.message).toContain(`template ${s.versions.CREDIT_CONTRACT_V} is a CREDIT_CONTRACT`);
    expect(error.details).toMatchObject({
      mismatches: [
        {
          documentKey: 'data-query-authorization',
          expected: 'DATA_QUERY_AUTHORIZATION',
          versionId: s.versions.CREDIT_CONTRACT_V,
          found: 'CREDIT_CONTRACT',
        },
      ],
    });
    await s.drain();
    const record = await signing.get((error as { recordId?: string }).recordId!);
    expect(record).toMatchObject({ status: 'FAILED', failure: { code: 'TEMPLATE_DOCUMENT_TYPE_MISMATCH' } });
    expect(s.vendor.calls).toEqual([]);
  });
});
