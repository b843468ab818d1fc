/**
 * One host process of the scale-out suite, forked by the parent with IPC:
 * `node --import tsx --conditions=@sealflow/source host-process.ts '<HostArguments as JSON>'`.
 *
 * It opens its own pool on the shared schema, runs a background worker from the start (so it also finishes work
 * the other processes started), and on `go` takes its share of requests as a lending system's request handlers
 * would: `inFlight` at a time. On `stop` it stops its worker and reports its CPU time and how many times each effect
 * ran here, so the parent can tell "ran twice" across processes.
 */
import {
  dateInChina,
  type Sealflow,
  type SignRequest,
  type WorkflowDefinition,
} from '../../packages/core/src/index.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { AMOUNT_FEN, borrower, cm, followUp, reviewer, staffOf } from './actors.js';
import { type FromHost, type HostArguments, openHost, type ToHost } from './host-options.js';

const args = JSON.parse(process.argv[2]!) as HostArguments;
const send = (message: FromHost) => process.send!(message);

const effectRuns: Record<string, number> = {};
/** Every workflow's effects counted per idempotency key when they succeed here: one key is one intended effect. */
function counted(builtIn: WorkflowDefinition[]): WorkflowDefinition[] {
  return builtIn.map((definition) => ({
    ...definition,
    effects: Object.fromEntries(
      Object.entries(definition.effects).map(([name, effect]) => [
        name,
        {
          ...effect,
          async run(params: never, context: never) {
            const result = await effect.run(params, context);
            const key = `${name}:${(context as { idempotencyKey: string }).idempotencyKey}`;
            effectRuns[key] = (effectRuns[key] ?? 0) + 1;
            return result;
          },
        },
      ]),
    ),
  })) as WorkflowDefinition[];
}

const persistence = await postgresPersistence({
  connectionString: args.connectionString,
  schema: args.schema,
  max: args.poolSize,
});
const host = await openHost(persistence, args, { worker: true, workflows: counted });
const cpuAtStart = process.cpuUsage();

async function sign(host: Sealflow, prefix: string, i: number, person: number, version: string): Promise<void> {
  const at = Date.now();
  const request: SignRequest = {
    businessNo: `${prefix}-${String(i).padStart(6, '0')}`,
    scene: 'LOAN_CONTRACT',
    borrower: borrower(person),
    values: {
      loan: { amount: `${10_000 + (i % 900) * 100}.00`, startDate: dateInChina(new Date(at)), termMonths: 12 },
      credit: { limit: '100000.00' },
    },
    consent: { at, channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: [version] },
    actor: { id: 'lending-system' },
  };
  await host.signing.sign(request);
}

/** Intake to the customer's choice: the hand-over to the chosen institution is the workers' part. */
async function dispatchOne(host: Sealflow, prefix: string, i: number, person: number): Promise<void> {
  const dispatch = host.dispatch!;
  const customer = borrower(person);
  const { applicationId } = await dispatch.applications.open(cm, {
    applicationNumber: `${prefix}-${String(i).padStart(6, '0')}`,
    customer,
    productCode: 'HOUSE',
    amountFen: AMOUNT_FEN,
    region: '310000',
    businessCategory: 'mortgage',
  });
  await dispatch.applications.registerCustomer(cm, applicationId, customer);
  await dispatch.applications.submitMaterials(cm, applicationId, [
    { kind: 'id-card', documentId: 'doc-1', complete: true },
    { kind: 'property-certificate', documentId: 'doc-2', complete: true },
  ]);
  await dispatch.applications.confirmProduct(cm, applicationId);
  await dispatch.applications.submitForReview(cm, applicationId);
  await dispatch.applications.pass(reviewer, applicationId);
  // Some worker (this process's or another's) starts the dispatch and makes its offers.
  const dispatchId = `dispatch:${applicationId}:1`;
  const until = Date.now() + 120_000;
  for (;;) {
    const view = await dispatch.offers.get(dispatchId, followUp).catch(() => null);
    const offer = view?.state === 'offering' ? view.offers[0] : undefined;
    if (offer) {
      await retrying(() => dispatch.offers.accept(offer.offerId, staffOf(offer.institutionId)));
      await retrying(() => dispatch.offers.choose(dispatchId, offer.institutionId, cm));
      return;
    }
    if (Date.now() > until) throw new Error(`${dispatchId} made no offer in 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A command again after a retryable conflict, as a host would (two desks meeting on one ledger row). */
async function retrying<T>(command: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await command();
    } catch (error) {
      if (!(error as { retryable?: boolean }).retryable || attempt === 10) throw error;
    }
  }
}

process.on('message', async (message: ToHost) => {
  if (message.type === 'go') {
    const failures: string[] = [];
    const version = args.work === 'signing' ? (await host.templates.requireEffective('LOAN_CONTRACT_V')).id : undefined;
    let next = 0;
    await Promise.all(
      Array.from({ length: message.inFlight }, async () => {
        while (next < message.count) {
          const i = next++;
          try {
            if (args.work === 'signing') await sign(host, message.prefix, i, message.offset + i, version!);
            else await dispatchOne(host, message.prefix, i, message.offset + i);
          } catch (error) {
            failures.push(`${args.name} #${i}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
          }
        }
      }),
    );
    send({ type: 'submitted', count: message.count, failures });
  } else if (message.type === 'stop') {
    await host.close();
    await persistence.close();
    const cpu = process.cpuUsage(cpuAtStart);
    send({ type: 'stopped', cpuMs: (cpu.user + cpu.system) / 1000, effectRuns });
    process.disconnect();
  }
});
send({ type: 'ready' });
