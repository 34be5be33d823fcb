import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { badRequest } from '../../../lib/errors.ts';
import { authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as regions from './regions.ts';
import { regionView } from './view.ts';

type RegionCreateRequest = components['schemas']['RegionCreateRequest'];
type RegionUpdateRequest = components['schemas']['RegionUpdateRequest'];
type RegionParams = { region_id: string };

/** /v3/regions: Keystone checks these rules before looking the region up. */
export function registerRegionRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: { parent_region_id?: string } }>('/v3/regions', async (request) => {
    const { parent_region_id } = request.query;
    authorize(request, ctx, 'identity:list_regions', parent_region_id !== undefined ? { parent_region_id } : {});
    const rows = await regions.listRegions(ctx, { parentRegionId: parent_region_id });
    return { regions: rows.map((r) => regionView(request, r)), links: collectionLinks(request) };
  });

  app.post<{ Body: RegionCreateRequest }>('/v3/regions', async (request, reply) => {
    ctx.validate('RegionCreateRequest', request.body);
    authorize(request, ctx, 'identity:create_region');
    const row = await regions.createRegion(ctx, request.body.region);
    return reply.code(201).send({ region: regionView(request, row) });
  });

  app.get<{ Params: RegionParams }>('/v3/regions/:region_id', async (request) => {
    authorize(request, ctx, 'identity:get_region', { ...request.params });
    return { region: regionView(request, await regions.getRegion(ctx, request.params.region_id)) };
  });

  app.put<{ Params: RegionParams; Body: RegionCreateRequest }>('/v3/regions/:region_id', async (request, reply) => {
    ctx.validate('RegionCreateRequest', request.body);
    authorize(request, ctx, 'identity:create_region', { ...request.params });
    const { region_id } = request.params;
    const input = request.body.region;
    if (input.id !== undefined && input.id !== region_id) {
      throw badRequest(`Conflicting region IDs specified: "${region_id}" != "${input.id}"`);
    }
    const row = await regions.createRegion(ctx, { ...input, id: region_id });
    return reply.code(201).send({ region: regionView(request, row) });
  });

  app.patch<{ Params: RegionParams; Body: RegionUpdateRequest }>('/v3/regions/:region_id', async (request) => {
    ctx.validate('RegionUpdateRequest', request.body);
    authorize(request, ctx, 'identity:update_region', { ...request.params });
    const region = await regions.getRegion(ctx, request.params.region_id);
    const row = await regions.updateRegion(ctx, region, request.body.region);
    return { region: regionView(request, row) };
  });

  app.delete<{ Params: RegionParams }>('/v3/regions/:region_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_region', { ...request.params });
    await regions.deleteRegion(ctx, request.params.region_id);
    return reply.code(204).send();
  });
}
