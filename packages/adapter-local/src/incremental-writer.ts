/**
 * Appends an incremental update: the new and changed objects, a cross-reference section that lists only them, and a
 * trailer with /Prev. Earlier bytes are never touched, which is what keeps earlier signatures valid.
 *
 * The section matches the newest existing one: a classic table after a classic table, a cross-reference stream after
 * a stream (readers that only know classic tables could not read such a file anyway, and some strict validators
 * dislike a classic table chained to a stream).
 */
import type { PdfReader } from './pdf-reader.js';
import { PdfDict, PdfRef, PdfStream, type PdfValue, PdfWriter, name } from './pdf-objects.js';

export interface UpdatedObject {
  ref: PdfRef;
  value: PdfValue;
}

export class IncrementalUpdate {
  private readonly objects: UpdatedObject[] = [];
  private nextNum: number;

  constructor(private readonly reader: PdfReader) {
    this.nextNum = reader.size;
  }

  /** A fresh object number. */
  allocate(): PdfRef {
    return new PdfRef(this.nextNum++, 0);
  }

  /** Write `value` as object `ref` (new, or replacing the old version). */
  set(ref: PdfRef, value: PdfValue): void {
    const i = this.objects.findIndex((o) => o.ref.num === ref.num);
    if (i >= 0) this.objects[i] = { ref, value };
    else this.objects.push({ ref, value });
  }

  /** The appended bytes as chunks (concatenate after the original file). */
  write(): Uint8Array[] {
    const { reader } = this;
    const original = reader.bytes;
    const w = new PdfWriter(original.length);
    // Make sure the update starts on its own line even if the file does not end with an EOL.
    const last = original[original.length - 1];
    if (last !== 0x0a && last !== 0x0d) w.text('\n');

    const offsets = new Map<number, { offset: number; gen: number }>();
    for (const o of this.objects) {
      offsets.set(o.ref.num, { offset: w.offset, gen: o.ref.gen });
      w.object(o.ref.num, o.ref.gen, o.value);
    }

    const trailerKeys = ['Root', 'Info', 'ID'] as const;
    if (reader.newestIsStream) {
      const xrefNum = this.nextNum++;
      const xrefOffset = w.offset;
      offsets.set(xrefNum, { offset: xrefOffset, gen: 0 });
      const nums = [...offsets.keys()].sort((a, b) => a - b);
      const index: number[] = [];
      const rows: number[] = [];
      for (const run of runs(nums)) {
        index.push(run[0]!, run.length);
        for (const n of run) rows.push(n);
      }
      // W [1 4 2]: type, 32-bit offset, generation.
      const data = new Uint8Array(rows.length * 7);
      rows.forEach((n, i) => {
        const e = offsets.get(n)!;
        const p = i * 7;
        data[p] = 1;
        data[p + 1] = (e.offset >>> 24) & 0xff;
        data[p + 2] = (e.offset >>> 16) & 0xff;
        data[p + 3] = (e.offset >>> 8) & 0xff;
        data[p + 4] = e.offset & 0xff;
        data[p + 5] = (e.gen >> 8) & 0xff;
        data[p + 6] = e.gen & 0xff;
      });
      const d = new PdfDict()
        .set('Type', name('XRef'))
        .set('Size', this.nextNum)
        .set('W', [1, 4, 2])
        .set('Index', index)
        .set('Prev', reader.startxref);
      for (const k of trailerKeys) {
        const v = reader.trailer.get(k);
        if (v !== undefined) d.set(k, v);
      }
      w.object(xrefNum, 0, new PdfStream(d, data));
      w.text(`\nstartxref\n${xrefOffset}\n%%EOF\n`);
    } else {
      const xrefOffset = w.offset;
      w.text('xref\n');
      for (const run of runs([...offsets.keys()].sort((a, b) => a - b))) {
        w.text(`${run[0]} ${run.length}\n`);
        for (const n of run) {
          const e = offsets.get(n)!;
          w.text(`${String(e.offset).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n\r\n`);
        }
      }
      const t = new PdfDict().set('Size', this.nextNum);
      for (const k of trailerKeys) {
        const v = reader.trailer.get(k);
        if (v !== undefined) t.set(k, v);
      }
      t.set('Prev', reader.startxref);
      w.text('trailer\n');
      w.value(t);
      w.text(`\nstartxref\n${xrefOffset}\n%%EOF\n`);
    }
    return w.finish();
  }
}

/** Split sorted numbers into runs of consecutive values (xref subsections). */
function runs(sorted: number[]): number[][] {
  const out: number[][] = [];
  for (const n of sorted) {
    const cur = out[out.length - 1];
    if (cur && cur[cur.length - 1] === n - 1) cur.push(n);
    else out.push([n]);
  }
  return out;
}
