/**
 * The rows of the two reports read from what sealflow stores — loan applications, offers and institutions — so a host
 * that runs funder dispatch on sealflow does not assemble them itself. Each read is one transaction over the
 * `Persistence` port, a page of records at a time, so a period of tens of thousands of applications reads the same
 * way as a handful.
 */
import {
  APPLICATION_STATUSES,
  type ApplicationStatus,
  applicationRepository,
  institutionRepository,
  type LoanApplication,
  type OfferStatus,
  offerViews,
  type Persistence,
  type PersistenceTransaction,
  type Repository,
  ValidationError,
} from '@sealflow/core';
import { z } from 'zod';
import { type ApplicationRow, dateSchema } from './business-statistics.js';
import type { InstitutionPerformance } from './regional-ranking.js';
import { addFen, byCodePoint, parseOrThrow } from './validate.js';

/** Days of a report, both ends included, written `YYYY-MM-DD`. */
export interface ReportPeriod {
  /** The first day, `YYYY-MM-DD`. */
  from: string;
  /** The last day, `YYYY-MM-DD` (included). */
  to: string;
}

/**
 * How {@link readApplicationRows} prints each application status unless told otherwise: the Chinese a lending
 * back office uses for each of the 14 stages of `APPLICATION_STATUSES`.
 */
export const APPLICATION_STATUS_NAMES: Readonly<Record<ApplicationStatus, string>> = Object.freeze({
  registering: '登记中',
  collectingMaterials: '收集材料',
  manualIntervention: '人工介入',
  confirmingProduct: '确认产品',
  productConfirmed: '产品已确认',
  inReview: '贷审中',
  rejectionCheck: '驳回审核',
  rejected: '已驳回',
  dispatching: '派发中',
  institutionProcessing: '机构处理中',
  settlement: '结算中',
  settled: '已结算',
  rated: '已评价',
  closed: '已关闭',
});

/** Options of {@link readInstitutionPerformance}. */
export interface InstitutionPerformanceQuery {
  /** The days whose offers and applications are counted (see {@link readInstitutionPerformance}). */
  period: ReportPeriod;
  /**
   * Printed names of the stored region codes, e.g. `{ '310000': '上海市' }`. A code without a name is printed as
   * the code. Codes given the same name are reported as one region.
   */
  regionNames?: Readonly<Record<string, string>>;
  /** The IANA time zone the period's days are counted in. Default `Asia/Shanghai` (China time). */
  timeZone?: string;
}

/** Options of {@link readApplicationRows}. */
export interface ApplicationRowsQuery {
  /** The days, in China time, on which the applications were opened. */
  period: ReportPeriod;
  /** Printed names of the stored product codes, e.g. `{ HOUSE: '房抵贷' }`. A code without a name is printed as it is. */
  productNames?: Readonly<Record<string, string>>;
  /** Printed names of statuses, laid over {@link APPLICATION_STATUS_NAMES}. */
  statusNames?: Readonly<Partial<Record<ApplicationStatus, string>>>;
  /**
   * The customer manager's name for their id in your user directory. sealflow keeps no names of staff, so the host
   * supplies them; called once per manager, after the read transaction has ended.
   */
  managerName: (customerManagerId: string) => string | Promise<string>;
}

const PAGE = 500;
const CHINA_TIME = 'Asia/Shanghai';
/**
 * Records are listed from this long before the first day's midnight UTC: no zone is more than 14 hours ahead of UTC,
 * and the extra day covers a time an event carried from just before its transaction was stored.
 */
const EARLIEST_WRITE_MARGIN_MS = (14 + 24) * 3_600_000;
/** Offers the institution accepted, whatever the customer then chose. */
const ACCEPTED: ReadonlySet<OfferStatus> = new Set(['accepted', 'chosen', 'released']);

const periodSchema = z
  .object({ from: dateSchema, to: dateSchema })
  .refine((p) => p.from <= p.to, 'The period must not end before it starts (from ≤ to).');
const printedName = z.string().trim().min(1, 'A printed name must not be empty.');
const namesSchema = z.record(z.string(), printedName);

const performanceQuerySchema = z.object({
  period: periodSchema,
  regionNames: namesSchema.optional(),
  timeZone: z.string().min(1).optional(),
});

const rowsQuerySchema = z.object({
  period: periodSchema,
  productNames: namesSchema.optional(),
  statusNames: z.partialRecord(z.enum(APPLICATION_STATUSES), printedName).optional(),
  managerName: z.custom<ApplicationRowsQuery['managerName']>(
    (value) => typeof value === 'function',
    'managerName must be a function returning the customer manager’s name for an id.',
  ),
});

