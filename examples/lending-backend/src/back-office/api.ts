/**
 * The back office's JSON API: templates and their approval, signing records, the dispatch board, settlement,
 * complaints, ranking explanations, evidence checks and the statistics report. Every input is parsed with zod here
 * at the edge; sealflow checks the rest (roles, maker-checker, states) and its typed errors become problem details.
 *
 * Amounts leave as integer fen and times as epoch ms: the page formats them (元, Asia/Shanghai), so the API stays
 * exact for scripts.
 */
import {
  type DispatchActor,
  diffDefinitions,
  isSuspendedAt,
  NotFoundError,
  type RankingCandidate,
  type RankingWeights,
  rankInstitutions,
  type Sealflow,
  SIGNING_STATUS_LABELS,
  SIGNING_STATUSES,
  TEMPLATE_STATUS_LABELS,
  TEMPLATE_STATUSES,
  type TemplateVersionView,
  ValidationError,
} from '@sealflow/core';
import {
  APPLICATION_STATUS_NAMES,
  businessStatistics,
  readApplicationRows,
  STATISTICS_GROUPINGS,
  toPdf,
  toXlsx,
} from '@sealflow/reports';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BACK_OFFICE_ROLES, type Operator, requireRole } from './auth.js';
import { parseInput } from './problem.js';

/** What the API needs besides sealflow; see `BackOfficeOptions`. */
export interface ApiOptions {
  productNames: Readonly<Record<string, string>>;
  staffName: (operatorId: string) => string;
  rankingWeights: Partial<RankingWeights> | undefined;
  maxUploadBytes: number;
}

/** Offer statuses in the words operations use. */
const OFFER_STATUS_LABELS: Readonly<Record<string, string>> = {
  open: '待答复',
  accepted: '已接单',
  declined: '已拒单',
  expired: '已超时',
  withdrawn: '已撤回',
  chosen: '客户已选',
  released: '已释放',
};

const DAY_MS = 86_400_000;
const chinaDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD, such as 2026-11-30');
/** Midnight of a China date, epoch ms: China has no daylight saving, so +08:00 all year. */
const chinaMidnight = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

const id = (what: string) => z.string().trim().min(1, `${what} is required`).max(250);
const reasonText = z.string().trim().min(1, 'a reason is required').max(2000);

const RecordFilter = z.object({
  status: z.enum(SIGNING_STATUSES).optional(),
  scene: z.string().trim().min(1).max(64).optional(),
  businessNo: z.string().trim().min(1).max(128).optional(),
  from: chinaDate.optional(),
  to: chinaDate.optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

const UploadQuery = z.object({
  code: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'a template code is upper-case letters, digits and _, such as LOAN_V'),
  name: z.string().trim().min(1).max(100).optional(),
  documentType: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'a document type is such as LOAN_CONTRACT')
    .optional(),
});

const StatisticsQuery = z.object({
  from: chinaDate,
  to: chinaDate,
  groupBy: z.enum(STATISTICS_GROUPINGS).default('product'),
  format: z.enum(['xlsx', 'pdf']).default('xlsx'),
});

