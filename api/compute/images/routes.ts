import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../../../lib/errors.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { imageServiceUrl } from '../server-actions/snapshot.ts';
import { collectionLinks, lastValue, pageOf, queryOf } from '../query.ts';
import { versionNotFound } from '../services/state.ts';
import * as images from './service.ts';
import { briefImageView, imageView } from './view.ts';

type ImageParams = { image_id: string };
type KeyParams = { image_id: string; key: string };

/** The images proxy went in 2.36, its metadata calls in 2.39 (use Glance instead). */
const IMAGES_GONE = '2.36';
const METADATA_GONE = '2.39';

/** /images[/detail], /images/{id} and /images/{id}/metadata[/{key}]: Nova's deprecated proxy of Glance. */
export function registerImageProxyRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const callerUpTo = (request: FastifyRequest, gone: string) => {
    if (request.microversion.atLeast(gone)) throw versionNotFound();
    return callerOf(request, ctx);
  };
  /** Where Glance serves images, for the alternate links: the catalog's image endpoint. */
  const glanceImages = async (request: FastifyRequest) => `${await imageServiceUrl(ctx, `${request.protocol}://${request.hostname}:${ctx.config['image.port']}`)}/images`;
  const query = (request: FastifyRequest) => Object.fromEntries(Object.keys(queryOf(request)).map((k) => [k, lastValue(queryOf(request), k)]));

  for (const detail of [false, true]) {
    app.get(detail ? '/images/detail' : '/images', async (request) => {
      const caller = callerUpTo(request, IMAGES_GONE);
      const page = pageOf(request, ctx.config['compute.max_limit']);
      const rows = await images.listProxyImages(ctx, caller, query(request), page);
      const glance = await glanceImages(request);
      const out: Record<string, unknown> = { images: rows.map((i) => (detail ? imageView(request, i, glance) : briefImageView(request, i, glance))) };
      const next = collectionLinks(request, detail ? 'images/detail' : 'images', rows.length, rows[rows.length - 1]?.id, ctx.config['compute.max_limit']);
      if (next.length) out.images_links = next;
      return out;
    });
  }

  app.get<{ Params: ImageParams }>('/images/:image_id', async (request) => {
    const caller = callerUpTo(request, IMAGES_GONE);
    return { image: imageView(request, await images.showProxyImage(ctx, caller, request.params.image_id), await glanceImages(request)) };
  });

  app.get<{ Params: ImageParams }>('/images/:image_id/metadata', async (request) => {
    const caller = callerUpTo(request, METADATA_GONE);
    return { metadata: await images.imageMetadata(ctx, caller, request.params.image_id) };
  });

  // POST merges the keys given into the metadata; PUT replaces it (Nova's image metadata update and update_all).
  for (const [method, replace] of [['post', false], ['put', true]] as const) {
    app[method]<{ Params: ImageParams }>('/images/:image_id/metadata', async (request) => {
      const caller = callerUpTo(request, METADATA_GONE);
      ctx.validate('ServerMetadataRequest', request.body);
      const metadata = (request.body as { metadata: Record<string, string> }).metadata;
      return { metadata: await images.setImageMetadata(ctx, caller, request.params.image_id, metadata, replace) };
    });
  }

  app.get<{ Params: KeyParams }>('/images/:image_id/metadata/:key', async (request) => {
    const caller = callerUpTo(request, METADATA_GONE);
    const { image_id, key } = request.params;
    return { meta: { [key]: await images.imageMetadataItem(ctx, caller, image_id, key) } };
  });

  app.put<{ Params: KeyParams }>('/images/:image_id/metadata/:key', async (request) => {
    const caller = callerUpTo(request, METADATA_GONE);
    ctx.validate('ServerMetaItemRequest', request.body);
    const meta = (request.body as { meta: Record<string, string> }).meta;
    if (!Object.hasOwn(meta, request.params.key)) throw badRequest('Request body and URI mismatch');
    await images.setImageMetadata(ctx, caller, request.params.image_id, meta, false);
    return { meta };
  });

  app.delete<{ Params: KeyParams }>('/images/:image_id/metadata/:key', async (request, reply) => {
    const caller = callerUpTo(request, METADATA_GONE);
    await images.deleteImageMetadataItem(ctx, caller, request.params.image_id, request.params.key);
    return reply.code(204).send();
  });
}
