import type { Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import { createMemoryBus } from './memory.ts';

export * from './bus.ts';

export interface BusOptions {
  logger?: Logger;
  /** RabbitMQ names: `<prefix>.topic.<topic>`, `<prefix>.events`. Default 'nubo'. */
  prefix?: string;
  /** Default timeout of call() (config `bus.call_timeout_ms`). Default 30 s. */
  callTimeoutMs?: number;
}

/** RabbitMQ for an amqp:// or amqps:// URL, the in-process bus for ''. */
export async function createBus(url: string, opts: BusOptions = {}): Promise<Bus> {
  if (!url) return createMemoryBus({ logger: opts.logger, callTimeoutMs: opts.callTimeoutMs });
  if (!/^amqps?:\/\//i.test(url)) throw new Error(`bus.url must be an amqp:// or amqps:// URL, or empty for the in-process bus (got ${url.split('@').pop()})`);
  const { createRabbitBus } = await import('./rabbitmq/index.ts');
  return createRabbitBus(url, opts);
}
