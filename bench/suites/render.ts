/**
 * Filling the 25-field loan contract with Chinese values: the standard pdf-lib recipe against this project's
 * renderer (template parsed once, font parsed once, incremental update per document), in one process, on the
 * fixture's 200 value sets in order.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_FONT_MODULE, prepareTemplate } from '../../packages/core/src/index.js';
import { type BenchRow, type BenchSuite, summarize } from '../harness.js';
import { FIXTURES_DIR } from '../../fixtures/paths.js';

// pdf-lib and fontkit are dependencies of core, not of the workspace root: load the very copies core uses.
const requireFromCore = createRequire(join(import.meta.dirname, '../../packages/core/package.json'));
type PdfLib = typeof import('../../packages/core/node_modules/pdf-lib/cjs/index.js');
type Fontkit = typeof import('../../packages/core/node_modules/@pdf-lib/fontkit/fontkit.js');
const { PDFDocument } = (await import(pathToFileURL(requireFromCore.resolve('pdf-lib')).href)) as PdfLib;
const fontkitModule = (await import(pathToFileURL(requireFromCore.resolve('@pdf-lib/fontkit')).href)) as Fontkit & {
  default?: Fontkit;
};
const fontkit = fontkitModule.default ?? fontkitModule;

const fixtures = FIXTURES_DIR;
const WARM_UP = 10;
const FAST_ROUNDS = 5;

async function standardRecipe(
  template: Uint8Array,
  fontBytes: Uint8Array,
  values: Record<string, string>,
): Promise<Uint8Array> {
  const doc = await PDFDocument.load(template);
  doc.registerFontkit(fontkit);
  const font = await doc.embedFont(fontBytes, { subset: true });
  const form = doc.getForm();
  for (const [name, value] of Object.entries(values)) form.getTextField(name).setText(value);
  form.updateFieldAppearances(font);
  return doc.save();
}

const suite: BenchSuite = {
  name: 'render',
  description: 'fill contract-8p-25f.pdf with 200 Chinese value sets: pdf-lib recipe vs the incremental renderer',
  async run(): Promise<BenchRow[]> {
    const template = new Uint8Array(readFileSync(join(fixtures, 'contract-8p-25f.pdf')));
    const { documents } = JSON.parse(readFileSync(join(fixtures, 'contract-8p-25f.values.json'), 'utf8')) as {
      documents: Record<string, string>[];
    };
    const fontBytes = new Uint8Array(readFileSync(requireFromCore.resolve(DEFAULT_FONT_MODULE)));

    // Standard recipe: everything per document, as pdf-lib's docs show it.
    for (let i = 0; i < WARM_UP; i++) await standardRecipe(template, fontBytes, documents[i % documents.length]!);
    const standardMs: number[] = [];
    let standardBytes = 0;
    for (const values of documents) {
      const t = performance.now();
      const out = await standardRecipe(template, fontBytes, values);
      standardMs.push(performance.now() - t);
      standardBytes += out.length;
    }

    // This project: prepare once (timed separately), then render.
    const t0 = performance.now();
    const prepared = await prepareTemplate(template, { font: fontBytes });
    const prepareMs = performance.now() - t0;
    for (let i = 0; i < WARM_UP * 5; i++) prepared.render(documents[i % documents.length]!);
    const fastMs: number[] = [];
    let fastBytes = 0;
    for (let round = 0; round < FAST_ROUNDS; round++) {
      for (const values of documents) {
        const t = performance.now();
        const out = prepared.render(values);
        fastMs.push(performance.now() - t);
        fastBytes += out.length;
      }
    }

    const std = summarize(standardMs);
    const fast = summarize(fastMs);
    const stdRatio = standardBytes / documents.length / template.length;
    const fastRatio = fastBytes / fastMs.length / template.length;
    return [
      { name: 'pdf-lib recipe ms/doc median', unit: 'ms', value: std.median },
      { name: 'pdf-lib recipe ms/doc p95', unit: 'ms', value: std.p95 },
      { name: 'pdf-lib recipe docs/s per core', unit: 'docs/s', value: 1000 / std.mean },
      { name: 'pdf-lib recipe output/template', unit: 'x', value: stdRatio },
      { name: 'prepareTemplate (once, font given)', unit: 'ms', value: prepareMs },
      {
        name: 'renderer ms/doc median',
        unit: 'ms',
        value: fast.median,
        baseline: 'pdf-lib recipe ms/doc median',
        baselineValue: std.median,
        ratio: std.median / fast.median,
      },
      {
        name: 'renderer ms/doc p95',
        unit: 'ms',
        value: fast.p95,
        baseline: 'pdf-lib recipe ms/doc p95',
        baselineValue: std.p95,
        ratio: std.p95 / fast.p95,
      },
      {
        name: 'renderer docs/s per core',
        unit: 'docs/s',
        value: 1000 / fast.mean,
        baseline: 'pdf-lib recipe docs/s per core',
        baselineValue: 1000 / std.mean,
        ratio: std.mean / fast.mean,
      },
      {
        name: 'renderer output/template',
        unit: 'x',
        value: fastRatio,
        baseline: 'pdf-lib recipe output/template',
        baselineValue: stdRatio,
        ratio: stdRatio / fastRatio,
      },
      { name: 'speedup (median)', unit: 'x', value: std.median / fast.median },
    ];
  },
};

export default suite;
