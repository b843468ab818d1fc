/**
 * The back office end to end in headless Chromium: an operator signs in, approves one template and rejects another
 * with a reason, filters the signing records, previews a signed PDF, re-signs (补签) a failed signing, reads an
 * offer's deadline on the dispatch board and the ranking behind it, verifies evidence and downloads the statistics
 * report. Screenshots of each step go to `examples/lending-backend/test-artifacts/` (gitignored).
 *
 * Needs Debian's `chromium` (or CHROMIUM_PATH). Without it the test is skipped with the reason, except under CI=true,
 * where it fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import type { Sealflow } from '@sealflow/core';
import { type BackOfficeDemo, EDITOR, OPERATOR, startBackOfficeDemo, VIEWER } from '../src/back-office/demo.js';
import { backOffice } from '../src/back-office/index.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path): path is string => !!path && existsSync(path)) ?? null;
}

const chromiumPath = findChromium();
const missing = chromiumPath
  ? null
  : 'Chromium was not found (apt-get install -y chromium, or set CHROMIUM_PATH); the back-office browser test is skipped.';
if (missing && process.env.CI === 'true') {
  throw new Error(`${missing.replace('is skipped', 'cannot run')} CI=true requires it.`);
}
if (missing) console.warn(missing);

/** 'YYYY-MM-DD HH:mm' in China time (UTC+8, no daylight saving), computed independently of the page's code. */
const chinaTime = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');

describe('backOffice options', () => {
  // The options are checked before the sealflow instance is touched, so none is needed here.
  const noSealflow = {} as Sealflow;

  it('refuses a back office nobody can sign in to, or one operator listed twice, naming the problem', () => {
    expect(() => backOffice(noSealflow, { operators: [] })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('at least one operator') }),
    );
    expect(() => backOffice(noSealflow, { operators: [{ ...OPERATOR, password: 'short' }] })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('operators.0.password') }),
    );
    expect(() => backOffice(noSealflow, { operators: [OPERATOR, { ...OPERATOR, name: '另一个' }] })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('risk.li is listed twice') }),
    );
  });
});

