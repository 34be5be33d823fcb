import type { Logger } from '../log.ts';
import { BusRemoteError, BusTimeoutError, type Bus, type Handler, type Subscription } from './bus.ts';

/**
 * What a payload looks like after crossing the wire: RabbitMQ carries JSON,
 * so the in-process bus copies through JSON too (a Date arrives as a string,
 * undefined properties vanish). Code that works all-in-one then works
 * distributed.
 */
const wireCopy = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

export interface MemoryBusOptions {
  logger?: Logger;
  /** Default timeout of call(); 30 s unless given. */
  callTimeoutMs?: number;
}

/** How often a cast whose handler throws is tried in all before it is dropped. */
const CAST_ATTEMPTS = 3;
/** Delay before the first retry of a failed cast; doubles on each further one. */
const CAST_RETRY_MS = 50;

interface Reply {
  resolve(value: unknown): void;
  reject(error: Error): void;
  deadline: number;
  done: boolean;
}

/** One message on its way to a server of a topic: a cast, or a call's request when `reply` is set. */
interface Delivery {
  topic: string;
  method: string;
  args: unknown;
  attempts: number;
  reply?: Reply;
}

interface Server {
  handlers: Record<string, Handler>;
  open: boolean;
  /** Deliveries whose handler has not finished: what RabbitMQ would hold unacknowledged. */
  inflight: Set<Delivery>;
}

const remoteError = (e: unknown): BusRemoteError => {
  if (e instanceof BusRemoteError) return new BusRemoteError(e.message, e.remoteName);
  const err = e as { message?: unknown; name?: unknown } | null;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const name = typeof err?.name === 'string' ? err.name : 'Error';
  return new BusRemoteError(message, name);
};

/**
 * The in-process bus of the all-in-one: the same semantics as RabbitMQ
 * within one process.
 * - Payloads are structured-cloned, so sender and receiver never share
 *   objects, and handlers always run on a later tick, never inside
 *   call/cast/publish.
 * - serve() dispatches round-robin among the open servers of a topic; casts
 *   and calls sent while no server exists wait for one (calls until their
 *   timeout).
 * - A cast whose handler throws is retried with backoff, then logged and
 *   dropped. A message whose server closes before its handler has finished is
 *   handed to another server (as RabbitMQ redelivers an unacknowledged
 *   message); the first handler's outcome is then ignored.
 * - publish() fans out to every current subscriber; nothing is kept.
 */
