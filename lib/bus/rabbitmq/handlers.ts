import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../../log.ts';
import { BusRemoteError, type Handler } from '../bus.ts';
import type { Connection, Session } from './session.ts';
import { JSON_TYPE, decode, encode, errorFields } from './wire.ts';

type Reply = { ok: true; result: unknown } | { ok: false; error: { message: string; name: string } };

const ack = (channel: Channel, msg: ConsumeMessage) => {
  try {
    channel.ack(msg);
  } catch {
    // The channel is gone: the broker redelivers the message to another consumer.
  }
};

/**
 * What a consumer does with one delivery: run the handler, reply (a call),
 * then acknowledge. The acknowledgement comes only after the handler has
 * finished, whatever its outcome.
 */
export function createDispatch(conn: Connection, log: Logger) {
  /** A call (it has a replyTo) or a cast to a served topic. */
  const request = async (topic: string, handlers: Record<string, Handler>, via: Session, channel: Channel, msg: ConsumeMessage) => {
    const { replyTo, correlationId } = msg.properties as { replyTo?: string; correlationId?: string };
    let method = '?';
    let reply: Reply;
    try {
      const body = decode<{ method?: unknown; args?: unknown }>(msg.content);
      method = String(body.method);
      const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
      if (typeof handler !== 'function') throw new BusRemoteError(`no handler for method ${method} on topic ${topic}`, 'NoSuchMethod');
      reply = { ok: true, result: await handler(body.args) };
    } catch (e) {
      reply = { ok: false, error: errorFields(e) };
      if (!replyTo) log.error({ err: e, topic, method }, 'bus cast handler failed; message acknowledged and dropped');
    }
    if (replyTo) {
      // The connection the request came on; it may be delivering before open() has finished.
      // If it died meanwhile, the request is redelivered anyway, but the reply may still help.
      const s = via.dead ? conn.current() : via;
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
          log.warn({ err, topic, method }, 'bus could not send a reply');
        }
      }
    }
    ack(channel, msg);
  };

  /** A published event, for a subscriber. */
  const event = async (name: string, onEvent: ((payload: any) => void | Promise<void>) | undefined, channel: Channel, msg: ConsumeMessage) => {
    try {
      const { payload } = decode<{ payload?: unknown }>(msg.content);
      await onEvent?.(payload);
    } catch (err) {
      log.warn({ err, event: name }, 'bus subscriber failed');
    }
    ack(channel, msg);
  };

  return { request, event };
}
