/**
 * `pnpm bench seal`: PAdES-sealing the filled 8-page contract, this package's `sealPdf` against the standard
 * node-signpdf recipe (pdf-lib load → @signpdf/placeholder-pdf-lib → save → @signpdf/signpdf with P12Signer).
 *
 * The baseline gets an ASCII-DN certificate because node-forge (inside P12Signer) corrupts Chinese DNs; ours seals
 * with the Chinese-DN certificate a lender would really use. Both sign with RSA-2048 / SHA-256, one signature per doc.
 * The input is the fixture with its 25 fields filled by plain pdf-lib (ASCII values, Helvetica), saved once.
 *
 * Then throughput, documents sealed per second with 8 seals in flight: in the calling thread (`sealPdf`, one at a
 * time whatever the concurrency), and through `createSealingPool` with 1 and with 2 worker threads, side by side in
 * one run. Each pooled result is checked like the others. The machine's core count bounds what 2 workers can give.
 *
 * Beside the RSA rows, in the same run: the same invisible seal with an ECDSA P-256 key, with an SM2 key (国密, SM3
 * digest, SM2-with-SM3 signature with its Z value), and PAdES B-T (RSA + a signature timestamp from the in-process
 * local TSA, so the TSA's own signing is in the figure but no network is).
 *
 * SEAL_BENCH_MS (default 3000) is the minimum time per latency row and SEAL_BENCH_DOCUMENTS (default 200) the
 * documents per throughput row: small values check that the suite runs, the defaults give the published figures.
 */
import { readFileSync } from 'node:fs';
import {
  createSealingPool,
  loadSigningIdentity,
  type SealingPool,
  type SealOptions,
  sealPdf,
  verifyPdfSignatures,
} from '../../packages/adapter-local/src/index.js';
import {
  createLocalTimestampAuthority,
  createSealImage,
  createTestIdentity,
} from '../../packages/adapter-local/src/testing/index.js';
import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { P12Signer } from '@signpdf/signer-p12';
import { SignPdf } from '@signpdf/signpdf';
import { PDFDocument, PDFTextField, StandardFonts } from 'pdf-lib';
import { type BenchRow, type BenchSuite, summarize } from '../harness.js';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';

const FIXTURE = CONTRACT_TEMPLATE_PDF;

async function filledFixture(): Promise<Uint8Array> {
  const doc = await PDFDocument.load(readFileSync(FIXTURE));
  const form = doc.getForm();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const field of form.getFields()) {
    if (field instanceof PDFTextField)
      field.setText(`Value of ${field.getName()}`.slice(0, field.getMaxLength() ?? 200));
  }
  form.updateFieldAppearances(font);
  return doc.save();
}

const IN_FLIGHT = 8;
const POOLED_DOCUMENTS = Number(process.env.SEAL_BENCH_DOCUMENTS ?? 200);
const MIN_MS = Number(process.env.SEAL_BENCH_MS ?? 3000);

/** Seal `count` documents with `IN_FLIGHT` at once through `seal`; documents per second. */
async function throughput(seal: (pdf: Uint8Array) => Promise<Uint8Array>, input: Uint8Array, count: number) {
  for (let i = 0; i < 10; i++) await seal(input); // warm-up: worker start, identity parse, JIT
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < count) await seal(input);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function pooledThroughput(size: number, input: Uint8Array, options: SealOptions): Promise<number> {
  const pool: SealingPool = createSealingPool({ size });
  try {
    const report = verifyPdfSignatures(await pool.seal(input, options));
    if (report.length !== 1 || !report[0]!.valid) throw new Error(`pool(${size}) sealed an invalid signature`);
    return await throughput((pdf) => pool.seal(pdf, options), input, POOLED_DOCUMENTS);
  } finally {
    await pool.close();
  }
}

async function measure(fn: () => Promise<unknown> | unknown, minMs = MIN_MS, minIterations = 30): Promise<number[]> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minIterations || performance.now() - start < minMs) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return samples;
}