export function createMemoryBus(opts: MemoryBusOptions = {}): Bus {
  const log = opts.logger;
  const defaultTimeoutMs = opts.callTimeoutMs ?? 30_000;
  const servers = new Map<string, Server[]>();
  const backlog = new Map<string, Delivery[]>();
  const subscribers = new Map<string, Set<(payload: any) => void | Promise<void>>>();
  const roundRobin = new Map<string, number>();
  const pendingCalls = new Set<Delivery>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const later = (fn: () => void, ms: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
    return timer;
  };

  const pick = (topic: string): Server | undefined => {
    const list = servers.get(topic) ?? [];
    if (list.length === 0) return undefined;
    const i = (roundRobin.get(topic) ?? 0) % list.length;
    roundRobin.set(topic, i + 1);
    return list[i];
  };

  const expired = (d: Delivery) => d.reply !== undefined && (d.reply.done || Date.now() >= d.reply.deadline);

  const dispatch = (d: Delivery): void => {
    if (closed || expired(d)) return;
    const server = pick(d.topic);
    if (!server) {
      const queue = backlog.get(d.topic) ?? [];
      queue.push(d);
      backlog.set(d.topic, queue);
      return;
    }
    server.inflight.add(d);
    setImmediate(() => void run(server, d));
  };

  const run = async (server: Server, d: Delivery): Promise<void> => {
    // The server may have closed (and handed d on) before this tick.
    if (!server.inflight.has(d)) return;
    let ok = false;
    let result: unknown;
    let error: unknown;
    try {
      const handler = Object.hasOwn(server.handlers, d.method) ? server.handlers[d.method] : undefined;
      if (typeof handler !== 'function') throw new BusRemoteError(`no handler for method ${d.method} on topic ${d.topic}`, 'NoSuchMethod');
      result = await handler(wireCopy(d.args));
      ok = true;
    } catch (e) {
      error = e;
    }
    // Not in flight any more: its server closed meanwhile and the message went elsewhere.
    if (!server.inflight.delete(d)) return;
    if (d.reply) {
      const reply = d.reply;
      if (reply.done) return;
      if (ok) {
        let copy: unknown;
        try {
          copy = wireCopy(result);
        } catch (e) {
          reply.reject(remoteError(e));
          return;
        }
        reply.resolve(copy);
      } else {
        reply.reject(remoteError(error));
      }
      return;
    }
    if (ok) return;
    d.attempts += 1;
    if (d.attempts < CAST_ATTEMPTS) {
      log?.warn({ err: error, topic: d.topic, method: d.method, attempt: d.attempts }, 'bus cast handler failed; retrying');
      later(() => dispatch(d), CAST_RETRY_MS * 2 ** (d.attempts - 1));
    } else {
      log?.error({ err: error, topic: d.topic, method: d.method, attempts: d.attempts }, 'bus cast handler failed; message dropped');
    }
  };

  const assertOpen = () => {
    if (closed) throw new Error('bus is closed');
  };

  return {
    async call<T>(topic: string, method: string, args?: unknown, callOpts: { timeoutMs?: number } = {}): Promise<T> {
      assertOpen();
      const timeoutMs = callOpts.timeoutMs ?? defaultTimeoutMs;
      const payload = wireCopy(args);
      return new Promise<T>((resolve, reject) => {
        const settle = () => {
          reply.done = true;
          clearTimeout(timer);
          timers.delete(timer);
          pendingCalls.delete(d);
          const queue = backlog.get(topic);
          if (queue?.includes(d)) backlog.set(topic, queue.filter((x) => x !== d));
        };
        const reply: Reply = {
          deadline: Date.now() + timeoutMs,
          done: false,
          resolve: (v) => {
            if (reply.done) return;
            settle();
            resolve(v as T);
          },
          reject: (e) => {
            if (reply.done) return;
            settle();
            reject(e);
          },
        };
        const d: Delivery = { topic, method, args: payload, attempts: 0, reply };
        const timer = later(() => reply.reject(new BusTimeoutError(topic, method, timeoutMs)), timeoutMs);
        pendingCalls.add(d);
        dispatch(d);
      });
    },

    async cast(topic, method, args) {
      assertOpen();
      dispatch({ topic, method, args: wireCopy(args), attempts: 0 });
    },

    async publish(event, payload) {
      assertOpen();
      const copy = wireCopy(payload);
      for (const handler of subscribers.get(event) ?? []) {
        setImmediate(async () => {
          if (closed || !subscribers.get(event)?.has(handler)) return;
          try {
            await handler(wireCopy(copy));
          } catch (e) {
            log?.warn({ err: e, event }, 'bus subscriber failed');
          }
        });
      }
    },

    async subscribe(event, handler): Promise<Subscription> {
      assertOpen();
      // A wrapper, so that subscribing the same function twice gives two subscriptions.
      const own = (payload: any) => handler(payload);
      const set = subscribers.get(event) ?? new Set();
      set.add(own);
      subscribers.set(event, set);
      return {
        close: async () => {
          set.delete(own);
          if (set.size === 0 && subscribers.get(event) === set) subscribers.delete(event);
        },
      };
    },

    async serve(topic, handlers): Promise<Subscription> {
      assertOpen();
      const server: Server = { handlers, open: true, inflight: new Set() };
      servers.set(topic, [...(servers.get(topic) ?? []), server]);
      const queued = backlog.get(topic) ?? [];
      backlog.delete(topic);
      for (const d of queued) dispatch(d);
      return {
        close: async () => {
          if (!server.open) return;
          server.open = false;
          const rest = (servers.get(topic) ?? []).filter((s) => s !== server);
          if (rest.length) servers.set(topic, rest);
          else servers.delete(topic);
          // What the closed server had not finished goes to another server (or waits for one).
          const unfinished = [...server.inflight];
          server.inflight.clear();
          for (const d of unfinished) dispatch(d);
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const list of servers.values()) for (const s of list) (s.open = false), s.inflight.clear();
      servers.clear();
      subscribers.clear();
      backlog.clear();
      for (const d of [...pendingCalls]) d.reply?.reject(new Error('bus is closed'));
      pendingCalls.clear();
    },
  };
}