/**
 * One {@link InstitutionPerformance} row per region and institution, for `regionalRanking`, from the offers made and
 * the applications opened within `period` (days in `timeZone`, China time by default):
 *
 * - `amountFen`: the amounts disbursed (the settled figure once settlement is confirmed) on the applications opened in
 *   the period that the institution took in that region and disbursed;
 * - `successes`: how many of those applications reached disbursement;
 * - `meanResponseMs`: the mean of answer time − offer time over its offers made in the period in that region that it
 *   answered (accepted or declined), rounded to the millisecond; `null` when it answered none;
 * - `abandonmentRate`: of the applications it accepted an offer for in the period in that region (each counted once),
 *   the share it abandoned (弃单) — taken, then failed to process, so the application went back to dispatch without
 *   it (it is among the application's `failedInstitutions`); 0 when it accepted none.
 *
 * An institution appears in a region when it was offered an application there in the period or holds one opened
 * there in the period. Its name is the registered one (its id when it is not registered). Rows come by region, then
 * institution id. Throws `ValidationError` for a bad period, an empty printed name or an unknown time zone.
 */
export async function readInstitutionPerformance(
  persistence: Persistence,
  options: InstitutionPerformanceQuery,
): Promise<InstitutionPerformance[]> {
  checkPersistence(persistence);
  const { period, regionNames = {}, timeZone = CHINA_TIME } = parseOrThrow(performanceQuerySchema, options, 'options');
  const inPeriod = periodTest(period, timeZone);
  const regionOf = (code: string) => (Object.hasOwn(regionNames, code) ? regionNames[code]! : code);

  return persistence.transaction(async (tx) => {
    const tallies = new Map<string, Tally>();
    const tallyOf = (regionCode: string, institutionId: string): Tally => {
      const region = regionOf(regionCode);
      const key = JSON.stringify([region, institutionId]);
      let tally = tallies.get(key);
      if (!tally) {
        tally = {
          region,
          institutionId,
          amountFen: 0,
          successes: 0,
          answers: 0,
          responseMsTotal: 0,
          accepted: new Set(),
        };
        tallies.set(key, tally);
      }
      return tally;
    };

    const failedInstitutions = new Map<string, readonly string[]>();
    const since = earliestWrite(period.from);
    await eachRecord(
      tx,
      applicationRepository,
      (a) => a.applicationId,
      since,
      (application) => {
        failedInstitutions.set(application.applicationId, application.failedInstitutions);
        if (!inPeriod(application.openedAt) || application.institutionId === null) return;
        const lent = lentFen(application);
        if (lent === null) return;
        const tally = tallyOf(application.region, application.institutionId);
        tally.successes += 1;
        tally.amountFen = addFen(tally.amountFen, lent, 'amount handled');
      },
    );
    await eachRecord(
      tx,
      offerViews,
      (o) => o.offerId,
      since,
      (offer) => {
        if (!inPeriod(offer.offeredAt)) return;
        const tally = tallyOf(offer.region, offer.institutionId);
        if (offer.answeredAt !== null) {
          tally.answers += 1;
          tally.responseMsTotal += offer.answeredAt - offer.offeredAt;
        }
        if (ACCEPTED.has(offer.status)) tally.accepted.add(offer.applicationId);
      },
    );

    const names = await institutionNames(
      tx,
      [...tallies.values()].map((t) => t.institutionId),
    );
    const rows: InstitutionPerformance[] = [];
    for (const tally of tallies.values()) {
      let abandoned = 0;
      for (const applicationId of tally.accepted) {
        // An application last written before the period (rare: its offer was made after) is read on its own.
        const failed =
          failedInstitutions.get(applicationId) ??
          (await applicationRepository.get(tx, applicationId))?.record.failedInstitutions ??
          [];
        if (failed.includes(tally.institutionId)) abandoned += 1;
      }
      rows.push({
        region: tally.region,
        institutionId: tally.institutionId,
        institutionName: names.get(tally.institutionId)!,
        amountFen: tally.amountFen,
        meanResponseMs: tally.answers === 0 ? null : Math.round(tally.responseMsTotal / tally.answers),
        successes: tally.successes,
        abandonmentRate: tally.accepted.size === 0 ? 0 : abandoned / tally.accepted.size,
      });
    }
    return rows.sort((a, b) => byCodePoint(a.region, b.region) || byCodePoint(a.institutionId, b.institutionId));
  });
}

/**
 * One {@link ApplicationRow} per loan application opened within `period` (China time), for `businessStatistics`:
 *
 * - `applicationNo`: the application number; `periodDate`: the day it was opened, `YYYY-MM-DD` in China time;
 * - `product`: the product code printed through `productNames`; `status`: its status printed through
 *   `statusNames` over {@link APPLICATION_STATUS_NAMES};
 * - `customerManagerId` / `customerManagerName`: the manager who opened it, named by `managerName`;
 * - `amountFen`: the amount disbursed once it has been (the settled figure once settlement is confirmed), else the
 *   amount applied for;
 * - `institution`: the registered name of the institution it is with (its id when not registered), absent when it
 *   is with none.
 *
 * Rows come by date, then application number. Throws `ValidationError` for a bad period or name table, and when
 * `managerName` gives no name for an id.
 */
