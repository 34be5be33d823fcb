/**
 * The message bus every Nubo process uses to coordinate. Two implementations
 * exist: RabbitMQ through amqplib (rabbitmq/) and an in-process one for the
 * all-in-one (memory.ts). One contract suite (test/integration/bus.test.ts)
 * runs against both.
 *
 * Semantics:
 * - Payloads and results are JSON: what JSON.stringify keeps is what arrives
 *   (a Date becomes its ISO string), on both implementations.
 * - call: request/reply to one server of `topic`; rejects with BusTimeoutError
 *   after timeoutMs; a handler's thrown error comes back as a BusRemoteError.
 * - cast: one-way to one server of `topic`; durable and at-least-once (a
 *   message whose handler has not finished when its consumer dies is
 *   delivered again). It resolves once the message is stored; while the
 *   broker is unreachable it waits, up to timeoutMs when given (a sender
 *   whose own deadline is shorter than the bus's says so).
 * - publish/subscribe: fan-out of an event to every current subscriber;
 *   best-effort (not stored for subscribers that come later).
 * - serve: consume `topic`, dispatching each message to handlers[method];
 *   the message is acknowledged only after the handler's promise resolves.
 * - The RabbitMQ client reconnects by itself after the broker restarts and
 *   re-establishes its servers and subscriptions.
 */
export type Handler = (args: any) => unknown | Promise<unknown>;

export interface Subscription {
  close(): Promise<void>;
}

export interface Bus {
  call<T = unknown>(topic: string, method: string, args?: unknown, opts?: { timeoutMs?: number }): Promise<T>;
  cast(topic: string, method: string, args?: unknown, opts?: { timeoutMs?: number }): Promise<void>;
  publish(event: string, payload?: unknown): Promise<void>;
  subscribe(event: string, handler: (payload: any) => void | Promise<void>): Promise<Subscription>;
  serve(topic: string, handlers: Record<string, Handler>): Promise<Subscription>;
  close(): Promise<void>;
}

export class BusTimeoutError extends Error {
  constructor(topic: string, method: string, timeoutMs: number) {
    super(`bus call ${topic}.${method} got no reply within ${timeoutMs} ms`);
    this.name = 'BusTimeoutError';
  }
}

export class BusRemoteError extends Error {
  constructor(message: string, readonly remoteName: string) {
    super(message);
    this.name = 'BusRemoteError';
  }
}
