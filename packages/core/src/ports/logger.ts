/**
 * Structured logging port.
 *
 * Core logs with a short message and a flat field object. Before fields reach the logger they pass through
 * `maskPersonalData`, so an implementation never receives an unmasked ID number, mobile or name; an
 * implementation only needs to write what it is given.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A console logger for demos: one JSON line per entry at or above `level`. */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const min = order.indexOf(level);
  const write = (lvl: LogLevel) => (message: string, fields?: LogFields) => {
    if (order.indexOf(lvl) < min) return;
    const line = JSON.stringify({ level: lvl, msg: message, ...fields });
    (lvl === 'error' || lvl === 'warn' ? console.error : console.log)(line);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
