import type { Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import { createMemoryBus } from './memory.ts';

export * from './bus.ts';

/** RabbitMQ for an amqp(s):// URL, the in-process bus for ''. */
export async function createBus(url: string, opts: { logger?: Logger; prefix?: string } = {}): Promise<Bus> {
  if (!url) return createMemoryBus();
  const { createRabbitBus } = await import('./rabbitmq.ts');
  return createRabbitBus(url, opts);
}
