import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isWholePdf } from '../src/index.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

describe('isWholePdf', () => {
  it('accepts files other tools wrote, with or without line ends and padding after %%EOF', () => {
    for (const name of ['ghostscript-no-form.pdf', 'libreoffice-no-form.pdf']) {
      const bytes = fixture(name);
      expect(isWholePdf(bytes), name).toBe(true);
      const padded = new Uint8Array([...bytes, ...new TextEncoder().encode('\r\n\n\0\0\0')]);
      expect(isWholePdf(padded), `${name} padded`).toBe(true);
    }
  });

  it('refuses a file cut off anywhere before its last %%EOF, and bytes that are not a PDF', () => {
    const bytes = fixture('ghostscript-no-form.pdf');
    const eof = Buffer.from(bytes).lastIndexOf('%%EOF');
    for (const length of [0, 4, 1024, Math.floor(bytes.length / 2), eof, eof + 4]) {
      expect(isWholePdf(bytes.subarray(0, length)), `cut at ${length}`).toBe(false);
    }
    expect(isWholePdf(bytes.subarray(1)), 'header cut off').toBe(false);
    expect(isWholePdf(new TextEncoder().encode('<html>%%EOF</html>')), 'an error page').toBe(false);
  });
});