export async function readApplicationRows(
  persistence: Persistence,
  options: ApplicationRowsQuery,
): Promise<ApplicationRow[]> {
  checkPersistence(persistence);
  const {
    period,
    productNames = {},
    statusNames = {},
    managerName,
  } = parseOrThrow(rowsQuerySchema, options, 'options');
  const inPeriod = periodTest(period, CHINA_TIME);
  const dayOf = dayReader(CHINA_TIME);
  const statuses = { ...APPLICATION_STATUS_NAMES, ...statusNames };

  const rows = await persistence.transaction(async (tx) => {
    const opened: LoanApplication[] = [];
    await eachRecord(
      tx,
      applicationRepository,
      (a) => a.applicationId,
      earliestWrite(period.from),
      (application) => {
        if (inPeriod(application.openedAt)) opened.push(application);
      },
    );
    const names = await institutionNames(
      tx,
      opened.flatMap((a) => (a.institutionId === null ? [] : [a.institutionId])),
    );
    return opened.map((a): ApplicationRow => {
      const row: ApplicationRow = {
        applicationNo: a.applicationNumber,
        periodDate: dayOf(a.openedAt),
        product: Object.hasOwn(productNames, a.productCode) ? productNames[a.productCode]! : a.productCode,
        status: statuses[a.status],
        customerManagerId: a.customerManagerId,
        customerManagerName: '',
        amountFen: lentFen(a) ?? a.amountFen,
      };
      if (a.institutionId !== null) row.institution = names.get(a.institutionId)!;
      return row;
    });
  });

  // Named after the transaction: the host's directory may be slow, and a read transaction should not wait on it.
  const managers = new Map<string, string>();
  for (const row of rows) {
    const id = row.customerManagerId;
    if (!managers.has(id)) managers.set(id, await nameOf(managerName, id));
    row.customerManagerName = managers.get(id)!;
  }
  return rows.sort((a, b) => byCodePoint(a.periodDate, b.periodDate) || byCodePoint(a.applicationNo, b.applicationNo));
}

interface Tally {
  region: string;
  institutionId: string;
  amountFen: number;
  successes: number;
  answers: number;
  responseMsTotal: number;
  /** Applications it accepted an offer for. */
  accepted: Set<string>;
}

/** The amount lent: the settled figure once confirmed, else the disbursement recorded; null before disbursement. */
function lentFen(application: LoanApplication): number | null {
  return application.settlement?.disbursedFen ?? application.disbursedFen;
}

function checkPersistence(persistence: Persistence): void {
  if (typeof (persistence as Partial<Persistence> | null)?.transaction !== 'function') {
    throw new ValidationError(
      'Pass the Persistence sealflow stores its data in (the one its runtime was created with).',
      {
        details: { paths: ['persistence'] },
      },
    );
  }
}

async function nameOf(managerName: ApplicationRowsQuery['managerName'], id: string): Promise<string> {
  const name = await managerName(id);
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ValidationError(
      `managerName gave no name for customer manager ${id}: return the name your user directory has for that id.`,
      { details: { customerManagerId: id } },
    );
  }
  return name;
}

/** Every record of `repository` written at or after `since`, a page at a time. */
async function eachRecord<T>(
  tx: PersistenceTransaction,
  repository: Repository<T>,
  idOf: (record: T) => string,
  since: number,
  visit: (record: T) => void,
): Promise<void> {
  for (let afterId: string | undefined; ; ) {
    const page = await repository.find(tx, { updatedFrom: since, limit: PAGE, ...(afterId ? { afterId } : {}) });
    for (const stored of page) visit(stored.record);
    if (page.length < PAGE) return;
    afterId = idOf(page.at(-1)!.record);
  }
}

/** Registered names of the institutions, an unregistered one under its id. */
async function institutionNames(tx: PersistenceTransaction, ids: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const id of ids) {
    if (names.has(id)) continue;
    names.set(id, (await institutionRepository.get(tx, id))?.record.name ?? id);
  }
  return names;
}

function earliestWrite(from: string): number {
  const [year, month, day] = from.split('-').map(Number) as [number, number, number];
  return Date.UTC(year, month - 1, day) - EARLIEST_WRITE_MARGIN_MS;
}

/** The calendar day of an instant in `timeZone`, `YYYY-MM-DD`. */
function dayReader(timeZone: string): (at: number) => string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    throw new ValidationError(
      `Unknown time zone ${JSON.stringify(timeZone)}: give an IANA name such as Asia/Shanghai.`,
      {
        details: { paths: ['options.timeZone'] },
      },
    );
  }
  return (at) => {
    const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}`;
  };
}

function periodTest(period: ReportPeriod, timeZone: string): (at: number) => boolean {
  const dayOf = dayReader(timeZone);
  return (at) => {
    const day = dayOf(at);
    return day >= period.from && day <= period.to;
  };
}
