import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { createLogger, type Logger } from '../log.ts';
import { BusRemoteError, BusTimeoutError, type Bus, type Handler, type Subscription } from './bus.ts';

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

interface Session {
  model: ChannelModel;
  /** Confirm channel for every publish (requests, casts, events, replies). */
  pub: ConfirmChannel;
  /** Exclusive, auto-delete queue this connection's calls get their replies on. */
  replyQueue: string;
  /** Topic queues declared on this connection. */
  declared: Set<string>;
  dead: boolean;
}

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

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

const deferred = <T>(): Deferred<T> => {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // nobody may be waiting
  return { promise, resolve, reject };
};

const JSON_TYPE = 'application/json';
const encode = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');
const errorFields = (e: unknown): { message: string; name: string } => {
  if (e instanceof BusRemoteError) return { message: e.message, name: e.remoteName };
  const err = e as { message?: unknown; name?: unknown } | null;
  return {
    message: typeof err?.message === 'string' ? err.message : String(e),
    name: typeof err?.name === 'string' ? err.name : 'Error',
  };
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
 *   nobody works on a request whose caller has given up.
 * - publish/subscribe: a topic exchange `<prefix>.events` with the event name
 *   as routing key, one exclusive auto-delete queue per subscription.
 * - When the connection drops, the bus reconnects with backoff and declares
 *   and attaches every open serve() and subscribe() again; calls, casts and
 *   publishes made meanwhile wait for the connection (a call within its
 *   timeout; cast/publish up to sendTimeoutMs).
 */
export async function createRabbitBus(url: string, opts: RabbitBusOptions = {}): Promise<RabbitBus> {
  const log = (opts.logger ?? createLogger({ name: 'bus' })).child({ component: 'bus' });
  const prefix = opts.prefix ?? 'nubo';
  const eventsExchange = `${prefix}.events`;
  const topicQueue = (topic: string) => `${prefix}.topic.${topic}`;
  const defaultCallTimeoutMs = opts.callTimeoutMs ?? 30_000;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 30_000;
  const prefetch = opts.prefetch ?? 16;
  const closeGraceMs = opts.closeGraceMs ?? 5_000;
  const reconnectMinMs = opts.reconnectMinMs ?? 200;
  const reconnectMaxMs = opts.reconnectMaxMs ?? 5_000;
  const safeUrl = url.replace(/\/\/[^@/]*@/, '//***@');

  let session: Session | null = null;
  let ready = deferred<Session>();
  let closing = false;
  let reconnecting = false;
  let reconnectSleep: { timer: NodeJS.Timeout; wake(): void } | null = null;
  const consumers = new Set<Consumer>();
  const pending = new Map<string, PendingCall>();

  // ---------------------------------------------------------------- connection

  const onReply = (msg: ConsumeMessage | null) => {
    if (!msg) return;
    const id = msg.properties.correlationId as string | undefined;
    const call = id ? pending.get(id) : undefined;
    if (!call) return; // late (timed out) or duplicate
    let body: { ok?: boolean; result?: unknown; error?: { message?: string; name?: string } };
    try {
      body = JSON.parse(msg.content.toString('utf8'));
    } catch (e) {
      call.reject(new BusRemoteError(`malformed reply: ${(e as Error).message}`, 'MalformedReply'));
      return;
    }
    if (body.ok) call.resolve(body.result);
    else call.reject(new BusRemoteError(body.error?.message ?? 'remote error', body.error?.name ?? 'Error'));
  };

  const open = async (): Promise<Session> => {
    const model = await amqp.connect(url, { timeout: 10_000, clientProperties: { connection_name: `nubo ${prefix} pid ${process.pid}` } });
    const s: Session = { model, pub: null as unknown as ConfirmChannel, replyQueue: '', declared: new Set(), dead: false };
    model.on('error', (err: Error) => log.warn({ err }, 'bus connection error'));
    model.on('blocked', (reason: string) => log.warn({ reason }, 'bus connection blocked by the broker'));
    model.on('unblocked', () => log.info('bus connection unblocked'));
    model.on('close', () => connectionLost(s));
    try {
      const pub = await model.createConfirmChannel();
      s.pub = pub;
      pub.on('error', (err: Error) => log.warn({ err }, 'bus publish channel error'));
      await pub.assertExchange(eventsExchange, 'topic', { durable: true });
      const replies = await model.createChannel();
      replies.on('error', (err: Error) => log.warn({ err }, 'bus reply channel error'));
      const { queue } = await replies.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await replies.consume(queue, onReply, { noAck: true });
      s.replyQueue = queue;
      // Without these two channels the connection is useless: start again from scratch.
      for (const ch of [pub, replies]) ch.on('close', () => void (!s.dead && !closing && model.close().catch(() => {})));
      for (const c of consumers) {
        try {
          await attach(c, s);
        } catch (err) {
          // One consumer that cannot attach must not keep the others down: activate() retries it.
          if (s.dead) throw err;
          log.warn({ err, kind: c.kind, name: c.name }, 'bus could not attach consumer; retrying');
        }
      }
      if (s.dead) throw new Error('connection closed while it was being set up');
      return s;
    } catch (e) {
      s.dead = true;
      await model.close().catch(() => {});
      throw e;
    }
  };

  const connectionLost = (s: Session) => {
    if (s.dead) return;
    s.dead = true;
    for (const c of consumers) if (c.session === s) detach(c);
    if (session !== s) return;
    session = null;
    ready = deferred<Session>();
    if (closing) return;
    log.warn({ url: safeUrl }, 'bus connection lost; reconnecting');
    void reconnect();
  };

  const reconnect = async () => {
    if (reconnecting) return;
    reconnecting = true;
    let delay = reconnectMinMs;
    try {
      for (let attempt = 1; !closing; attempt++) {
        await new Promise<void>((wake) => {
          const timer = setTimeout(wake, delay * (0.8 + Math.random() * 0.4));
          reconnectSleep = { timer, wake };
        });
        reconnectSleep = null;
        if (closing) return;
        try {
          const s = await open();
          if (closing) {
            s.dead = true;
            await s.model.close().catch(() => {});
            return;
          }
          if (s.dead) throw new Error('connection closed right after it was set up');
          activate(s);
          log.info({ url: safeUrl, attempt }, 'bus reconnected');
          return;
        } catch (err) {
          log.warn({ err, url: safeUrl, attempt }, 'bus reconnect failed');
          delay = Math.min(delay * 2, reconnectMaxMs);
        }
      }
    } finally {
      reconnecting = false;
    }
  };

  const activate = (s: Session) => {
    if (s.dead) {
      void reconnect();
      return;
    }
    session = s;
    ready.resolve(s);
    // Anything served or subscribed while open() was running.
    for (const c of consumers) if (!c.closed && c.session !== s) scheduleAttach(c, 0);
  };

  /** The live session, waiting for a reconnection until `deadline`. */
  const waitSession = async (deadline: number, what: string): Promise<Session> => {
    if (closing) throw new Error('bus is closed');
    if (session) return session;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`bus not connected: ${what} gave up`);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        ready.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`bus not connected within ${Math.round(left)} ms: ${what} gave up`)), left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  const ensureQueue = async (s: Session, queue: string) => {
    if (s.declared.has(queue)) return;
    await s.pub.assertQueue(queue, { durable: true });
    s.declared.add(queue);
  };

  /** Publishes on the confirm channel; resolves when the broker has confirmed. */
  const confirmed = (s: Session, exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bus: no publisher confirm from the broker in time')), Math.max(1, deadline - Date.now()));
      try {
        s.pub.publish(exchange, routingKey, content, options, (err) => {
          clearTimeout(timer);
          if (err) reject(err instanceof Error ? err : new Error(`bus: broker refused the message (${String(err)})`));
          else resolve();
        });
      } catch (e) {
        clearTimeout(timer);
        reject(e);
      }
    });

  /**
   * Sends once the bus is connected, and again on a new connection if the
   * old one died before the broker confirmed (at-least-once). An error on a
   * connection that is still alive is the broker's answer and is thrown.
   */
  const send = async (what: string, deadline: number, attempt: (s: Session) => Promise<void>, stillWanted: () => boolean = () => true) => {
    for (;;) {
      const s = await waitSession(deadline, what);
      try {
        await attempt(s);
        return;
      } catch (e) {
        await new Promise((r) => setImmediate(r)); // let a dying connection report its close
        if (closing) throw new Error('bus is closed');
        if (!s.dead || Date.now() >= deadline || !stillWanted()) throw e;
        log.debug({ err: e, what }, 'bus send interrupted by a lost connection; retrying');
      }
    }
  };

  // ----------------------------------------------------------------- consumers

  const detach = (c: Consumer) => {
    c.session = null;
    c.channel = null;
    c.consumerTag = null;
  };

  const scheduleAttach = (c: Consumer, ms: number) => {
    if (c.closed || closing || c.retryTimer) return;
    c.retryTimer = setTimeout(() => {
      c.retryTimer = null;
      const s = session;
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
        if (!s.dead && session === s) scheduleAttach(c, 1_000);
      });
      await channel.prefetch(prefetch);
      let queue: string;
      if (c.kind === 'serve') {
        queue = topicQueue(c.name);
        await channel.assertQueue(queue, { durable: true });
        s.declared.add(queue);
      } else {
        ({ queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false }));
        await channel.bindQueue(queue, eventsExchange, c.name);
      }
      const { consumerTag } = await channel.consume(
        queue,
        (msg) => {
          if (!msg) {
            // Cancelled by the broker: the channel's close handler attaches again.
            channel.close().catch(() => {});
            return;
          }
          const work = (c.kind === 'serve' ? handleRequest(c, s, channel, msg) : handleEvent(c, channel, msg)).catch((err) =>
            log.error({ err, kind: c.kind, name: c.name }, 'bus message handling failed'),
          );
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

  const ack = (channel: Channel, msg: ConsumeMessage) => {
    try {
      channel.ack(msg);
    } catch {
      // The channel is gone: the broker redelivers the message to another consumer.
    }
  };

  const handleRequest = async (c: Consumer, via: Session, channel: Channel, msg: ConsumeMessage) => {
    const { replyTo, correlationId } = msg.properties as { replyTo?: string; correlationId?: string };
    let method = '?';
    let reply: { ok: true; result: unknown } | { ok: false; error: { message: string; name: string } };
    try {
      const body = JSON.parse(msg.content.toString('utf8')) as { method?: unknown; args?: unknown };
      method = String(body.method);
      const handlers = c.handlers ?? {};
      const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
      if (typeof handler !== 'function') throw new BusRemoteError(`no handler for method ${method} on topic ${c.name}`, 'NoSuchMethod');
      reply = { ok: true, result: await handler(body.args) };
    } catch (e) {
      reply = { ok: false, error: errorFields(e) };
      if (!replyTo) log.error({ err: e, topic: c.name, method }, 'bus cast handler failed; message acknowledged and dropped');
    }
    if (replyTo) {
      // The connection the request came on; it may be delivering before open() has finished.
      // If it died meanwhile, the request is redelivered anyway, but the reply may still help.
      const s = via.dead ? session : via;
      if (s) {
        let content: Buffer;
        try {
          content = encode(reply);
        } catch (e) {
          content = encode({ ok: false, error: errorFields(e) });
        }
        try {
          s.pub.sendToQueue(replyTo, content, { correlationId, contentType: JSON_TYPE });
        } catch (err) {
          log.warn({ err, topic: c.name, method }, 'bus could not send a reply');
        }
      }
    }
    ack(channel, msg);
  };

  const handleEvent = async (c: Consumer, channel: Channel, msg: ConsumeMessage) => {
    try {
      const { payload } = JSON.parse(msg.content.toString('utf8')) as { payload?: unknown };
      await c.onEvent?.(payload);
    } catch (err) {
      log.warn({ err, event: c.name }, 'bus subscriber failed');
    }
    ack(channel, msg);
  };

  /** Stops deliveries, lets running handlers finish (within the grace), closes the channel. */
  const shutdownConsumer = async (c: Consumer) => {
    c.closed = true;
    consumers.delete(c);
    if (c.retryTimer) clearTimeout(c.retryTimer);
    c.retryTimer = null;
    const channel = c.channel;
    const tag = c.consumerTag;
    detach(c);
    if (!channel) return;
    if (tag) await channel.cancel(tag).catch(() => {});
    if (c.inflight.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...c.inflight]), new Promise((r) => (timer = setTimeout(r, closeGraceMs)))]);
      clearTimeout(timer);
    }
    await channel.close().catch(() => {});
  };

  const addConsumer = async (c: Consumer): Promise<Subscription> => {
    if (closing) throw new Error('bus is closed');
    consumers.add(c);
    const s = session;
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
    return { close: () => shutdownConsumer(c) };
  };

  const newConsumer = (kind: Consumer['kind'], name: string): Consumer => ({
    kind,
    name,
    closed: false,
    session: null,
    channel: null,
    consumerTag: null,
    inflight: new Set(),
    retryTimer: null,
  });

  // ----------------------------------------------------------------- shutdown

  const stop = () => {
    closing = true;
    if (reconnectSleep) {
      clearTimeout(reconnectSleep.timer);
      reconnectSleep.wake();
    }
    ready.reject(new Error('bus is closed'));
    for (const [id, call] of pending) {
      pending.delete(id);
      clearTimeout(call.timer);
      call.reject(new Error('bus is closed'));
    }
  };

  // ------------------------------------------------------------------- start

  const first = await open();
  activate(first);

  return {
    async call<T>(topic: string, method: string, args?: unknown, callOpts: { timeoutMs?: number } = {}): Promise<T> {
      if (closing) throw new Error('bus is closed');
      const timeoutMs = callOpts.timeoutMs ?? defaultCallTimeoutMs;
      const deadline = Date.now() + timeoutMs;
      const id = randomUUID();
      const content = encode({ method, args });
      const queue = topicQueue(topic);
      return new Promise<T>((resolve, reject) => {
        const finish = () => {
          clearTimeout(timer);
          pending.delete(id);
        };
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new BusTimeoutError(topic, method, timeoutMs));
        }, timeoutMs);
        pending.set(id, {
          timer,
          resolve: (v) => (finish(), resolve(v as T)),
          reject: (e) => (finish(), reject(e)),
        });
        send(
          `call ${topic}.${method}`,
          deadline,
          async (s) => {
            await ensureQueue(s, queue);
            const ttl = Math.max(1, deadline - Date.now());
            await confirmed(
              s,
              '',
              queue,
              content,
              { persistent: true, contentType: JSON_TYPE, correlationId: id, replyTo: s.replyQueue, expiration: String(ttl), type: method },
              deadline,
            );
          },
          () => pending.has(id),
        ).catch((e) => {
          // A timed-out call has already been rejected with BusTimeoutError.
          if (pending.has(id)) pending.get(id)!.reject(e instanceof Error ? e : new Error(String(e)));
        });
      });
    },

    async cast(topic, method, args) {
      const content = encode({ method, args });
      const queue = topicQueue(topic);
      const deadline = Date.now() + sendTimeoutMs;
      await send(`cast ${topic}.${method}`, deadline, async (s) => {
        await ensureQueue(s, queue);
        await confirmed(s, '', queue, content, { persistent: true, contentType: JSON_TYPE, type: method }, deadline);
      });
    },

    async publish(event, payload) {
      const content = encode({ payload });
      const deadline = Date.now() + sendTimeoutMs;
      await send(`publish ${event}`, deadline, (s) => confirmed(s, eventsExchange, event, content, { contentType: JSON_TYPE, type: event }, deadline));
    },

    subscribe(event, handler) {
      return addConsumer({ ...newConsumer('subscribe', event), onEvent: handler });
    },

    serve(topic, handlers) {
      return addConsumer({ ...newConsumer('serve', topic), handlers });
    },

    async close() {
      if (closing) return;
      stop();
      await Promise.all([...consumers].map((c) => shutdownConsumer(c)));
      const s = session;
      session = null;
      if (s && !s.dead) {
        s.dead = true;
        await s.model.close().catch(() => {});
      }
    },

    destroy() {
      if (closing) return;
      stop();
      for (const c of consumers) {
        c.closed = true;
        if (c.retryTimer) clearTimeout(c.retryTimer);
      }
      consumers.clear();
      const s = session;
      session = null;
      if (s && !s.dead) {
        s.dead = true;
        // Destroying the socket with an error makes amqplib tear the connection down
        // (heartbeat timers included) at once; the broker sees the TCP connection vanish.
        const stream = (s.model.connection as unknown as { stream?: { destroy(err?: Error): void } }).stream;
        if (stream) stream.destroy(new Error('bus destroyed'));
        else s.model.close().catch(() => {});
      }
    },
  };
}
