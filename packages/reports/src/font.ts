import { createRequire } from 'node:module';
import { DEFAULT_FONT_MODULE } from '@sealflow/core';

let bundled: string | undefined;

/**
 * The path of Noto Sans SC from `@sealflow/font-noto-sans-sc`: resolved rather than imported, so a host that only
 * writes workbooks never reads the 10.5 MB file.
 */
export function bundledFontPath(): string {
  bundled ??= createRequire(import.meta.url).resolve(DEFAULT_FONT_MODULE);
  return bundled;
}
