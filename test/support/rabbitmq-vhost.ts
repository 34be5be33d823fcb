import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A vhost of a test's own on the shared broker (rabbitmqctl add_vhost), so
 * that the queues and exchanges of the processes it starts never meet other
 * tests' (the bus names its queues by topic only). Lighter than a private
 * node (rabbitmq-node.ts), which a test that stops the broker needs.
 * drop() deletes the vhost with whatever is left in it.
 */
export interface RabbitVhost {
  /** The broker URL with the vhost as its path. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

function rabbitmqctl(args: string[]): void {
  const r = spawnSync('rabbitmqctl', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

/** Adds a fresh vhost (guest may do anything in it) on the broker of `brokerUrl` (amqp://user:pass@host:port). */
export function addRabbitVhost(brokerUrl: string): RabbitVhost {
  const name = `nubo-test-${randomBytes(5).toString('hex')}`;
  const base = new URL(brokerUrl);
  rabbitmqctl(['add_vhost', name]);
  try {
    rabbitmqctl(['set_permissions', '-p', name, decodeURIComponent(base.username || 'guest'), '.*', '.*', '.*']);
  } catch (e) {
    rabbitmqctl(['delete_vhost', name]);
    throw e;
  }
  base.pathname = `/${encodeURIComponent(name)}`;
  return {
    url: base.toString(),
    name,
    async drop() {
      rabbitmqctl(['delete_vhost', name]);
    },
  };
}
