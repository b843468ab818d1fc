/**
 * The tail of an incremental update (ISO 32000-1 §7.5.6): a cross-reference section listing just the objects the
 * update wrote, and the trailer whose /Prev points back at the file's previous section. Both of sealflow's writers
 * end their updates with it: the renderer (filling a template) and the sealer (adding a signature).
 *
 * The section has the same kind as the previous one: a classic table after a table, a cross-reference stream after a
 * stream, because readers that follow /Prev expect one kind of chain (readers that only know tables could not read a
 * stream-based file anyway, and strict validators dislike a table chained to a stream).
 */

/** Where one object of the update starts, as an absolute byte offset in the whole file. */
export interface XrefEntry {
  num: number;
  gen: number;
  offset: number;
}

export interface XrefSection {
  /** The kind of the file's newest section before this update. */
  kind: 'table' | 'stream';
  /** Every object the update wrote (each number once). */
  entries: readonly XrefEntry[];
  /**
   * The trailer entries carried over, already serialized, e.g. `/Root 1 0 R /Info 2 0 R /ID [<…> <…>]`. /Size,
   * /Prev (and for a stream /Type, /W, /Index) are added here.
   */
  trailer: string;
  /** Offset of the previous section (the old `startxref`). */
  prev: number;
  /** The first object number nobody uses (a stream section takes it for itself). */
  size: number;
  /** The absolute offset the section will be written at. */
  at: number;
}

/** Section text is ASCII, except carried-over trailer strings, which are written byte for byte (Latin-1). */
const latin1Bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');

/** The section, trailer, `startxref` and `%%EOF`, as bytes to append at `section.at`. */
export function xrefSection(section: XrefSection): Uint8Array {
  return section.kind === 'table' ? classicXref(section) : xrefStream(section);
}

/** Consecutive object numbers grouped into subsections. */
function subsections(entries: readonly XrefEntry[]): XrefEntry[][] {
  const sorted = [...entries].sort((a, b) => a.num - b.num);
  const groups: XrefEntry[][] = [];
  for (const e of sorted) {
    const current = groups[groups.length - 1];
    const last = current?.[current.length - 1];
    if (current && last && last.num + 1 === e.num) current.push(e);
    else groups.push([e]);
  }
  return groups;
}

function trailerBody(trailer: string, size: number, prev: number): string {
  const entries = trailer.trim();
  return `/Size ${size}${entries ? ` ${entries}` : ''} /Prev ${prev}`;
}

function classicXref({ entries, trailer, prev, size, at }: XrefSection): Uint8Array {
  let text = 'xref\n';
  for (const group of subsections(entries)) {
    text += `${group[0]!.num} ${group.length}\n`;
    // Each entry is exactly 20 bytes, the last two an end-of-line pair (here space + LF).
    for (const e of group) text += `${String(e.offset).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n \n`;
  }
  text += `trailer\n<< ${trailerBody(trailer, size, prev)} >>\nstartxref\n${at}\n%%EOF\n`;
  return latin1Bytes(text);
}

function xrefStream({ entries, trailer, prev, size, at }: XrefSection): Uint8Array {
  // The stream lists itself too, so it takes the next free number and /Size grows by one.
  const groups = subsections([...entries, { num: size, gen: 0, offset: at }]);
  const data = new Uint8Array((entries.length + 1) * 7);
  const view = new DataView(data.buffer);
  let i = 0;
  for (const group of groups) {
    for (const e of group) {
      // W [1 4 2]: type 1 (in use at an offset), a 32-bit offset, a 16-bit generation.
      view.setUint8(i * 7, 1);
      view.setUint32(i * 7 + 1, e.offset);
      view.setUint16(i * 7 + 5, e.gen);
      i++;
    }
  }
  const index = groups.map((g) => `${g[0]!.num} ${g.length}`).join(' ');
  const head = latin1Bytes(
    `${size} 0 obj\n<< /Type /XRef ${trailerBody(trailer, size + 1, prev)} /Index [${index}] /W [1 4 2] /Length ${data.length} >>\nstream\n`,
  );
  const foot = latin1Bytes(`\nendstream\nendobj\nstartxref\n${at}\n%%EOF\n`);
  const out = new Uint8Array(head.length + data.length + foot.length);
  out.set(head, 0);
  out.set(data, head.length);
  out.set(foot, head.length + data.length);
  return out;
}
