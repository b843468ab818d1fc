/**
 * Every edit someone with write access to the database and the document store can make to a signing, made for real
 * on PGlite and an fs (or memory) document store: each must be reported by `verifyEvidence`, `download`, the
 * export's verification or `verifyAudit` exactly as the matrix in `reliability/suites/tamper.ts` expects, or be one
 * of the out-of-reach edits that `docs/guarantees.md` explains. `pnpm reliability tamper` runs the same matrix and
 * writes its table into `docs/reliability.md`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OUT_OF_REACH, TAMPER_CASES, tamperSession } from '../../../reliability/suites/tamper.js';

const guarantees = readFileSync(new URL('../../../docs/guarantees.md', import.meta.url), 'utf8');

describe('every edit a database or storage editor can make, on PGlite', () => {
  const session = tamperSession();
  afterAll(() => session.close());

  for (const c of TAMPER_CASES) {
    it(`${c.artefact}: ${c.edit}`, async () => {
      const row = await session.run(c);
      expect(row.observation.servedAltered).toBe(false);
      expect(row.observation.findings).toEqual(c.expected);
      expect(row.verdict).toBe(c.outOfReach ? 'out of reach' : 'detected');
    });
  }

  it('explains every edit out of reach in docs/guarantees.md', () => {
    const used = new Set(TAMPER_CASES.flatMap((c) => (c.outOfReach ? [c.outOfReach] : [])));
    expect([...used].sort()).toEqual(Object.keys(OUT_OF_REACH).sort());
    for (const key of used) expect(guarantees).toContain(`\`${key}\``);
  });
});
