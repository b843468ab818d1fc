import type { ReliabilitySuite } from '../suite.js';
import { firstLines, runVitest } from '../vitest-run.js';

const suite: ReliabilitySuite = {
  name: 'personal-data',
  title: 'No personal data in logs, errors, events or webhooks',
  description: `
Representative flows run with four people who appear nowhere else in the code: a credit signing that completes, one
the real-name check refuses, requests with an ID number or a mobile where an amount belongs or a malformed ID number,
a vendor callback carrying a mobile and an ID number, a loan application taken through review into dispatch with a
second person's details pushed in, and a complaint whose text names the customer with mobile and ID number.
Everything that leaves the SDK is captured: every line of a memory logger, every domain event, every notification,
every webhook body as a receiver on loopback got it, and the code, message and details of every error thrown. Each
captured text is searched for the people's ID numbers, mobiles and names in plain text, and for anything shaped
like an 18-digit ID number or a mainland mobile (\`1[3-9]\` and nine more digits) whoever it belongs to. One hit
fails the suite; the check also plants a leak of each kind to show the search finds it.

Why flows and not a scan of the whole test run: tests deliberately put personal data into inputs, fixtures and
assertion messages, and a setup file cannot tell a leak from a test that checks one. A fixed set of flows with
people unique to the scan, through the same outputs a host wires up, gives a check that fails only on a real leak.
Each part of the SDK still has its own tests that its messages are masked. The check is
\`reliability/checks/personal-data.check.ts\`; both scales run all of it.`,
  async run() {
    const result = await runVitest(['reliability/checks/personal-data.check.ts']);
    const failed = result.tests.filter((t) => t.status === 'failed');
    const findings = [
      ...result.fileErrors,
      ...failed.map((t) => `${t.name}: ${firstLines(t.failures.join('\n'), 12)}`),
    ];
    if (result.exitCode !== 0 && findings.length === 0) findings.push(`vitest exited with code ${result.exitCode}`);
    const outcome = result.tests.find((t) => t.outcome)?.outcome ?? 'the scan did not run';
    return {
      passed: findings.length === 0,
      findings,
      figures: [
        { label: 'Scanned', value: outcome },
        { label: 'Wall time', value: `${(result.durationMs / 1000).toFixed(1)} s` },
      ],
    };
  },
};
export default suite;
