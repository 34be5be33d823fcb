import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageContext } from '../context.ts';
import { authorizeImage, callerOf, findVisibleImage } from './access.ts';
import { parseImageListQuery } from './list-query.ts';
import { listImages } from './list-store.ts';
import { parseImagePatch, patchDraft, PATCH_MEDIA_TYPES } from './patch.ts';
import * as images from './service.ts';
import { imageView } from './view.ts';
import { authorize } from '../../http/auth.ts';

type IdParams = { image_id: string };
type TagParams = { image_id: string; tag: string };

/** The query string with every value of a repeated parameter, as Glance reads it. */
export function queryParams(request: FastifyRequest): Record<string, string[]> {
  const params: Record<string, string[]> = {};
  for (const [k, v] of new URL(request.url, 'http://x').searchParams) (params[k] ??= []).push(v);
  return params;
}

/** The `next` link: the same query with the marker moved to the page's last image. */
function nextLink(params: Record<string, string[]>, lastId: string): string {
  const qs = new URLSearchParams();
  for (const [k, vs] of Object.entries(params)) if (k !== 'marker') for (const v of vs) qs.append(k, v);
  qs.append('marker', lastId);
  return `/v2/images?${qs}`;
}

function firstLink(params: Record<string, string[]>): string {
  const qs = new URLSearchParams();
  for (const [k, vs] of Object.entries(params)) if (k !== 'marker') for (const v of vs) qs.append(k, v);
  const text = qs.toString();
  return text ? `/v2/images?${text}` : '/v2/images';
}

export function registerImageRoutes(app: FastifyInstance, ctx: ImageContext): void {
  for (const type of PATCH_MEDIA_TYPES) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, (body as string).trim() === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error('Malformed JSON in the request body.'), { statusCode: 400 }), undefined);
      }
    });
  }

  app.get('/v2/images', async (request) => {
    const caller = callerOf(request, ctx);
    authorize(request, ctx, 'get_images', { project_id: caller.projectId, owner: caller.projectId });
    const params = queryParams(request);
    const query = parseImageListQuery(params);
    const page = await listImages(ctx.db, query, caller);
    return {
      images: page.images.map(imageView),
      first: firstLink(params),
      schema: '/v2/schemas/images',
      ...(page.more ? { next: nextLink(params, page.images[page.images.length - 1].id) } : {}),
    };
  });

  app.post('/v2/images', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const image = await images.createImage(ctx, caller, (request.body ?? null) as Record<string, unknown>);
    reply.header('Location', `/v2/images/${image.id}`);
    reply.header('OpenStack-image-import-methods', 'glance-direct');
    return reply.code(201).send(imageView(image));
  });

  app.get<{ Params: IdParams }>('/v2/images/:image_id', async (request) => {
    const caller = callerOf(request, ctx);
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    authorizeImage(ctx, caller, 'get_image', visible.image, visible.memberId);
    return imageView(visible.image);
  });

  app.patch<{ Params: IdParams }>('/v2/images/:image_id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    let draft: 4 | 10;
    try {
      draft = patchDraft(request.headers['content-type']);
    } catch (e) {
      reply.header('Accept-Patch', PATCH_MEDIA_TYPES.join(', '));
      throw e;
    }
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    const changes = parseImagePatch(request.body, draft, ctx.validate);
    return imageView(await images.updateImage(ctx, caller, visible, changes));
  });

  app.delete<{ Params: IdParams }>('/v2/images/:image_id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await images.deleteImage(ctx, caller, await findVisibleImage(ctx, caller, request.params.image_id));
    return reply.code(204).send();
  });

  for (const [action, active] of [['deactivate', false], ['reactivate', true]] as const) {
    app.post<{ Params: IdParams }>(`/v2/images/:image_id/actions/${action}`, async (request, reply) => {
      const caller = callerOf(request, ctx);
      await images.setActivation(ctx, caller, await findVisibleImage(ctx, caller, request.params.image_id), active);
      return reply.code(204).send();
    });
  }

  app.put<{ Params: TagParams }>('/v2/images/:image_id/tags/:tag', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await images.addTag(ctx, caller, await findVisibleImage(ctx, caller, request.params.image_id), request.params.tag);
    return reply.code(204).send();
  });

  app.delete<{ Params: TagParams }>('/v2/images/:image_id/tags/:tag', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await images.removeTag(ctx, caller, await findVisibleImage(ctx, caller, request.params.image_id), request.params.tag);
    return reply.code(204).send();
  });
}
