/**
 * Structured logging port.
 *
 * Core logs with a short message and a flat field object. Before fields reach the logger they pass through
 * `maskPersonalData`, so an implementation never receives an unmasked ID number, mobile or name; an
 * implementation only needs to write what it is given.
 */
import { maskPersonalData } from '../privacy.js';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured fields of a log line; personal data in them is masked by the loggers sealflow creates. */
export type LogFields = Record<string, unknown>;

/** The logger port: four levels, a message and structured fields. Plug in pino, winston or the console. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A {@link Logger} that writes nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A console logger for demos and small hosts: one JSON line per entry at or above `level`, personal data masked.
 * It never throws: fields that cannot be serialised are replaced, because logging must not fail the caller.
 */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const min = order.indexOf(level);
  const write = (lvl: LogLevel) => (message: string, fields?: LogFields) => {
    if (order.indexOf(lvl) < min) return;
    let line: string;
    try {
      line = JSON.stringify({ level: lvl, msg: message, ...maskPersonalData(fields) }, (_key, value) =>
        typeof value === 'bigint' ? value.toString() : value,
      );
    } catch {
      line = JSON.stringify({ level: lvl, msg: message, fields: '[unserialisable]' });
    }
    (lvl === 'error' || lvl === 'warn' ? console.error : console.log)(line);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

const MASKED = Symbol('sealflow.maskingLogger');

/**
 * Wrap a host's logger so every field passes through `maskPersonalData` first. Core wraps what it is given, so a
 * host logger receives masked fields even when a caller forgot to mask.
 */
export function maskingLogger(logger: Logger): Logger {
  if ((logger as { [MASKED]?: true })[MASKED]) return logger;
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      try {
        logger[level](message, fields === undefined ? undefined : maskPersonalData(fields));
      } catch {
        // A failing logger must not fail the operation that logs.
      }
    };
  return Object.assign(
    { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    { [MASKED]: true },
  );
}
