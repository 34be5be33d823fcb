import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { OpenedData } from './store-backend.ts';

/**
 * Answers with image data past Fastify's send path: the reply is hijacked,
 * the head written with the reply's headers (the request id) and `headers`,
 * and the data sent straight to the socket from the store's reused buffers
 * (send-file.ts). The data is closed whatever happens, a client that goes
 * away midway included. Fastify's onResponse hook (the access log) still
 * runs when the response finishes.
 */
export async function sendData(reply: FastifyReply, status: number, headers: Record<string, string>, data: OpenedData): Promise<void> {
  try {
    reply.hijack();
    reply.raw.writeHead(status, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...headers });
    const outcome = await data.send(reply.raw);
    if (outcome === 'closed') reply.log.info({ status }, 'client closed the connection before the image data was sent');
  } catch (err) {
    reply.log.error({ err }, 'image data download failed midway');
    reply.raw.destroy();
  } finally {
    await data.close();
  }
}
