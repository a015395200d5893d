import winston from 'winston';
import { multiLine } from './peer-text.js';
import { redactSecrets } from './secrets.js';

export type Logger = winston.Logger;

const SECRET_KEYS = /^(password|passwd|secret|token|authorization|api[-_]?key|client[-_]?secret|routing[-_]?key)$/i;

/**
 * A string as logged: terminal controls out (JSON escapes C0 but not C1 or bidi controls, and a
 * log is read on a terminal), then redacted.
 */
const logText = (text: string) => redactSecrets(multiLine(text));

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return logText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return logText(value.stack ?? value.message);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redactValue(v, depth + 1);
  return out;
}

/** Redaction happens here, once, so no call site has to remember it. */
const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
    else info[key] = redactValue(info[key], 0);
  }
  return info;
});

export interface LoggerOptions {
  level?: string;
  /** Where log lines go; defaults to stdout. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  return winston.createLogger({
    level: options.level ?? process.env.PRODROME_LOG_LEVEL ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [transport],
  });
}

/** A logger for library use and tests that must stay quiet. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
