import { createLogger, type Logger } from '../../log.ts';
import type { Bus } from '../bus.ts';

export interface RabbitBusOptions {
  logger?: Logger;
  /** Names everything this bus declares: `<prefix>.topic.<topic>`, `<prefix>.events`. Default 'nubo'. */
  prefix?: string;
  /** Default timeout of call(). Default 30 s. */
  callTimeoutMs?: number;
  /** How long cast/publish wait for a connection and the broker's confirm. Default 30 s. */
  sendTimeoutMs?: number;
  /** Unacknowledged messages each server or subscriber may hold at once. Default 16. */
  prefetch?: number;
  /** How long close() lets running handlers finish before the channel goes. Default 5 s. */
  closeGraceMs?: number;
  /** Reconnect backoff: first delay and cap. Default 200 ms → 5 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** The RabbitMQ bus, plus what only tests need. */
export interface RabbitBus extends Bus {
  /**
   * Drops the connection abruptly, as a crashed process would: no clean close,
   * no reconnect, unfinished handlers never acknowledged. For tests.
   */
  destroy(): void;
}

/** The options with their defaults filled in, and the names derived from them. */
export interface Settings {
  url: string;
  /** The URL without its credentials, for logs. */
  safeUrl: string;
  log: Logger;
  prefix: string;
  eventsExchange: string;
  topicQueue(topic: string): string;
  callTimeoutMs: number;
  sendTimeoutMs: number;
  prefetch: number;
  closeGraceMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export const resolveSettings = (url: string, opts: RabbitBusOptions): Settings => {
  const prefix = opts.prefix ?? 'nubo';
  return {
    url,
    safeUrl: url.replace(/\/\/[^@/]*@/, '//***@'),
    log: (opts.logger ?? createLogger({ name: 'bus' })).child({ component: 'bus' }),
    prefix,
    eventsExchange: `${prefix}.events`,
    topicQueue: (topic) => `${prefix}.topic.${topic}`,
    callTimeoutMs: opts.callTimeoutMs ?? 30_000,
    sendTimeoutMs: opts.sendTimeoutMs ?? 30_000,
    prefetch: opts.prefetch ?? 16,
    closeGraceMs: opts.closeGraceMs ?? 5_000,
    reconnectMinMs: opts.reconnectMinMs ?? 200,
    reconnectMaxMs: opts.reconnectMaxMs ?? 5_000,
  };
};
