/**
 * How the demo talks: short lines, amounts in yuan, records as the back office shows them (personal data only
 * masked), and the chapters' shared state.
 */
import type { DomainEvent, SigningRecord } from '@sealflow/core';
import { dateInChina, SIGNING_STATUS_LABELS } from '@sealflow/core';
import type { Quickstart } from './setup.js';

export type Log = (line: string) => void;

/** What every chapter works with. */
export interface Chapter {
  qs: Quickstart;
  log: Log;
  /** Where the signed PDFs, the evidence manifest and the reports are left. */
  outputDir: string;
}

/** "1 check", "2 checks": the demo's output is read by people. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** Integer fen as yuan with separators: 5000000 → "50,000.00". */
export function yuan(fen: number): string {
  const whole = Math.trunc(fen / 100).toLocaleString('en-US');
  return `${whole}.${String(fen % 100).padStart(2, '0')}`;
}

/** The simulated clock's time in China, to the minute. */
export function chinaTime(epochMs: number): string {
  const shifted = new Date(epochMs + 8 * 3_600_000).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 16)}`;
}

/** Today in China on the simulated clock, `YYYY-MM-DD`. */
export function today(qs: Quickstart): string {
  return dateInChina(new Date(qs.clock.now()));
}

/** 'YYYY-MM-DD' plus whole months, for the loan's end date. */
export function addMonths(isoDate: string, months: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

/** A signing record in two or three lines. */
export function printRecord(log: Log, r: SigningRecord): void {
  log(
    `   ${r.id}: ${r.status} (${SIGNING_STATUS_LABELS[r.status]}), attempt ${r.attempt}, ` +
      `customer ${r.customer.maskedName} ${r.customer.maskedIdNumber}`,
  );
  for (const d of r.signed) log(`     signed ${d.documentKey}: ${count(d.signatures ?? 0, 'signature')}`);
  for (const s of r.sealsUsed)
    log(`     ${s.role} sealed with ${s.sealId} (certificate ${s.certificateSha256?.slice(0, 12)}…)`);
  if (r.failure) log(`     failure ${r.failure.code} at ${r.failure.stage}: ${r.failure.message}`);
}

/** One line per domain event: its type and the ids it names (events never carry personal data). */
export function describeEvent(event: DomainEvent): string {
  const p = event.payload as Record<string, unknown>;
  const subject = [p.businessNo, p.applicationNumber, p.versionId, p.institutionId, p.outcome]
    .filter((v) => typeof v === 'string')
    .join(' ');
  return `   · ${event.type.padEnd(42)} ${subject}`;
}

/**
 * Poll until `check` returns a value (the background worker moves things between the calls). Generous: the demo
 * may run on a loaded machine.
 */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
