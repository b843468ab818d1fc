import { formatFen } from '@sealflow/core';

/** '1234567.80' → '1,234,567.80': yuan with thousands separators and exactly two decimals, from integer fen. */
export function formatYuan(fen: number): string {
  const [yuan, decimals] = formatFen(fen).split('.') as [string, string];
  return `${yuan.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${decimals}`;
}

/**
 * Fen as a spreadsheet number of yuan. Parsed from the exact decimal text, so the stored double is the one nearest
 * to the true amount (the same one a person typing it into Excel gets); no arithmetic on yuan ever happens.
 */
export function yuanNumber(fen: number): number {
  return Number(formatFen(fen));
}

/** Spreadsheets keep 15 significant digits: larger amounts would be shown rounded. */
export const MAX_SPREADSHEET_FEN = 10 ** 15 - 1;