/** `attachment` or `inline` with the file name in UTF-8 (RFC 6266), so Chinese names survive. */
function disposition(kind: 'inline' | 'attachment', fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

function sendFile(reply: FastifyReply, bytes: Uint8Array, type: string, kind: 'inline' | 'attachment', name: string) {
  return reply
    .header('content-type', type)
    .header('content-disposition', disposition(kind, name))
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export function registerApi(
  app: FastifyInstance,
  sealflow: Sealflow,
  options: ApiOptions,
  operatorOf: (request: FastifyRequest) => Operator,
): void {
  const { templates, signing } = sealflow;
  const dispatchOrRefuse = () => {
    if (!sealflow.dispatch) {
      throw new NotFoundError(
        'Funder dispatch is not configured in this sealflow instance (createSealflow({ dispatch })).',
      );
    }
    return sealflow.dispatch;
  };
  const actorOf = (operator: Operator) => ({ id: operator.id, roles: [...operator.roles] });
  const dispatchActor = (operator: Operator): DispatchActor => actorOf(operator);

  // ---------------------------------------------------------------------------------------------------------------
  // Labels the page shows; sealflow's own where it has them.
  app.get('/api/meta', async (request) => {
    operatorOf(request);
    return {
      templateStatuses: TEMPLATE_STATUS_LABELS,
      signingStatuses: SIGNING_STATUS_LABELS,
      applicationStatuses: APPLICATION_STATUS_NAMES,
      offerStatuses: OFFER_STATUS_LABELS,
      scenes: Object.fromEntries([...signing.scenes.values()].map((scene) => [scene.code, scene.name])),
      products: options.productNames,
      now: sealflow.runtime.clock.now(),
    };
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Templates
  app.get('/api/templates', async (request) => {
    operatorOf(request);
    const query = parseInput(
      z.object({ status: z.enum(TEMPLATE_STATUSES).optional(), code: z.string().max(64).optional() }),
      request.query,
      'query',
    );
    return { versions: await templates.list({ ...query, limit: 500 }) };
  });

  app.get('/api/templates/:code', async (request) => {
    operatorOf(request);
    const { code } = parseInput(z.object({ code: id('code') }), request.params, 'path');
    const versions = await templates.list({ code, limit: 500 });
    if (versions.length === 0) throw new NotFoundError(`There is no template ${code}. Upload its PDF to create it.`);
    return {
      code,
      versions: versions.sort((a, b) => a.version - b.version),
      effective: await templates.getEffective(code),
      history: await templates.history(code),
    };
  });

  app.get('/api/templates/:code/diff', async (request) => {
    operatorOf(request);
    const { code } = parseInput(z.object({ code: id('code') }), request.params, 'path');
    const { from, to } = parseInput(z.object({ from: id('from'), to: id('to') }), request.query, 'query');
    const [before, after] = await Promise.all([versionOf(from), versionOf(to)]);
    if (before.code !== code || after.code !== code) {
      throw new ValidationError(`Both versions must be versions of ${code}; compare versions of one template.`, {
        details: { field: 'query' },
      });
    }
    return { from: before.id, to: after.id, changes: diffDefinitions(before.definition, after.definition) };
  });

  async function versionOf(versionId: string): Promise<TemplateVersionView> {
    const version = await templates.getVersion(versionId);
    if (!version) throw new NotFoundError(`There is no template version ${versionId}. Check the id in the list.`);
    return version;
  }

  app.get('/api/template-versions/:versionId/pdf', async (request, reply) => {
    operatorOf(request);
    const { versionId } = parseInput(z.object({ versionId: id('versionId') }), request.params, 'path');
    const version = await versionOf(versionId);
    const stored = await sealflow.documents.get(version.pdf.fileId);
    return sendFile(reply, stored.bytes, 'application/pdf', 'inline', `${version.id}.pdf`);
  });

  // A new template, or a new version of one: the PDF as the body; a new version keeps the latest definition, and
  // the editor adjusts it before submitting.
  app.post('/api/templates/upload', { bodyLimit: options.maxUploadBytes }, async (request) => {
    const operator = operatorOf(request);
    const query = parseInput(UploadQuery, request.query, 'query');
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      throw new ValidationError('Send the template PDF as the request body with Content-Type: application/pdf.', {
        details: { field: 'body' },
      });
    }
    const latest = (await templates.list({ code: query.code, limit: 500 })).sort((a, b) => b.version - a.version)[0];
    const name = query.name ?? latest?.definition.name;
    const documentType = query.documentType ?? latest?.definition.documentType;
    if (!name || !documentType) {
      throw new ValidationError(`${query.code} is a new template: give its name and documentType.`, {
        details: { paths: ['query.name', 'query.documentType'] },
      });
    }
    const { code: _code, name: _name, documentType: _type, ...definition } = latest?.definition ?? {};
    return templates.importTemplate(actorOf(operator), {
      code: query.code,
      name,
      documentType,
      pdf: new Uint8Array(body),
      ...(latest ? { definition: definition as never } : {}),
    });
  });

  app.post('/api/template-versions/:versionId/submit', async (request) => {
    const operator = operatorOf(request);
    const { versionId } = parseInput(z.object({ versionId: id('versionId') }), request.params, 'path');
    return templates.submit(actorOf(operator), versionId);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Approval inbox
  app.get('/api/approvals', async (request) => {
    operatorOf(request);
    const pending = await templates.list({ status: 'PENDING_APPROVAL', limit: 500 });
    return {
      pending: pending.map((version) => ({
        ...version,
        // The level the approver decides now; sent back with the decision so a stale screen is refused.
        level: version.approvals.length + 1,
      })),
    };
  });

  const Decision = z.object({ level: z.number().int().min(1).max(20).optional() });
  app.post('/api/approvals/:versionId/approve', async (request) => {
    const operator = operatorOf(request);
    const { versionId } = parseInput(z.object({ versionId: id('versionId') }), request.params, 'path');
    const { level } = parseInput(Decision, request.body, 'body');
    return templates.approve(actorOf(operator), versionId, level ? { level } : {});
  });

  app.post('/api/approvals/:versionId/reject', async (request) => {
    const operator = operatorOf(request);
    const { versionId } = parseInput(z.object({ versionId: id('versionId') }), request.params, 'path');
    const { level, reason } = parseInput(Decision.extend({ reason: reasonText }), request.body, 'body');
    return templates.reject(actorOf(operator), versionId, reason, level ? { level } : {});
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Signing records
  app.get('/api/signing-records', async (request) => {
    operatorOf(request);
    const { from, to, limit, ...filter } = parseInput(RecordFilter, request.query, 'query');
    if (from && to && from > to) {
      throw new ValidationError('The date range ends before it starts: choose a 起始日期 on or before the 截止日期.', {
        details: { paths: ['query.from', 'query.to'] },
      });
    }
    const records = await signing.find({
      ...filter,
      ...(from ? { from: chinaMidnight(from) } : {}),
      ...(to ? { to: chinaMidnight(to) + DAY_MS - 1 } : {}),
      limit: limit ?? 200,
    });
    return { records: records.sort((a, b) => b.createdAt - a.createdAt) };
  });

  app.get('/api/signing-records/:recordId', async (request) => {
    operatorOf(request);
    const { recordId } = parseInput(z.object({ recordId: id('recordId') }), request.params, 'path');
    const record = await signing.get(recordId);
    if (!record) throw new NotFoundError(`There is no signing record ${recordId}. Check the id in the list.`);
    return record;
  });

  app.get('/api/signing-records/:recordId/documents/:documentKey', async (request, reply) => {
    const operator = operatorOf(request);
    requireRole(operator, [BACK_OFFICE_ROLES.signingOperator], 'open signed contracts');
    const { recordId, documentKey } = parseInput(
      z.object({ recordId: id('recordId'), documentKey: id('documentKey') }),
      request.params,
      'path',
    );
    const { download } = parseInput(z.object({ download: z.enum(['0', '1']).optional() }), request.query, 'query');
    const documents = await signing.download(recordId);
    const document = documents.find((d) => d.documentKey === documentKey);
    if (!document) {
      throw new NotFoundError(
        `Signing ${recordId} has no document ${documentKey}; it has ${documents.map((d) => d.documentKey).join(', ')}.`,
      );
    }
    request.log.info({ recordId, documentKey, operator: operator.id }, 'signed document opened');
    return sendFile(
      reply,
      document.bytes,
      'application/pdf',
      download === '1' ? 'attachment' : 'inline',
      document.fileName,
    );
  });

  app.post('/api/signing-records/:recordId/resign', async (request) => {
    const operator = operatorOf(request);
    requireRole(operator, [BACK_OFFICE_ROLES.signingOperator], 're-sign (补签) a failed signing');
    const { recordId } = parseInput(z.object({ recordId: id('recordId') }), request.params, 'path');
    return signing.resign(recordId, { id: operator.id });
  });

  app.get('/api/signing-records/:recordId/evidence', async (request) => {
    operatorOf(request);
    const { recordId } = parseInput(z.object({ recordId: id('recordId') }), request.params, 'path');
    return signing.verifyEvidence(recordId);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Dispatch board: applications, offers with their deadlines, institutions with their positions (头寸).
  app.get('/api/dispatch', async (request) => {
    const actor = dispatchActor(operatorOf(request));
    const dispatch = dispatchOrRefuse();
    const [applications, offers, institutions] = await Promise.all([
      dispatch.applications.find(actor, { limit: 500 }),
      dispatch.offers.offersFor(actor, { limit: 500 }),
      dispatch.institutions.list(actor),
    ]);
    const positions = await Promise.all(
      institutions.map(async (institution) => ({
        institution,
        balances: await dispatch.institutions.balances(actor, institution.id),
      })),
    );
    return {
      now: sealflow.runtime.clock.now(),
      applications: applications.filter((a) => ['dispatching', 'institutionProcessing', 'inReview'].includes(a.status)),
      offers: offers.sort((a, b) => a.deadline - b.deadline),
      institutions: positions,
    };
  });

  // Why each institution would be offered an application now, term by term (explainable scores).
  app.get('/api/applications/:applicationId/ranking', async (request) => {
    const actor = dispatchActor(operatorOf(request));
    const { applicationId } = parseInput(z.object({ applicationId: id('applicationId') }), request.params, 'path');
    const dispatch = dispatchOrRefuse();
    const application = await dispatch.applications.get(actor, applicationId);
    if (!application) throw new NotFoundError(`There is no application ${applicationId}. Check the id on the board.`);
    const now = sealflow.runtime.clock.now();
    const institutions = await dispatch.institutions.list(actor);
    const candidates: RankingCandidate[] = await Promise.all(
      institutions.map(async (institution) => ({
        id: institution.id,
        status: isSuspendedAt(institution, now) ? ('SUSPENDED' as const) : ('ACTIVE' as const),
        regions: institution.regions,
        categories: institution.categories,
        capacity: institution.capacity,
        openApplications: institution.openCount,
        positionFen: (await dispatch.institutions.balances(actor, institution.id)).deposit,
        stats: institution.stats,
      })),
    );
    const result = rankInstitutions(
      { amountFen: application.amountFen, region: application.region, category: application.businessCategory },
      candidates,
      {
        excluded: application.failedInstitutions,
        ...(options.rankingWeights ? { weights: options.rankingWeights } : {}),
      },
    );
    const names = new Map(institutions.map((i) => [i.id, i.name]));
    return {
      applicationId,
      applicationNumber: application.applicationNumber,
      amountFen: application.amountFen,
      ranked: result.ranked.map((ranked) => ({
        id: ranked.id,
        name: names.get(ranked.id) ?? ranked.id,
        rank: ranked.rank,
        score: ranked.score,
        terms: ranked.explain().terms,
      })),
      rejected: result.rejected.map((r) => ({ ...r, name: names.get(r.id) ?? r.id })),
    };
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Settlement and complaints
  app.get('/api/settlement', async (request) => {
    const actor = dispatchActor(operatorOf(request));
    const dispatch = dispatchOrRefuse();
    const statuses = ['institutionProcessing', 'settlement', 'settled', 'rated', 'closed'] as const;
    const lists = await Promise.all(
      statuses.map((status) => dispatch.applications.find(actor, { status, limit: 500 })),
    );
    return { applications: lists.flat() };
  });

  app.get('/api/complaints', async (request) => {
    const actor = dispatchActor(operatorOf(request));
    return { complaints: await dispatchOrRefuse().complaints.list(actor) };
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Reports
  app.get('/api/reports/statistics', async (request, reply) => {
    operatorOf(request);
    const query = parseInput(StatisticsQuery, request.query, 'query');
    if (query.from > query.to) {
      throw new ValidationError('The report period ends before it starts: choose from on or before to.', {
        details: { paths: ['query.from', 'query.to'] },
      });
    }
    const period = { from: query.from, to: query.to };
    const rows = await readApplicationRows(sealflow.persistence, {
      period,
      productNames: options.productNames,
      managerName: (managerId) => options.staffName(managerId),
    });
    const report = businessStatistics(rows, { period, groupBy: query.groupBy });
    const generatedAt = new Date(sealflow.runtime.clock.now());
    const bytes = query.format === 'pdf' ? await toPdf(report, { generatedAt }) : await toXlsx(report, { generatedAt });
    const fileName = `业务统计_${query.from}_${query.to}.${query.format}`;
    const type =
      query.format === 'pdf' ? 'application/pdf' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    return sendFile(reply, bytes, type, 'attachment', fileName);
  });
}
