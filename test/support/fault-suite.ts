import { after, before, describe } from 'node:test';
import { startProcessCloud, type ProcessCloud } from './process-cloud.ts';
import { rabbitmqInstalled, startRabbitNode, type RabbitNode } from './rabbitmq-node.ts';

export interface FaultSuite {
  /** The suite's own RabbitMQ node (started before its tests). */
  readonly node: RabbitNode;
  /** A process cloud on that node, closed after the suite. */
  cloud(opts: Omit<Parameters<typeof startProcessCloud>[0], 'busUrl'>): Promise<ProcessCloud>;
}

/**
 * A describe() for fault tests: a private RabbitMQ node for the suite (so a
 * test may stop it, and no other test's messages reach its processes), the
 * clouds its tests start, and everything stopped afterwards. Skipped where
 * RabbitMQ's server is not installed.
 */
export function faultSuite(name: string, body: (suite: FaultSuite) => void): void {
  describe(name, { skip: rabbitmqInstalled() ? false : 'rabbitmq-server is not installed' }, () => {
    let node: RabbitNode | undefined;
    const clouds: ProcessCloud[] = [];
    before(async () => {
      node = await startRabbitNode();
    });
    after(async () => {
      for (const c of clouds) await c.close();
      await node?.close();
    });
    body({
      get node() {
        if (!node) throw new Error('the RabbitMQ node has not started');
        return node;
      },
      async cloud(opts) {
        const c = await startProcessCloud({ ...opts, busUrl: this.node.url });
        clouds.push(c);
        return c;
      },
    });
  });
}
