import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import { BusRemoteError, BusTimeoutError } from '../bus.ts';
import type { Settings } from './options.ts';
import type { Publisher } from './publisher.ts';
import { JSON_TYPE, decode, encode } from './wire.ts';

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

type ReplyBody = { ok?: boolean; result?: unknown; error?: { message?: string; name?: string } };

/**
 * call(): a request with a correlation id, a reply-to queue (exclusive and
 * auto-delete, one per connection) and a TTL equal to the timeout, so that
 * nobody works on a request whose caller has given up. The reply, or the
 * timeout, settles the call.
 */
export function createCalls(cfg: Settings, publisher: Publisher) {
  const pending = new Map<string, PendingCall>();

  return {
    /** Consumes the reply queue. */
    onReply(msg: ConsumeMessage | null) {
      if (!msg) return;
      const id = msg.properties.correlationId as string | undefined;
      const call = id ? pending.get(id) : undefined;
      if (!call) return; // late (timed out) or duplicate
      let body: ReplyBody;
      try {
        body = decode<ReplyBody>(msg.content);
      } catch (e) {
        call.reject(new BusRemoteError(`malformed reply: ${(e as Error).message}`, 'MalformedReply'));
        return;
      }
      if (body.ok) call.resolve(body.result);
      else call.reject(new BusRemoteError(body.error?.message ?? 'remote error', body.error?.name ?? 'Error'));
    },

    /** Rejects every call still waiting for its reply. */
    rejectAll(reason: string) {
      for (const [id, call] of pending) {
        pending.delete(id);
        clearTimeout(call.timer);
        call.reject(new Error(reason));
      }
    },

    call<T>(topic: string, method: string, args: unknown, timeoutMs: number): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      const id = randomUUID();
      const content = encode({ method, args });
      const queue = cfg.topicQueue(topic);
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
        // Transient (index.ts): the broker writes nothing to disk for a request only this connection's reply queue can answer.
        const options = { persistent: false, contentType: JSON_TYPE, correlationId: id, type: method };
        publisher
          .send(
            `call ${topic}.${method}`,
            deadline,
            async (s) => {
              await publisher.ensureQueue(s, queue);
              const ttl = Math.max(1, deadline - Date.now());
              await publisher.confirmed(s, '', queue, content, { ...options, replyTo: s.replyQueue, expiration: String(ttl) }, deadline);
            },
            () => pending.has(id),
          )
          .catch((e) => {
            // A timed-out call has already been rejected with BusTimeoutError.
            if (pending.has(id)) pending.get(id)!.reject(e instanceof Error ? e : new Error(String(e)));
          });
      });
    },
  };
}
