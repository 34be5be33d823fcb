import type { Channel } from 'amqplib';
import type { Handler, Subscription } from '../bus.ts';
import { createDispatch } from './handlers.ts';
import type { Settings } from './options.ts';
import type { Connection, Session } from './session.ts';
import { CLOSE_TIMEOUT_MS } from './teardown.ts';
import { settledWithin } from './wire.ts';

/** One serve() or subscribe(), which outlives the connections it is attached to. */
interface Consumer {
  kind: 'serve' | 'subscribe';
  /** The topic (serve) or event (subscribe). */
  name: string;
  handlers?: Record<string, Handler>;
  onEvent?: (payload: any) => void | Promise<void>;
  closed: boolean;
  session: Session | null;
  channel: Channel | null;
  consumerTag: string | null;
  inflight: Set<Promise<void>>;
  retryTimer: NodeJS.Timeout | null;
}

type Spec = Pick<Consumer, 'kind' | 'name' | 'handlers' | 'onEvent'>;

/**
 * The servers and subscribers: each has its own channel with a prefetch and
 * manual acks. serve() consumes the durable queue `<prefix>.topic.<topic>`
 * that all servers of the topic share; subscribe() an exclusive auto-delete
 * queue bound to the events exchange. They are attached again to every new
 * connection, and again after their channel alone goes.
 */
export function createConsumers(cfg: Settings, conn: Connection) {
  const { log } = cfg;
  const consumers = new Set<Consumer>();
  const dispatch = createDispatch(conn, log);

  const detach = (c: Consumer) => {
    c.session = null;
    c.channel = null;
    c.consumerTag = null;
  };

  const scheduleAttach = (c: Consumer, ms: number) => {
    if (c.closed || conn.isClosing() || c.retryTimer) return;
    c.retryTimer = setTimeout(() => {
      c.retryTimer = null;
      const s = conn.current();
      if (!s || c.closed || c.session === s) return;
      attach(c, s).catch((err) => {
        log.warn({ err, kind: c.kind, name: c.name }, 'bus could not attach consumer; retrying');
        scheduleAttach(c, 1_000);
      });
    }, ms);
  };

  const attach = async (c: Consumer, s: Session): Promise<void> => {
    if (c.closed || c.session === s) return;
    c.session = s;
    let ch: Channel | undefined;
    try {
      ch = await s.model.createChannel();
      const channel = ch;
      channel.on('error', (err: Error) => log.warn({ err, kind: c.kind, name: c.name }, 'bus consumer channel error'));
      channel.on('close', () => {
        if (c.channel !== channel) return;
        detach(c);
        // The connection is fine but the channel went (e.g. the queue was deleted): attach again.
        if (!s.dead && conn.current() === s) scheduleAttach(c, 1_000);
      });
      await channel.prefetch(cfg.prefetch);
      let queue: string;
      if (c.kind === 'serve') {
        queue = cfg.topicQueue(c.name);
        await channel.assertQueue(queue, { durable: true });
        s.declared.add(queue);
      } else {
        ({ queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }));
        await channel.bindQueue(queue, cfg.eventsExchange, c.name);
      }
      const { consumerTag } = await channel.consume(
        queue,
        (msg) => {
          if (!msg) {
            // Cancelled by the broker: the channel's close handler attaches again.
            channel.close().catch(() => {});
            return;
          }
          const work = (
            c.kind === 'serve' ? dispatch.request(c.name, c.handlers ?? {}, s, channel, msg) : dispatch.event(c.name, c.onEvent, channel, msg)
          ).catch((err) => log.error({ err, kind: c.kind, name: c.name }, 'bus message handling failed'));
          c.inflight.add(work);
          void work.finally(() => c.inflight.delete(work));
        },
        { noAck: false },
      );
      if (c.closed || c.session !== s) {
        await channel.close().catch(() => {});
        return;
      }
      c.channel = channel;
      c.consumerTag = consumerTag;
    } catch (e) {
      if (c.session === s) detach(c);
      ch?.close().catch(() => {});
      throw e;
    }
  };

  /** Stops deliveries, lets running handlers finish (within the grace), closes the channel. */
  const shutdown = async (c: Consumer) => {
    c.closed = true;
    consumers.delete(c);
    if (c.retryTimer) clearTimeout(c.retryTimer);
    c.retryTimer = null;
    const channel = c.channel;
    const tag = c.consumerTag;
    detach(c);
    if (!channel) return;
    // Bounded: on a connection to a broker that is gone, no reply ever comes.
    if (tag) await settledWithin(channel.cancel(tag), CLOSE_TIMEOUT_MS);
    if (c.inflight.size) await settledWithin(Promise.allSettled([...c.inflight]), cfg.closeGraceMs);
    await settledWithin(channel.close(), CLOSE_TIMEOUT_MS);
  };

  return {
    async add(spec: Spec): Promise<Subscription> {
      if (conn.isClosing()) throw new Error('bus is closed');
      const c: Consumer = { ...spec, closed: false, session: null, channel: null, consumerTag: null, inflight: new Set(), retryTimer: null };
      consumers.add(c);
      const s = conn.current();
      // While disconnected the consumer is attached by the reconnection.
      if (s) {
        try {
          await attach(c, s);
        } catch (e) {
          if (!s.dead) {
            consumers.delete(c);
            c.closed = true;
            throw e;
          }
        }
      }
      return { close: () => shutdown(c) };
    },

    /** For open(): one consumer that cannot attach must not keep the others down (activated() retries it). */
    async attachAll(s: Session) {
      for (const c of consumers) {
        try {
          await attach(c, s);
        } catch (err) {
          if (s.dead) throw err;
          log.warn({ err, kind: c.kind, name: c.name }, 'bus could not attach consumer; retrying');
        }
      }
    },

    lost(s: Session) {
      for (const c of consumers) if (c.session === s) detach(c);
    },

    /** Anything served or subscribed while open() was running. */
    activated(s: Session) {
      for (const c of consumers) if (!c.closed && c.session !== s) scheduleAttach(c, 0);
    },

    shutdownAll: () => Promise.all([...consumers].map(shutdown)).then(() => {}),

    /** Forgets every consumer at once, acknowledging nothing more (destroy). */
    abandonAll() {
      for (const c of consumers) {
        c.closed = true;
        if (c.retryTimer) clearTimeout(c.retryTimer);
      }
      consumers.clear();
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
