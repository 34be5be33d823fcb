import type { Options } from 'amqplib';
import type { Logger } from '../../log.ts';
import type { Connection, Session } from './session.ts';

export interface Publisher {
  /** Declares a durable topic queue once per connection. */
  ensureQueue(s: Session, queue: string): Promise<void>;
  /** Publishes on the confirm channel; resolves when the broker has confirmed. */
  confirmed(s: Session, exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number): Promise<void>;
  /**
   * Sends once the bus is connected, and again on a new connection if the
   * old one died before the broker confirmed (at-least-once). An error on a
   * connection that is still alive is the broker's answer and is thrown.
   */
  send(what: string, deadline: number, attempt: (s: Session) => Promise<void>, stillWanted?: () => boolean): Promise<void>;
}

/** Publishing with publisher confirms, retried across reconnections. */
export function createPublisher(conn: Connection, log: Logger): Publisher {
  return {
    async ensureQueue(s, queue) {
      if (s.declared.has(queue)) return;
      await s.pub.assertQueue(queue, { durable: true });
      s.declared.add(queue);
    },

    confirmed: (s, exchange, routingKey, content, options, deadline) =>
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
      }),

    async send(what, deadline, attempt, stillWanted = () => true) {
      for (;;) {
        const s = await conn.waitSession(deadline, what);
        try {
          await attempt(s);
          return;
        } catch (e) {
          await new Promise((r) => setImmediate(r)); // let a dying connection report its close
          if (conn.isClosing()) throw new Error('bus is closed');
          if (!s.dead || Date.now() >= deadline || !stillWanted()) throw e;
          log.debug({ err: e, what }, 'bus send interrupted by a lost connection; retrying');
        }
      }
    },
  };
}
