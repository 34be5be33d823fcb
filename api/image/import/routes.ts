import type { FastifyInstance } from 'fastify';
import type { ImageContext } from '../context.ts';
import { assertOctetStream, contentLength, RAW_BODY_LIMIT, registerRawBodyRoutes } from '../data/routes.ts';
import { storesInfo } from '../data/stores.ts';
import { callerOf } from '../images/access.ts';
import { createImportRunner, importImage, importInfo, stageImageData } from './service.ts';

type IdParams = { image_id: string };

/** Interoperable image import (glance-direct) and the discovery calls that advertise it. */
export function registerImportRoutes(app: FastifyInstance, ctx: ImageContext): void {
  const runner = createImportRunner(ctx);
  app.addHook('onClose', () => runner.close());

  registerRawBodyRoutes(app, (scope) => {
    scope.put<{ Params: IdParams }>('/v2/images/:image_id/stage', { bodyLimit: RAW_BODY_LIMIT }, async (request, reply) => {
      const caller = callerOf(request, ctx);
      assertOctetStream(request);
      await stageImageData(ctx, caller, request.params.image_id, request.raw, contentLength(request));
      return reply.code(204).send();
    });
  });

  app.post<{ Params: IdParams }>('/v2/images/:image_id/import', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const header = request.headers['x-image-meta-store'];
    await importImage(ctx, runner, caller, request.params.image_id, request.body, header === undefined ? undefined : String(header));
    return reply.code(202).send();
  });

  app.get('/v2/info/import', async (request) => {
    callerOf(request, ctx);
    return importInfo();
  });

  app.get('/v2/info/stores', async (request) => {
    callerOf(request, ctx);
    return storesInfo();
  });
}
