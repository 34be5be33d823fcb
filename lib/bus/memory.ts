import { BusRemoteError, BusTimeoutError, type Bus, type Handler, type Subscription } from './bus.ts';

interface Server {
  handlers: Record<string, Handler>;
  open: boolean;
}

interface Pending {
  method: string;
  args: unknown;
  attempts: number;
}

const CAST_ATTEMPTS = 3;

/**
 * The in-process bus of the all-in-one: the same semantics as RabbitMQ
 * within one process. Payloads are structured-cloned so sender and receiver
 * never share objects, and handlers always run on a later tick.
 */
export function createMemoryBus(): Bus {
  const servers = new Map<string, Server[]>();
  const backlog = new Map<string, Pending[]>();
  const subscribers = new Map<string, Set<(payload: unknown) => void | Promise<void>>>();
  const roundRobin = new Map<string, number>();
  let closed = false;

  const pick = (topic: string): Server | undefined => {
    const list = (servers.get(topic) ?? []).filter((s) => s.open);
    if (list.length === 0) return undefined;
    const i = (roundRobin.get(topic) ?? 0) % list.length;
    roundRobin.set(topic, i + 1);
    return list[i];
  };

  const invoke = async (server: Server, method: string, args: unknown) => {
    const handler = server.handlers[method];
    if (!handler) throw new BusRemoteError(`no handler for method ${method}`, 'NoSuchMethod');
    return handler(structuredClone(args));
  };

  /** Delivers a cast; a failing handler is retried, then the message is dropped. */
  const deliver = (topic: string, msg: Pending) => {
    const server = pick(topic);
    if (!server) {
      const queue = backlog.get(topic) ?? [];
      queue.push(msg);
      backlog.set(topic, queue);
      return;
    }
    setImmediate(async () => {
      try {
        await invoke(server, msg.method, msg.args);
      } catch {
        if (!server.open || ++msg.attempts < CAST_ATTEMPTS) setTimeout(() => deliver(topic, msg), 50 * msg.attempts);
      }
    });
  };

  const assertOpen = () => {
    if (closed) throw new Error('bus is closed');
  };

  return {
    async call<T>(topic: string, method: string, args?: unknown, opts: { timeoutMs?: number } = {}): Promise<T> {
      assertOpen();
      const timeoutMs = opts.timeoutMs ?? 30_000;
      const deadline = Date.now() + timeoutMs;
      const payload = structuredClone(args);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new BusTimeoutError(topic, method, timeoutMs)), timeoutMs);
        const attempt = () => {
          const server = pick(topic);
          if (!server) {
            if (Date.now() < deadline) setTimeout(attempt, 20);
            return;
          }
          setImmediate(async () => {
            try {
              const result = await invoke(server, method, payload);
              clearTimeout(timer);
              resolve(structuredClone(result) as T);
            } catch (e) {
              clearTimeout(timer);
              reject(e instanceof BusRemoteError ? e : new BusRemoteError((e as Error)?.message ?? String(e), (e as Error)?.name ?? 'Error'));
            }
          });
        };
        attempt();
      });
    },

    async cast(topic, method, args) {
      assertOpen();
      deliver(topic, { method, args: structuredClone(args), attempts: 0 });
    },

    async publish(event, payload) {
      assertOpen();
      const copy = structuredClone(payload);
      for (const handler of subscribers.get(event) ?? []) {
        setImmediate(async () => {
          try {
            await handler(structuredClone(copy));
          } catch {
            /* a subscriber's failure is its own */
          }
        });
      }
    },

    async subscribe(event, handler): Promise<Subscription> {
      assertOpen();
      const set = subscribers.get(event) ?? new Set();
      set.add(handler);
      subscribers.set(event, set);
      return { close: async () => void set.delete(handler) };
    },

    async serve(topic, handlers): Promise<Subscription> {
      assertOpen();
      const server: Server = { handlers, open: true };
      servers.set(topic, [...(servers.get(topic) ?? []), server]);
      const queued = backlog.get(topic) ?? [];
      backlog.delete(topic);
      for (const msg of queued) deliver(topic, msg);
      return {
        close: async () => {
          server.open = false;
          servers.set(topic, (servers.get(topic) ?? []).filter((s) => s !== server));
        },
      };
    },

    async close() {
      closed = true;
      servers.clear();
      subscribers.clear();
      backlog.clear();
    },
  };
}