describe.skipIf(missing !== null)('back office in headless Chromium', () => {
  let host: BackOfficeDemo;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    host = await startBackOfficeDemo();
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox'] });
    const context = await browser.newContext({ acceptDownloads: true, locale: 'zh-CN', timezoneId: 'UTC' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Starting PGlite and seeding takes seconds on an idle machine, far longer on a loaded one.
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  it('takes an operator through approvals, signing records, dispatch, evidence and reports', async () => {
    const { sealflow, seeded } = host;

    // Sign in. A wrong password is refused with a message; the right one opens the approval inbox.
    await page.goto(host.url);
    await page.getByLabel('操作员账号').fill(OPERATOR.id);
    await page.getByLabel('密码').fill('wrong-password');
    await page.getByRole('button', { name: '登录' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toContain('password is wrong');
    await page.getByLabel('操作员账号').fill(OPERATOR.id);
    await page.getByLabel('密码').fill(OPERATOR.password);
    await page.getByRole('button', { name: '登录' }).click();
    await page.locator('#approvals-table').waitFor();
    await expect.poll(() => page.locator('#operator').textContent()).toContain('李审核');
    // Screenshots in Chinese: wait for the page's font (served by the back office where the desktop has none).
    await page.evaluate('document.fonts.ready.then(() => true)');
    await shot('01-approval-inbox');

    // Approve the 授信合同; reject the 授权书 revision with a reason.
    const creditRow = page.locator(`tr[data-version-id="${seeded.creditTemplate}"]`);
    await creditRow.getByRole('button', { name: '通过' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toContain('生效');
    expect((await sealflow.templates.getVersion(seeded.creditTemplate))!.status).toBe('EFFECTIVE');

    const revisionRow = page.locator(`tr[data-version-id="${seeded.authorizationRevision}"]`);
    // Before deciding, the approver reads what the revision changes against the version in force.
    await revisionRow.getByRole('button', { name: '查看变更' }).click();
    await expect.poll(() => page.locator('#approval-changes').textContent()).toContain('借款人姓名 → 授权人姓名');
    await revisionRow.getByRole('button', { name: '驳回' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toContain('驳回原因');
    await revisionRow.getByLabel('驳回原因').fill('授权人称谓须与借款合同一致');
    await revisionRow.getByRole('button', { name: '驳回' }).click();
    await revisionRow.waitFor({ state: 'detached' });
    const rejected = (await sealflow.templates.getVersion(seeded.authorizationRevision))!;
    expect(rejected.decision).toMatchObject({
      outcome: 'rejected',
      reason: '授权人称谓须与借款合同一致',
      by: OPERATOR.id,
    });
    await expect.poll(() => page.locator('#approvals-table tbody tr').allTextContents()).toEqual(['暂无数据']);
    await shot('02-approvals-decided');

    // The template's versions, their diff and its history, as the page shows them.
    await page.getByRole('button', { name: '模板管理' }).click();
    await page.locator('tr[data-code="AUTH_V"]').getByRole('button', { name: '详情' }).click();
    await page.getByRole('button', { name: '比较' }).click();
    await expect.poll(() => page.locator('#diff').textContent()).toContain('授权人姓名');
    await expect.poll(() => page.locator('main').textContent()).toContain('授权人称谓须与借款合同一致');
    await shot('03-template-diff');

    // Signing records: filter by status, preview the signed PDF inline.
    await page.getByRole('button', { name: '签章记录' }).click();
    await page.locator('#records-table').waitFor();
    await page.getByLabel('状态').selectOption('COMPLETED');
    await page.getByRole('button', { name: '查询' }).click();
    await expect
      .poll(() => page.locator('#records-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.recordId)))
      .toEqual([seeded.completedRecordId]);
    // Personal data is masked on the page: the seeded borrower's full name and ID number never appear.
    const tableText = (await page.locator('#records-table').textContent()) ?? '';
    expect(tableText).toContain('王*');
    expect(tableText).not.toContain('王雨桐');
    const completedRow = page.locator(`tr[data-record-id="${seeded.completedRecordId}"]`);
    const preview = page.waitForResponse((r) => r.url().includes(`/documents/`) && r.request().method() === 'GET');
    await completedRow.getByRole('button', { name: '预览' }).click();
    const pdfResponse = await preview;
    expect(pdfResponse.status()).toBe(200);
    expect(pdfResponse.headers()['content-type']).toBe('application/pdf');
    expect(pdfResponse.headers()['content-disposition']).toMatch(/^inline;/);
    // Chromium hands an inline PDF to its viewer; read the same address with the page's session to check the bytes.
    const again = await page.context().request.get(pdfResponse.url());
    expect((await again.body()).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await page.locator('iframe.preview').waitFor();
    await shot('04-signed-pdf-preview');

    // Evidence of the signed record verifies.
    await completedRow.getByRole('button', { name: '验证存证' }).click();
    await expect.poll(() => page.locator('#evidence-result').textContent()).toContain('验证通过');
    await shot('05-evidence-verified');

    // The failed credit grant: its template is now approved, so 补签 makes a second attempt that completes.
    await page.getByLabel('状态').selectOption('FAILED');
    await page.getByLabel('场景').selectOption('CREDIT_GRANT');
    await page.getByRole('button', { name: '查询' }).click();
    const failedRow = page.locator(`tr[data-record-id="${seeded.failedRecordId}"]`);
    await failedRow.waitFor();
    await expect.poll(() => failedRow.textContent()).toContain('签署失败');
    await failedRow.getByRole('button', { name: '补签' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toContain('已发起补签');
    await expect.poll(() => failedRow.textContent()).toContain('已补签');
    expect(await failedRow.getByRole('button', { name: '补签' }).count()).toBe(0);
    const nextId = (await sealflow.signing.get(seeded.failedRecordId))!.nextAttemptId;
    expect(nextId).toBeTruthy();
    const second = await sealflow.signing.waitFor(nextId!, { timeoutMs: 30_000 });
    expect(second).toMatchObject({ status: 'COMPLETED', attempt: 2, previousAttemptId: seeded.failedRecordId });
    expect(second.requestedBy).toBe(OPERATOR.id);
    await shot('06-resigned');

    // The dispatch board: each open offer's deadline in China time, and why the institutions rank as they do.
    await page.getByRole('button', { name: '派单看板' }).click();
    await page.locator('#offers-table').waitFor();
    const offers = await sealflow.dispatch!.offers.offersFor(
      { id: 'test', roles: ['follow-up-manager'] },
      { status: 'open' },
    );
    expect(offers.length).toBe(3);
    for (const offer of offers) {
      const row = page.locator(`tr[data-offer-id="${offer.offerId}"]`);
      await expect.poll(() => row.locator('td.deadline').textContent()).toBe(chinaTime(offer.deadline));
    }
    expect(chinaTime(offers[0]!.deadline)).toBe('2026-12-01 10:00');
    await expect
      .poll(() => page.locator('#positions-table tr[data-institution-id="bank-hz"]').textContent())
      .toContain('9,000,000.00 元');
    await page
      .locator(`tr[data-application-id="${seeded.applicationId}"]`)
      .getByRole('button', { name: '查看排序' })
      .click();
    await page.locator('#ranking-table').waitFor();
    expect(
      await page.locator('#ranking-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.institutionId)),
    ).toEqual(['bank-hz', 'xd-sh', 'xd-sz']);
    await expect.poll(() => page.locator('#ranking').textContent()).toContain('可用头寸低于申请金额');
    await shot('07-dispatch-board');

    // Complaints show the contact masked.
    await page.getByRole('button', { name: '投诉' }).click();
    const complaint = page.locator('tr[data-complaint-no="TS20261130001"]');
    await complaint.waitFor();
    expect(await complaint.textContent()).toContain('138****6043');
    expect(await complaint.textContent()).not.toContain('13857126043');

    // The statistics report downloads as an XLSX workbook.
    await page.getByRole('button', { name: '报表' }).click();
    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: '下载业务统计报表' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('业务统计_2026-11-01_2026-11-30.xlsx');
    const saved = join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(saved);
    const bytes = await readFile(saved);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    await shot('08-reports');
  });

  /** A bearer token for an operator, as a script would sign in. */
  async function signIn(operator: { id: string; password: string }) {
    const response = await fetch(`${host.url}api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operatorId: operator.id, password: operator.password }),
    });
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    return { authorization: `Bearer ${token}` };
  }

  it('answers API misuse with problem details', async () => {
    const api = `${host.url}api`;
    const anonymous = await fetch(`${api}/signing-records`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });

    const authorization = await signIn(OPERATOR);
    const badFilter = await fetch(`${api}/signing-records?status=DONE&from=30/11/2026`, { headers: authorization });
    expect(badFilter.status).toBe(400);
    const problem = (await badFilter.json()) as { code: string; fields: string[]; detail: string };
    expect(problem.code).toBe('INVALID_INPUT');
    expect(problem.fields).toEqual(expect.arrayContaining(['query.status', 'query.from']));
    expect(problem.detail).toContain('YYYY-MM-DD');

    const notFailed = await fetch(`${api}/signing-records/${host.seeded.completedRecordId}/resign`, {
      method: 'POST',
      headers: authorization,
    });
    expect(notFailed.status).toBe(409);
    expect(await notFailed.json()).toMatchObject({ code: 'SIGNING_NOT_FAILED' });

    const noReason = await fetch(`${api}/approvals/LOAN_V.v0001/reject`, {
      method: 'POST',
      headers: { ...authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: '   ' }),
    });
    expect(noReason.status).toBe(400);
    expect(await noReason.json()).toMatchObject({ code: 'INVALID_INPUT', fields: ['body.reason'] });
  });

  it('keeps signed contracts and 补签 to signing operators', async () => {
    const api = `${host.url}api`;
    const viewer = await signIn(VIEWER);
    const { completedRecordId } = host.seeded;
    // Customer service may list the records (masked) but not open the contract, which shows the borrower in full.
    expect((await fetch(`${api}/signing-records/${completedRecordId}`, { headers: viewer })).status).toBe(200);
    const opened = await fetch(`${api}/signing-records/${completedRecordId}/documents/loan-contract`, {
      headers: viewer,
    });
    expect(opened.status).toBe(403);
    expect(await opened.json()).toMatchObject({ code: 'FORBIDDEN' });
    const resign = await fetch(`${api}/signing-records/${completedRecordId}/resign`, {
      method: 'POST',
      headers: viewer,
    });
    expect(resign.status).toBe(403);
  });

  it('uploads a template PDF as a new version that keeps the definition, for someone else to approve', async () => {
    const api = `${host.url}api`;
    const editor = await signIn(EDITOR);
    const pdf = await readFile(CONTRACT_TEMPLATE_PDF);
    const upload = (query: string, body: string | Buffer, type = 'application/pdf') =>
      fetch(`${api}/templates/upload?${query}`, { method: 'POST', headers: { ...editor, 'content-type': type }, body });

    const notPdf = await upload('code=LOAN_V', 'hello', 'text/plain');
    expect(notPdf.status).toBe(400);
    expect(notPdf.headers.get('content-type')).toContain('application/problem+json');
    expect(await notPdf.json()).toMatchObject({
      code: 'INVALID_INPUT',
      detail: expect.stringContaining('application/pdf'),
    });
    const unnamed = await upload('code=NEW_T', pdf);
    expect(unnamed.status).toBe(400);
    expect(await unnamed.json()).toMatchObject({ code: 'INVALID_INPUT', fields: ['query.name', 'query.documentType'] });

    const created = await upload('code=LOAN_V', pdf);
    expect(created.status).toBe(200);
    const draft = (await created.json()) as { id: string; status: string; version: number; createdBy: string };
    expect(draft).toMatchObject({ id: 'LOAN_V.v0002', status: 'DRAFT', version: 2, createdBy: EDITOR.id });
    const first = (await host.sealflow.templates.getVersion('LOAN_V.v0001'))!;
    const second = (await host.sealflow.templates.getVersion(draft.id))!;
    expect(second.definition.variables).toEqual(first.definition.variables);
    expect(second.pdf.sha256).toBe(first.pdf.sha256);

    const submitted = await fetch(`${api}/template-versions/${draft.id}/submit`, { method: 'POST', headers: editor });
    expect(((await submitted.json()) as { status: string }).status).toBe('PENDING_APPROVAL');
    // Maker-checker: the editor who uploaded it cannot approve it.
    const own = await fetch(`${api}/approvals/${draft.id}/approve`, {
      method: 'POST',
      headers: { ...editor, 'content-type': 'application/json' },
      body: '{}',
    });
    expect({ status: own.status, ...((await own.json()) as object) }).toMatchObject({
      status: 403,
      code: 'MAKER_CHECKER_VIOLATION',
      title: '无权操作',
    });
    expect((await host.sealflow.templates.getVersion(draft.id))!.status).toBe('PENDING_APPROVAL');
  });
});
