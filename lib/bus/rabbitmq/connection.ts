import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Settings } from './options.ts';
import type { Connection, Session, SessionHooks } from './session.ts';
import { closeModel, killModel } from './teardown.ts';
import { deferred } from './wire.ts';

/**
 * The connection to RabbitMQ: opens one with its publish channel and reply
 * queue, and when it drops, reconnects with backoff and jittered delays until
 * the bus is closed.
 */
export function createConnection(cfg: Settings, hooks: SessionHooks): Connection {
  const { log, safeUrl } = cfg;
  let session: Session | null = null;
  let ready = deferred<Session>();
  let closing = false;
  let destroyed = false;
  let reconnecting = false;
  let reconnectSleep: { timer: NodeJS.Timeout; wake(): void } | null = null;
  /** Every connection not yet closed, including one still being set up. */
  const models = new Set<ChannelModel>();

  /** Lets go of a connection nobody will use: gracefully, unless the bus was destroyed. */
  const release = (model: ChannelModel) => (destroyed ? killModel(model) : closeModel(model));

  const open = async (): Promise<Session> => {
    const model = await amqp.connect(cfg.url, { timeout: 10_000, clientProperties: { connection_name: `nubo ${cfg.prefix} pid ${process.pid}` } });
    models.add(model);
    const s: Session = { model, pub: null as unknown as ConfirmChannel, replyQueue: '', declared: new Set(), dead: false };
    model.on('error', (err: Error) => log.warn({ err }, 'bus connection error'));
    model.on('blocked', (reason: string) => log.warn({ reason }, 'bus connection blocked by the broker'));
    model.on('unblocked', () => log.info('bus connection unblocked'));
    model.on('close', () => {
      models.delete(model);
      connectionLost(s);
    });
    try {
      const pub = await model.createConfirmChannel();
      s.pub = pub;
      pub.on('error', (err: Error) => log.warn({ err }, 'bus publish channel error'));
      await pub.assertExchange(cfg.eventsExchange, 'topic', { durable: true });
      const replies = await model.createChannel();
      replies.on('error', (err: Error) => log.warn({ err }, 'bus reply channel error'));
      const { queue } = await replies.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await replies.consume(queue, hooks.onReply, { noAck: true });
      s.replyQueue = queue;
      // Without these two channels the connection is useless: start again from scratch.
      for (const ch of [pub, replies]) ch.on('close', () => void (!s.dead && !closing && closeModel(model)));
      await hooks.attachAll(s);
      if (s.dead) throw new Error('connection closed while it was being set up');
      return s;
    } catch (e) {
      s.dead = true;
      await release(model);
      throw e;
    }
  };

  const connectionLost = (s: Session) => {
    if (s.dead) return;
    s.dead = true;
    hooks.lost(s);
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
    let delay = cfg.reconnectMinMs;
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
            await release(s.model);
            return;
          }
          if (s.dead) throw new Error('connection closed right after it was set up');
          activate(s);
          log.info({ url: safeUrl, attempt }, 'bus reconnected');
          return;
        } catch (err) {
          log.warn({ err, url: safeUrl, attempt }, 'bus reconnect failed');
          delay = Math.min(delay * 2, cfg.reconnectMaxMs);
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
    hooks.activated(s);
  };

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

  /** Takes the live session out of service, marking it dead so that its close starts no reconnection. */
  const takeSession = (): Session | null => {
    const s = session;
    session = null;
    if (!s || s.dead) return null;
    s.dead = true;
    return s;
  };

  return {
    current: () => session,
    isClosing: () => closing,
    waitSession,
    start: async () => activate(await open()),
    stop() {
      closing = true;
      if (reconnectSleep) {
        clearTimeout(reconnectSleep.timer);
        reconnectSleep.wake();
      }
      ready.reject(new Error('bus is closed'));
      hooks.stopped();
    },
    async closeSession() {
      const s = takeSession();
      if (s) await closeModel(s.model);
    },
    destroy() {
      destroyed = true;
      takeSession();
      for (const model of models) killModel(model);
    },
  };
}
