import { createCalls } from './calls.ts';
import { createConnection } from './connection.ts';
import { createConsumers, type Consumers } from './consumers.ts';
import { resolveSettings, type RabbitBus, type RabbitBusOptions } from './options.ts';
import { createPublisher } from './publisher.ts';
import { JSON_TYPE, encode } from './wire.ts';

export type { RabbitBus, RabbitBusOptions } from './options.ts';

/**
 * The bus over RabbitMQ (amqplib).
 * - serve(topic): a durable queue `<prefix>.topic.<topic>` shared by every
 *   server of the topic (the broker round-robins), consumed with a prefetch
 *   and manual acks; a message is acknowledged only once its handler has
 *   finished (a cast handler's error is logged, and the message acknowledged:
 *   only a message whose consumer dies before the ack is delivered again).
 * - cast: a persistent message to that queue (declared by the sender too, so
 *   casts wait for a server that is not up yet); resolves once the broker has
 *   confirmed it.
 * - call: a request with a correlation id, a reply-to queue (exclusive and
 *   auto-delete, one per connection) and a TTL equal to the timeout, so that
 *   nobody works on a request whose caller has given up. Transient, not
 *   persistent: its reply queue does not outlive the broker, so a request
 *   kept across a broker restart could never be answered (callers that must
 *   not lose one retry it, as the agent's instance_update does).
 * - publish/subscribe: a topic exchange `<prefix>.events` with the event name
 *   as routing key, one exclusive auto-delete queue per subscription.
 * - When the connection drops, the bus reconnects with backoff and declares
 *   and attaches every open serve() and subscribe() again; calls, casts and
 *   publishes made meanwhile wait for the connection (a call within its
 *   timeout; cast/publish up to sendTimeoutMs).
 *
 * Parts: connection.ts (connect, reconnect, teardown.ts for close/destroy),
 * publisher.ts (confirms), calls.ts (call/reply), consumers.ts and
 * handlers.ts (serve/subscribe).
 */
export async function createRabbitBus(url: string, opts: RabbitBusOptions = {}): Promise<RabbitBus> {
  const cfg = resolveSettings(url, opts);
  // The connection and the consumers each need the other; the hooks reach the consumers once they exist.
  let consumers!: Consumers;
  const conn = createConnection(cfg, {
    onReply: (msg) => calls.onReply(msg),
    attachAll: (s) => consumers.attachAll(s),
    lost: (s) => consumers.lost(s),
    activated: (s) => consumers.activated(s),
    stopped: () => calls.rejectAll('bus is closed'),
  });
  const publisher = createPublisher(conn, cfg.log);
  const calls = createCalls(cfg, publisher);
  consumers = createConsumers(cfg, conn);

  await conn.start();

  return {
    async call<T>(topic: string, method: string, args?: unknown, callOpts: { timeoutMs?: number } = {}): Promise<T> {
      if (conn.isClosing()) throw new Error('bus is closed');
      return calls.call<T>(topic, method, args, callOpts.timeoutMs ?? cfg.callTimeoutMs);
    },

    async cast(topic, method, args, castOpts = {}) {
      const content = encode({ method, args });
      const queue = cfg.topicQueue(topic);
      const deadline = Date.now() + (castOpts.timeoutMs ?? cfg.sendTimeoutMs);
      await publisher.send(`cast ${topic}.${method}`, deadline, async (s) => {
        await publisher.ensureQueue(s, queue);
        await publisher.confirmed(s, '', queue, content, { persistent: true, contentType: JSON_TYPE, type: method }, deadline);
      });
    },

    async publish(event, payload) {
      const content = encode({ payload });
      const deadline = Date.now() + cfg.sendTimeoutMs;
      await publisher.send(`publish ${event}`, deadline, (s) =>
        publisher.confirmed(s, cfg.eventsExchange, event, content, { contentType: JSON_TYPE, type: event }, deadline),
      );
    },

    subscribe: (event, handler) => consumers.add({ kind: 'subscribe', name: event, onEvent: handler }),

    serve: (topic, handlers) => consumers.add({ kind: 'serve', name: topic, handlers }),

    async close() {
      if (conn.isClosing()) return;
      conn.stop();
      await consumers.shutdownAll();
      await conn.closeSession();
    },

    destroy() {
      if (!conn.isClosing()) conn.stop();
      consumers.abandonAll();
      conn.destroy();
    },
  };
}
