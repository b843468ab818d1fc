import type { LogFields, Logger, LogLevel } from '../ports/logger.js';

/** One line written to a {@link MemoryLogger}. */
export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

/** A {@link Logger} that keeps every line in memory, so a test can assert on what was (and was not) logged. */
export interface MemoryLogger extends Logger {
  readonly records: LogRecord[];
  /** Every record rendered as one JSON string per line, for asserting that no personal data leaked. */
  text(): string;
}

/** Keeps every record in memory, for tests that assert what was (and was not) logged. */
export function createMemoryLogger(): MemoryLogger {
  const records: LogRecord[] = [];
  const at =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) =>
      void records.push({ level, message, fields });
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => records.map((r) => JSON.stringify(r)).join('\n'),
  };
}
