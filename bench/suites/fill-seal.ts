/**
 * `pnpm bench fill-seal` (issue 4, Benchmark): fill the 25-field contract with each of the fixture's 200 Chinese
 * value sets and PAdES-seal it, in one process, this project against the standard recipe.
 *
 * - Standard recipe, as users write it from the pdf-lib and @signpdf docs, everything per document:
 *   pdf-lib load → `registerFontkit` → `embedFont(Noto Sans SC TTF, { subset: true })` → `setText` × 25 →
 *   `updateFieldAppearances(font)` → save → reload → `pdflibAddPlaceholder` → save (classic xref) →
 *   `SignPdf.sign` with a new `P12Signer` (it signs once per instance). Also the tighter variant that adds the
 *   placeholder to the same document before its one save (the @signpdf v3 pdf-lib example).
 *   The P12Signer gets an ASCII-DN certificate: node-forge corrupts Chinese DNs (forge #847), so with the
 *   lender's real certificate this recipe would produce invalid signatures.
 * - Ours: `prepareTemplate` once, then per document `render(values)` → `sealPdf` with a visible 240 px PNG seal on
 *   the last page, signed with a Chinese-DN RSA-2048 identity loaded once.
 *
 * The pipelines run interleaved in blocks of 20 documents (the same documents; before each block, outside the
 * timing, a full GC and one to three untimed documents of that pipeline, since a block that follows ~4 s of pdf-lib
 * work starts with colder caches and JIT state), after a warm-up. Ours is also measured in passes of its own after
 * the baseline has finished.
 * The baseline's signature is invisible (no seal image: the @signpdf recipe draws none); ours draws the PNG seal.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { P12Signer } from '@signpdf/signer-p12';
import { SignPdf } from '@signpdf/signpdf';
import { PDFDocument } from 'pdf-lib';
import { loadSigningIdentity, sealPdf, verifyPdfSignatures } from '../../packages/adapter-local/src/index.js';
import { createSealImage, createTestIdentity } from '../../packages/adapter-local/src/testing/index.js';
import { DEFAULT_FONT_MODULE, prepareTemplate } from '../../packages/core/src/index.js';
import { CONTRACT_TEMPLATE_PDF, CONTRACT_VALUES_JSON } from '../../fixtures/paths.js';
import { type BenchRow, type BenchSuite, summarize } from '../harness.js';

// fontkit is a dependency of core, not of the workspace root: load the copy core uses (pdf-lib is the same
// pdf-lib@1.17.1 store entry for the root and for core, so @signpdf/placeholder-pdf-lib sees the same classes).
const requireFromCore = createRequire(join(import.meta.dirname, '../../packages/core/package.json'));
type Fontkit = typeof import('../../packages/core/node_modules/@pdf-lib/fontkit/fontkit.js');
const fontkitModule = (await import(pathToFileURL(requireFromCore.resolve('@pdf-lib/fontkit')).href)) as Fontkit & {
  default?: Fontkit;
};
const fontkit = fontkitModule.default ?? fontkitModule;

// A full GC before every timed block (never inside one), so neither pipeline pays for the other's garbage: the
// baseline leaves a parsed 10.5 MB font's worth of it per document. `pnpm bench` runs without --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
/** Full GC, then a pause so V8's concurrent sweeper threads finish before the clock starts. */
const settle = async () => {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 50));
};

const WARM_UP = 10; // documents per pipeline before measuring
const BLOCK = 20; // documents per interleaved block
const REWARM_OURS = 3; // untimed documents at the start of each of our blocks (the baseline gets one: 40× longer)
const SOLO_ROUNDS = 3; // rounds over the 200 documents for ours alone, after the baseline
const SEAL_PAGE = 7; // the last page, 0-based
const SEAL_RECT = { x: 380, y: 90, width: 140, height: 140 };

type Values = Record<string, string>;

