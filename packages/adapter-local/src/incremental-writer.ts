/**
 * Appends an incremental update: the new and changed objects, then the toolkit's cross-reference section that lists
 * only them, with a trailer whose /Prev points back. Earlier bytes are never touched, which is what keeps earlier
 * signatures valid.
 */
import { type PdfReader, PdfRef, type PdfValue, PdfWriter, serialize, xrefSection } from '@sealflow/pdf-toolkit';

export interface UpdatedObject {
  ref: PdfRef;
  value: PdfValue;
}

/** The trailer entries an update carries over from the newest trailer. */
const CARRIED_TRAILER_KEYS = ['Root', 'Info', 'ID'] as const;

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

    const entries = this.objects.map((o) => {
      const entry = { num: o.ref.num, gen: o.ref.gen, offset: w.offset };
      w.object(o.ref.num, o.ref.gen, o.value);
      return entry;
    });
    let trailer = '';
    for (const key of CARRIED_TRAILER_KEYS) {
      const value = reader.trailer.get(key);
      if (value !== undefined) trailer += `/${key} ${serialize(value)} `;
    }
    w.bytes(
      xrefSection({
        kind: reader.newestIsStream ? 'stream' : 'table',
        entries,
        trailer,
        prev: reader.startxref,
        size: this.nextNum,
        at: w.offset,
      }),
    );
    return w.finish();
  }
}
