import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unsupportedMediaType } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { callerOf } from '../images/access.ts';
import { sendData } from './send-reply.ts';
import { downloadImageData, uploadImageData } from './service.ts';
import { assertStoreHeader } from './stores.ts';

type IdParams = { image_id: string };

/** Per-route body limit of data routes: the body is streamed, never buffered, so the JSON limit does not apply. */
export const RAW_BODY_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Registers, in a scope of their own, routes whose body is image data: no
 * parser reads it, whatever its content type; the handler gets the request
 * stream (`request.raw`) untouched, with nothing buffered.
 */
export function registerRawBodyRoutes(app: FastifyInstance, routes: (scope: FastifyInstance) => void): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    // A refused or failed transfer may leave body unread (a paused stream, that Node would not drain):
    // discard the rest, so the client gets the answer and the connection stays usable.
    scope.addHook('onError', async (request) => {
      if (!request.raw.complete) request.raw.resume();
    });
    routes(scope);
  });
}

/** Glance takes data only as application/octet-stream (415 otherwise, "None" when there is no Content-Type). */
export function assertOctetStream(request: FastifyRequest): void {
  const type = request.headers['content-type'];
  const media = type?.split(';')[0].trim().toLowerCase();
  if (media !== 'application/octet-stream') throw unsupportedMediaType(`Invalid content type ${type ?? 'None'}`);
}

/** The declared body size, when there is one. */
export function contentLength(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

export function registerImageDataRoutes(app: FastifyInstance, ctx: ImageContext): void {
  registerRawBodyRoutes(app, (scope) => {
    scope.put<{ Params: IdParams }>('/v2/images/:image_id/file', { bodyLimit: RAW_BODY_LIMIT }, async (request, reply) => {
      const caller = callerOf(request, ctx);
      assertOctetStream(request);
      assertStoreHeader(request);
      await uploadImageData(ctx, caller, request.params.image_id, request.raw, contentLength(request));
      return reply.code(204).send();
    });
  });

  app.get<{ Params: IdParams }>('/v2/images/:image_id/file', { exposeHeadRoute: false }, async (request, reply) => {
    const caller = callerOf(request, ctx);
    const download = await downloadImageData(ctx, caller, request.params.image_id, request.headers.range);
    if (download.data) return sendData(reply, download.status, download.headers, download.data);
    return reply.code(download.status).headers(download.headers).send();
  });
}