const suite: BenchSuite = {
  name: 'seal',
  description: 'PAdES-seal the filled 8-page contract: sealPdf (incremental, node:crypto) vs @signpdf + P12Signer',
  async run(): Promise<BenchRow[]> {
    const input = Buffer.from(await filledFixture());
    const rect = { x: 80, y: 90, width: 140, height: 140 };
    const signingTime = new Date();

    const ascii = createTestIdentity({ commonName: 'Sandbox Signer', organization: 'Example Consumer Finance Co Ltd' });
    const baseline = async () => {
      const doc = await PDFDocument.load(input);
      pdflibAddPlaceholder({
        pdfDoc: doc,
        reason: 'Borrower signs',
        contactInfo: '',
        name: 'Sandbox Signer',
        location: 'Shanghai',
      });
      const withPlaceholder = Buffer.from(await doc.save({ useObjectStreams: false }));
      // A P12Signer signs once only (it consumes its buffer), so the recipe builds one per document.
      return new SignPdf().sign(
        withPlaceholder,
        new P12Signer(Buffer.from(ascii.pkcs12), { passphrase: ascii.password }),
      );
    };

    const chinese = createTestIdentity({ commonName: 'Sandbox Signer', organization: '某某消费金融股份有限公司' });
    const identity = loadSigningIdentity({ pkcs12: chinese.pkcs12, password: chinese.password });
    const image = createSealImage({ size: 240 });
    const ours = () => sealPdf(input, { identity, field: { page: 7, rect }, signingTime, reason: '借款人签署' });
    const keyed = (keyType: 'ec' | 'sm2') => {
      const made = createTestIdentity({
        commonName: 'Sandbox Signer',
        organization: '某某消费金融股份有限公司',
        keyType,
      });
      return loadSigningIdentity({ pkcs12: made.pkcs12, password: made.password });
    };
    const ecIdentity = keyed('ec');
    const sm2Identity = keyed('sm2');
    const oursEc = () => sealPdf(input, { identity: ecIdentity, field: { page: 7, rect }, signingTime });
    const oursSm2 = () => sealPdf(input, { identity: sm2Identity, field: { page: 7, rect }, signingTime });
    const tsa = createLocalTimestampAuthority();
    const oursBt = () => sealPdf(input, { identity, field: { page: 7, rect }, signingTime, timestampAuthority: tsa });
    const oursVisible = () =>
      sealPdf(input, { identity, field: { page: 7, rect }, appearance: { image }, signingTime, reason: '借款人签署' });

    // Both outputs must be valid before their timings mean anything.
    for (const [label, bytes] of [
      ['sealPdf', ours()],
      ['sealPdf+image', oursVisible()],
      ['sealPdf EC P-256', oursEc()],
      ['sealPdf SM2', oursSm2()],
      ['sealPdf B-T', await oursBt()],
      ['@signpdf', await baseline()],
    ] as const) {
      const report = verifyPdfSignatures(bytes);
      if (report.length !== 1 || !report[0]!.valid)
        throw new Error(`${label} produced an invalid signature: ${JSON.stringify(report)}`);
      if (label === 'sealPdf B-T' && !report[0]!.timestamp) throw new Error('sealPdf B-T carries no timestamp');
    }

    const b = summarize(await measure(baseline));
    const o = summarize(await measure(ours));
    const v = summarize(await measure(oursVisible));
    const ec = summarize(await measure(oursEc));
    const sm2 = summarize(await measure(oursSm2));
    const bt = summarize(await measure(oursBt));
    const visibleOptions: SealOptions = { identity, field: { page: 7, rect }, appearance: { image }, signingTime };
    const inThread = await throughput(async (pdf) => sealPdf(pdf, visibleOptions), input, POOLED_DOCUMENTS);
    const pooled1 = await pooledThroughput(1, input, visibleOptions);
    const pooled2 = await pooledThroughput(2, input, visibleOptions);
    const inThreadName = `in the calling thread, ${IN_FLIGHT} in flight (sealPdf + seal image)`;
    const ratio = (x: number, base: number) => base / x; // > 1: ours is faster
    const kb = (input.length / 1024).toFixed(0);
    return [
      { name: `@signpdf recipe, ${kb} KB input, median`, unit: 'ms', value: b.median },
      { name: '@signpdf recipe, p95', unit: 'ms', value: b.p95 },
      {
        name: 'sealPdf invisible, median',
        unit: 'ms',
        value: o.median,
        baseline: '@signpdf median',
        baselineValue: b.median,
        ratio: ratio(o.median, b.median),
      },
      {
        name: 'sealPdf invisible, p95',
        unit: 'ms',
        value: o.p95,
        baseline: '@signpdf p95',
        baselineValue: b.p95,
        ratio: ratio(o.p95, b.p95),
      },
      {
        name: 'sealPdf + 240px PNG seal, median',
        unit: 'ms',
        value: v.median,
        baseline: '@signpdf median',
        baselineValue: b.median,
        ratio: ratio(v.median, b.median),
      },
      {
        name: 'sealPdf + 240px PNG seal, p95',
        unit: 'ms',
        value: v.p95,
        baseline: '@signpdf p95',
        baselineValue: b.p95,
        ratio: ratio(v.p95, b.p95),
      },
      ...(
        [
          ['sealPdf invisible, ECDSA P-256', ec],
          ['sealPdf invisible, SM2/SM3 (国密)', sm2],
          ['sealPdf invisible, B-T (RSA + local TSA token)', bt],
        ] as const
      ).flatMap(([label, stats]) => [
        {
          name: `${label}, median`,
          unit: 'ms',
          value: stats.median,
          baseline: 'sealPdf invisible (RSA) median',
          baselineValue: o.median,
          ratio: ratio(stats.median, o.median),
        },
        { name: `${label}, p95`, unit: 'ms', value: stats.p95 },
      ]),
      { name: inThreadName, unit: 'docs/s', value: inThread },
      ...[
        [1, pooled1],
        [2, pooled2],
      ].map(([size, rate]) => ({
        name: `createSealingPool({ size: ${size} }), ${IN_FLIGHT} in flight`,
        unit: 'docs/s',
        value: rate!,
        baseline: inThreadName,
        baselineValue: inThread,
        ratio: rate! / inThread,
      })),
    ];
  },
};

export default suite;
