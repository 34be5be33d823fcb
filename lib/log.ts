import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, at any depth. */
const secretKeys = new Set(['password', 'original_password', 'secret', 'token', 'x-auth-token', 'x-subject-token', 'authorization', 'private_pem']);

/** A copy of `value` with every secret-named key's value replaced by '***'. */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > 12 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = secretKeys.has(k.toLowerCase()) ? '***' : scrubSecrets(v, depth + 1);
  return out;
}

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.NUBO_LOG_LEVEL ?? 'info',
    base: { service: opts.name ?? 'nubo', pid: process.pid },
    formatters: { log: (obj) => scrubSecrets(obj) as Record<string, unknown> },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}
