/**
 * What a founded complaint costs the institution it counts against, written when its penalty is confirmed by the
 * second of the two confirmers — the moment the decision becomes final — in that confirmation's own transaction.
 *
 * Every founded complaint reaches this point: its decision always proposes a penalty (a warning at the least), so
 * there is no founded complaint decided without a confirmation. An unfounded, refused or suggested complaint never
 * does, and changes nothing. The statistics are counters and the suspension an end time, so the write is a pure
 * function of the institution as stored and the complaint's saved context: a retried transaction writes it again
 * from the same inputs, and a confirmation repeated after it committed is refused before it gets here.
 */
import { NotFoundError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { Penalty } from './complaint.js';
import { type Institution, institutionRepository, isSuspendedAt } from './institution.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The institution as changed by one confirmed penalty, decided at `at` (epoch ms). */
export function penalisedInstitution(institution: Institution, penalty: Penalty, at: number): Institution {
  const stats = {
    ...institution.stats,
    complaintsFounded: institution.stats.complaintsFounded + 1,
    penaltiesFen: institution.stats.penaltiesFen + (penalty.kind === 'fine' ? penalty.amountFen : 0),
  };
  if (penalty.kind !== 'suspension') return { ...institution, stats };
  // A suspension by hand has no end and is not shortened by a penalty; a running one is extended, never cut short.
  if (institution.status === 'SUSPENDED' && institution.suspendedUntil === null) return { ...institution, stats };
  const until = at + penalty.days * DAY_MS;
  const running = isSuspendedAt(institution, at) ? (institution.suspendedUntil ?? until) : 0;
  return { ...institution, stats, status: 'SUSPENDED', suspendedUntil: Math.max(until, running) };
}

/**
 * Record a confirmed penalty against `institutionId` in `tx`. An institution that is not registered fails the
 * confirmation with `NotFoundError`, so a penalty is never lost silently: register it, then confirm again.
 */
export async function recordPenalty(
  tx: PersistenceTransaction,
  complaint: { complaintNo: string; institutionId: string; penalty: Penalty; at: number },
): Promise<void> {
  const stored = await institutionRepository.get(tx, complaint.institutionId);
  if (!stored) {
    throw new NotFoundError(
      `Complaint ${complaint.complaintNo} counts against institution ${complaint.institutionId}, which is not ` +
        'registered, so its penalty cannot be recorded. Register the institution, then confirm the penalty again.',
      { details: { complaintNo: complaint.complaintNo, institutionId: complaint.institutionId } },
    );
  }
  const next = penalisedInstitution(stored.record, complaint.penalty, complaint.at);
  await institutionRepository.update(tx, stored, next, complaint.at);
}