const suite: BenchSuite = {
  name: 'fill-seal',
  description:
    'fill contract-8p-25f.pdf with 200 Chinese value sets + PAdES seal: pdf-lib + @signpdf P12Signer vs render + sealPdf',
  async run(): Promise<BenchRow[]> {
    const template = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
    const { documents } = JSON.parse(readFileSync(CONTRACT_VALUES_JSON, 'utf8')) as { documents: Values[] };
    const fontBytes = new Uint8Array(readFileSync(requireFromCore.resolve(DEFAULT_FONT_MODULE)));
    const signingTime = new Date();

    // ---- baseline: the standard recipe
    const ascii = createTestIdentity({ commonName: 'Sandbox Signer', organization: 'Example Consumer Finance Co Ltd' });
    const p12 = Buffer.from(ascii.pkcs12);
    const fill = async (values: Values) => {
      const doc = await PDFDocument.load(template);
      doc.registerFontkit(fontkit);
      const font = await doc.embedFont(fontBytes, { subset: true });
      const form = doc.getForm();
      for (const [field, value] of Object.entries(values)) form.getTextField(field).setText(value);
      form.updateFieldAppearances(font);
      return doc;
    };
    const placeholder = (doc: PDFDocument) =>
      pdflibAddPlaceholder({
        pdfPage: doc.getPage(SEAL_PAGE),
        reason: 'Borrower signs',
        contactInfo: '',
        name: 'Sandbox Signer',
        location: 'Shanghai',
        signingTime,
        widgetRect: [SEAL_RECT.x, SEAL_RECT.y, SEAL_RECT.x + SEAL_RECT.width, SEAL_RECT.y + SEAL_RECT.height],
      });
    const sign = (withPlaceholder: Uint8Array) =>
      // A P12Signer signs once only (it consumes its buffer), so the recipe builds one per document.
      new SignPdf().sign(Buffer.from(withPlaceholder), new P12Signer(p12, { passphrase: ascii.password }));
    /** Fill and save (the renderer's output), then the signing step loads that file, adds the field, saves, signs. */
    const baseline = async (values: Values) => {
      const filled = await (await fill(values)).save();
      const doc = await PDFDocument.load(filled);
      placeholder(doc);
      return sign(await doc.save({ useObjectStreams: false }));
    };
    /** The tighter recipe: the placeholder goes into the filled document before its only save. */
    const baselineOneSave = async (values: Values) => {
      const doc = await fill(values);
      placeholder(doc);
      return sign(await doc.save({ useObjectStreams: false }));
    };

    // ---- ours
    const chinese = createTestIdentity({ commonName: 'Sandbox Signer', organization: '某某消费金融股份有限公司' });
    const identity = loadSigningIdentity({ pkcs12: chinese.pkcs12, password: chinese.password });
    const image = createSealImage({ size: 240 });
    const t0 = performance.now();
    const prepared = await prepareTemplate(template, { font: fontBytes });
    const prepareMs = performance.now() - t0;
    const seal = (rendered: Uint8Array) =>
      sealPdf(rendered, {
        identity,
        field: { page: SEAL_PAGE, rect: SEAL_RECT },
        appearance: { image },
        signingTime,
        reason: '借款人签署',
        location: '上海',
      });

    // ---- outputs must verify before their timings mean anything (outside the timed region)
    const first = documents[0]!;
    const oursReport = verifyPdfSignatures(seal(prepared.render(first)));
    if (oursReport.length !== 1 || !oursReport[0]!.valid || !oursReport[0]!.coversWholeDocument)
      throw new Error(`render + sealPdf produced an invalid signature: ${JSON.stringify(oursReport)}`);
    const baselineValid: number[] = [];
    for (const [label, out] of [
      ['standard recipe', await baseline(first)],
      ['standard recipe, one save', await baselineOneSave(first)],
    ] as const) {
      const report = verifyPdfSignatures(out);
      const valid = report.length === 1 && report[0]!.valid;
      baselineValid.push(valid ? 1 : 0);
      if (!valid) console.warn(`fill-seal: the ${label} output does not verify: ${JSON.stringify(report)}`);
    }

    // ---- warm-up
    for (let i = 0; i < WARM_UP; i++) {
      const values = documents[i % documents.length]!;
      await baseline(values);
      await baselineOneSave(values);
      seal(prepared.render(values));
    }

    // ---- measured: interleaved blocks over the 200 value sets in order
    const baseMs: number[] = [];
    const oneSaveMs: number[] = [];
    const oursMs: number[] = [];
    const renderMs: number[] = [];
    const sealMs: number[] = [];
    let baseBytes = 0;
    let oneSaveBytes = 0;
    let oursBytes = 0;
    const runOurs = (values: Values, total: number[], render: number[], sealed: number[]) => {
      const t = performance.now();
      const rendered = prepared.render(values);
      const t1 = performance.now();
      const out = seal(rendered);
      const t2 = performance.now();
      total.push(t2 - t);
      render.push(t1 - t);
      sealed.push(t2 - t1);
      return out.length;
    };
    for (let start = 0; start < documents.length; start += BLOCK) {
      const block = documents.slice(start, start + BLOCK);
      await settle();
      await baseline(block[0]!); // untimed re-warm after the other pipelines ran (ours too below)
      for (const values of block) {
        const t = performance.now();
        const out = await baseline(values);
        baseMs.push(performance.now() - t);
        baseBytes += out.length;
      }
      await settle();
      await baselineOneSave(block[0]!);
      for (const values of block) {
        const t = performance.now();
        const out = await baselineOneSave(values);
        oneSaveMs.push(performance.now() - t);
        oneSaveBytes += out.length;
      }
      await settle();
      for (let i = 0; i < REWARM_OURS; i++) seal(prepared.render(block[i]!));
      for (const values of block) oursBytes += runOurs(values, oursMs, renderMs, sealMs);
    }

    // ---- ours alone, after the baseline (its heap garbage mostly collected by now)
    const soloMs: number[] = [];
    const soloRender: number[] = [];
    const soloSeal: number[] = [];
    for (let round = 0; round < SOLO_ROUNDS; round++) {
      await settle();
      for (const values of documents) runOurs(values, soloMs, soloRender, soloSeal);
    }

    const b = summarize(baseMs);
    const b1 = summarize(oneSaveMs);
    const o = summarize(oursMs);
    const r = summarize(renderMs);
    const s = summarize(sealMs);
    const so = summarize(soloMs);
    const sr = summarize(soloRender);
    const ss = summarize(soloSeal);
    const n = documents.length;
    const kb = (template.length / 1024).toFixed(0);
    const faster = (name: string, value: number, baseValue: number, baseName: string): BenchRow => ({
      name,
      unit: 'ms',
      value,
      baseline: baseName,
      baselineValue: baseValue,
      ratio: baseValue / value, // > 1: ours is faster
    });
    const perSec = (name: string, mean: number, baseMean: number, baseName: string): BenchRow => ({
      name,
      unit: 'docs/s',
      value: 1000 / mean,
      baseline: baseName,
      baselineValue: 1000 / baseMean,
      ratio: baseMean / mean,
    });
    const BASE = 'standard recipe';
    return [
      { name: `${BASE} (pdf-lib + P12Signer, ASCII DN) ms/doc median`, unit: 'ms', value: b.median },
      { name: `${BASE} ms/doc p95`, unit: 'ms', value: b.p95 },
      { name: `${BASE} docs/s per core`, unit: 'docs/s', value: 1000 / b.mean },
      { name: `${BASE} output/template (${kb} KB)`, unit: 'x', value: baseBytes / n / template.length },
      { name: `${BASE}, one save, ms/doc median`, unit: 'ms', value: b1.median },
      { name: `${BASE}, one save, ms/doc p95`, unit: 'ms', value: b1.p95 },
      { name: `${BASE}, one save, docs/s per core`, unit: 'docs/s', value: 1000 / b1.mean },
      { name: `${BASE}, one save, output/template`, unit: 'x', value: oneSaveBytes / n / template.length },
      {
        name: 'standard recipe outputs verify (both variants)',
        unit: 'of 2',
        value: baselineValid[0]! + baselineValid[1]!,
      },
      { name: 'prepareTemplate (once, font bytes given)', unit: 'ms', value: prepareMs },
      faster('render + sealPdf (Chinese DN, PNG seal) ms/doc median', o.median, b.median, `${BASE} median`),
      faster('render + sealPdf ms/doc p95', o.p95, b.p95, `${BASE} p95`),
      perSec('render + sealPdf docs/s per core', o.mean, b.mean, `${BASE} docs/s`),
      faster('render + sealPdf median vs one-save recipe', o.median, b1.median, `${BASE}, one save, median`),
      { name: 'render + sealPdf: render phase median', unit: 'ms', value: r.median },
      { name: 'render + sealPdf: render phase p95', unit: 'ms', value: r.p95 },
      { name: 'render + sealPdf: seal phase median', unit: 'ms', value: s.median },
      { name: 'render + sealPdf: seal phase p95', unit: 'ms', value: s.p95 },
      {
        name: 'render + sealPdf output/template',
        unit: 'x',
        value: oursBytes / n / template.length,
        baseline: `${BASE} output/template`,
        baselineValue: baseBytes / n / template.length,
        ratio: baseBytes / oursBytes,
      },
      faster(`render + sealPdf alone (${SOLO_ROUNDS}×200) ms/doc median`, so.median, b.median, `${BASE} median`),
      faster('render + sealPdf alone ms/doc p95', so.p95, b.p95, `${BASE} p95`),
      perSec('render + sealPdf alone docs/s per core', so.mean, b.mean, `${BASE} docs/s`),
      { name: 'render + sealPdf alone: render phase median', unit: 'ms', value: sr.median },
      { name: 'render + sealPdf alone: seal phase median', unit: 'ms', value: ss.median },
      { name: 'speedup (median, interleaved)', unit: 'x', value: b.median / o.median },
    ];
  },
};

export default suite;
