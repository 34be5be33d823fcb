import type { ChannelModel } from 'amqplib';

/** How long a graceful close may wait for the broker's CloseOk before the socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Destroys the connection's socket with an error, as a crash would: amqplib
 * sends nothing more (no Connection.Close), tears the connection down with
 * its heartbeat and emits 'close'; the broker sees the TCP connection vanish
 * and requeues every unacknowledged message.
 */
export const killModel = (model: ChannelModel, reason = 'bus destroyed') => {
  const connection = model.connection as unknown as {
    stream?: { destroy(err?: Error): void };
    onSocketError?(err: Error): void;
  };
  try {
    if (connection.stream) connection.stream.destroy(new Error(reason));
    else connection.onSocketError?.(new Error(reason));
  } catch {
    // Already torn down.
  }
};

/**
 * Closes the connection gracefully, but never hangs: resolves on the first of
 * amqplib's close settling (it rejects at once on a connection already
 * closed), the connection's 'close' event, or CLOSE_TIMEOUT_MS, after which
 * the socket is destroyed (a broker that is gone never sends CloseOk).
 */
export const closeModel = (model: ChannelModel): Promise<void> =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      model.removeListener('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      killModel(model, 'bus close timed out');
      done();
    }, CLOSE_TIMEOUT_MS);
    model.once('close', done);
    let closing: Promise<void>;
    try {
      closing = model.close();
    } catch {
      closing = Promise.resolve();
    }
    closing.then(done, done);
  });
