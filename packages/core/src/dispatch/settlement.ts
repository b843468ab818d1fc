/**
 * Settlement arithmetic (结算), in integer fen only: the platform's commission is the institution's commission plus
 * the customer service fee the institution collects, exactly — no rounding, no floats, so a settlement either adds
 * up to the fen or is refused.
 */
import { ValidationError } from '../errors.js';
import type { SettlementFigures } from './application.js';

const FIELDS = ['disbursedFen', 'institutionCommissionFen', 'customerServiceFeeFen', 'commissionFen'] as const;

function isFen(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Why `figures` are not a valid settlement of a loan whose institution reported `disbursedFen`, or undefined when
 * they are: every figure a non-negative whole number of fen, the disbursed amount positive and equal to the one
 * reported, and `commissionFen === institutionCommissionFen + customerServiceFeeFen`.
 */
export function settlementProblem(figures: SettlementFigures, reportedDisbursedFen: number | null): string | undefined {
  if (figures === null || typeof figures !== 'object') {
    return 'A settlement is { disbursedFen, institutionCommissionFen, customerServiceFeeFen, commissionFen } in fen.';
  }
  for (const field of FIELDS) {
    if (!isFen(figures[field])) {
      return `${field} must be a non-negative whole number of fen (no decimals, no negatives), got ${String(figures[field])}.`;
    }
  }
  if (figures.disbursedFen === 0) return 'disbursedFen must be more than 0: a settlement follows a disbursement.';
  if (reportedDisbursedFen !== null && figures.disbursedFen !== reportedDisbursedFen) {
    return (
      `disbursedFen ${figures.disbursedFen} differs from the ${reportedDisbursedFen} fen the institution reported ` +
      'as disbursed; confirm the amount with the institution and enter the disbursed amount on record.'
    );
  }
  const expected = figures.institutionCommissionFen + figures.customerServiceFeeFen;
  if (!Number.isSafeInteger(expected) || figures.commissionFen !== expected) {
    return (
      `commissionFen ${figures.commissionFen} must equal institutionCommissionFen ${figures.institutionCommissionFen} ` +
      `+ customerServiceFeeFen ${figures.customerServiceFeeFen} = ${expected} fen; correct the figures.`
    );
  }
  return undefined;
}

/** Throw a `ValidationError` (details `{ field: 'settlement' }`) unless the settlement adds up; see {@link settlementProblem}. */
export function checkSettlement(figures: SettlementFigures, reportedDisbursedFen: number | null): void {
  const problem = settlementProblem(figures, reportedDisbursedFen);
  if (problem !== undefined) throw new ValidationError(problem, { details: { field: 'settlement' } });
}
