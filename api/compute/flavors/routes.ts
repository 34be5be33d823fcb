import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { allowsCompute, callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { collectionLinks, lastValue, pageOf, queryOf, rejectUnknownQuery } from '../query.ts';
import * as extraSpecs from './extra-specs.ts';
import * as flavors from './service.ts';
import { FLAVOR_SORT_KEYS, extraSpecsOf, type FlavorRow, type FlavorSortKey } from './store.ts';
import {
  FLAVOR_DESCRIPTION_MICROVERSION,
  FLAVOR_EXTRA_SPECS_MICROVERSION,
  flavorAccessView,
  flavorBriefView,
  flavorView,
} from './view.ts';

type FlavorParams = { flavor_id: string };
type SpecParams = { flavor_id: string; key: string };
type CreateRequest = components['schemas']['FlavorCreateRequestV255'];
type UpdateRequest = components['schemas']['FlavorUpdateRequest'];
type ExtraSpecsRequest = components['schemas']['FlavorExtraSpecsCreateRequest'];
type ExtraSpecUpdateRequest = components['schemas']['FlavorExtraSpecUpdateRequest'];
type AddAccessRequest = components['schemas']['FlavorAddTenantAccessRequest'];
type RemoveAccessRequest = components['schemas']['FlavorRemoveTenantAccessRequest'];

const LIST_PARAMS = ['limit', 'marker', 'is_public', 'minRam', 'minDisk', 'sort_key', 'sort_dir'] as const;

/** The list query, checked as Nova's flavors index_query schema (unknown parameters refused from 2.75). */
function listQuery(request: FastifyRequest, ctx: ComputeContext): flavors.FlavorListQuery {
  rejectUnknownQuery(request, LIST_PARAMS);
  const q = queryOf(request);
  const sortKey = lastValue(q, 'sort_key') || 'flavorid';
  if (!(FLAVOR_SORT_KEYS as readonly string[]).includes(sortKey)) {
    throw badRequest(`Invalid input for query parameters sort_key. Value: ${sortKey}. '${sortKey}' is not one of ${FLAVOR_SORT_KEYS.join(', ')}`);
  }
  const sortDir = lastValue(q, 'sort_dir') || 'asc';
  if (sortDir !== 'asc' && sortDir !== 'desc') {
    throw badRequest(`Invalid input for query parameters sort_dir. Value: ${sortDir}. '${sortDir}' is not one of asc, desc`);
  }
  return {
    isPublic: lastValue(q, 'is_public'),
    minRam: lastValue(q, 'minRam'),
    minDisk: lastValue(q, 'minDisk'),
    sortKey: sortKey as FlavorSortKey,
    sortDir,
    page: pageOf(request, ctx.config['compute.max_limit']),
  };
}

/** From 2.61 flavor bodies carry extra_specs, if the caller may list them. */
function showsExtraSpecs(request: FastifyRequest, ctx: ComputeContext, caller: ComputeCaller): boolean {
  return request.microversion.atLeast(FLAVOR_EXTRA_SPECS_MICROVERSION) && allowsCompute(ctx, caller, 'os_compute_api:os-flavor-extra-specs:index');
}

/** Flavor bodies for `rows`, with their extra specs when the microversion and policy say so. */
async function fullViews(request: FastifyRequest, ctx: ComputeContext, caller: ComputeCaller, rows: FlavorRow[], description: boolean) {
  const specs = showsExtraSpecs(request, ctx, caller) ? await extraSpecsOf(ctx.db, rows.map((r) => r.id)) : undefined;
  return rows.map((r) => flavorView(request, r, { description, extraSpecs: specs?.get(r.id) }));
}

const withDescription = (request: FastifyRequest) => request.microversion.atLeast(FLAVOR_DESCRIPTION_MICROVERSION);

/** /flavors, their extra specs (os-extra_specs) and access lists (os-flavor-access, addTenantAccess/removeTenantAccess). */
export function registerFlavorRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const maxLimit = () => ctx.config['compute.max_limit'];
  const listLinks = (request: FastifyRequest, collection: string, rows: FlavorRow[]) => {
    const links = collectionLinks(request, collection, rows.length, rows.at(-1)?.flavorid, maxLimit());
    return links.length ? { flavors_links: links } : {};
  };

  app.get('/flavors', async (request) => {
    const caller = callerOf(request, ctx);
    const rows = await flavors.listFlavors(ctx, caller, listQuery(request, ctx));
    return { flavors: rows.map((r) => flavorBriefView(request, r)), ...listLinks(request, 'flavors', rows) };
  });

  app.get('/flavors/detail', async (request) => {
    const caller = callerOf(request, ctx);
    const rows = await flavors.listFlavors(ctx, caller, listQuery(request, ctx));
    return { flavors: await fullViews(request, ctx, caller, rows, withDescription(request)), ...listLinks(request, 'flavors/detail', rows) };
  });

  app.get<{ Params: FlavorParams }>('/flavors/:flavor_id', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await flavors.findFlavor(ctx, caller, request.params.flavor_id);
    return { flavor: (await fullViews(request, ctx, caller, [row], withDescription(request)))[0] };
  });

  // 200, not 201: Nova keeps v2's status.
  app.post('/flavors', async (request) => {
    const caller = callerOf(request, ctx);
    const described = withDescription(request);
    ctx.validate(described ? 'FlavorCreateRequestV255' : 'FlavorCreateRequest', request.body);
    const row = await flavors.createFlavor(ctx, caller, (request.body as CreateRequest).flavor);
    const specs = showsExtraSpecs(request, ctx, caller) ? {} : undefined;
    return { flavor: flavorView(request, row, { description: described, extraSpecs: specs }) };
  });

  app.put<{ Params: FlavorParams }>('/flavors/:flavor_id', async (request) => {
    const caller = callerOf(request, ctx);
    if (!withDescription(request)) throw notFound('The resource could not be found.');
    ctx.validate('FlavorUpdateRequest', request.body);
    const { description } = (request.body as UpdateRequest).flavor;
    const row = await flavors.updateFlavorDescription(ctx, caller, request.params.flavor_id, description);
    return { flavor: (await fullViews(request, ctx, caller, [row], true))[0] };
  });

  app.delete<{ Params: FlavorParams }>('/flavors/:flavor_id', async (request, reply) => {
    await flavors.deleteFlavor(ctx, callerOf(request, ctx), request.params.flavor_id);
    return reply.code(202).send();
  });

  // Flavor access

  app.get<{ Params: FlavorParams }>('/flavors/:flavor_id/os-flavor-access', async (request) => {
    const projects = await flavors.listFlavorAccess(ctx, callerOf(request, ctx), request.params.flavor_id);
    return flavorAccessView(request.params.flavor_id, projects);
  });

  app.post<{ Params: FlavorParams }>('/flavors/:flavor_id/action', async (request) => {
    const caller = callerOf(request, ctx);
    const { flavor_id } = request.params;
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body');
    if ('addTenantAccess' in body) {
      ctx.validate('FlavorAddTenantAccessRequest', body);
      const { tenant } = (body as AddAccessRequest).addTenantAccess;
      return flavorAccessView(flavor_id, await flavors.addFlavorAccess(ctx, caller, flavor_id, tenant, request.microversion.atLeast('2.7')));
    }
    if ('removeTenantAccess' in body) {
      ctx.validate('FlavorRemoveTenantAccessRequest', body);
      const { tenant } = (body as RemoveAccessRequest).removeTenantAccess;
      return flavorAccessView(flavor_id, await flavors.removeFlavorAccess(ctx, caller, flavor_id, tenant));
    }
    throw badRequest(`There is no such action: ${Object.keys(body)[0] ?? ''}`);
  });

  // Extra specs

  const validatesSpecs = (request: FastifyRequest) => request.microversion.atLeast('2.86');

  app.get<{ Params: FlavorParams }>('/flavors/:flavor_id/os-extra_specs', async (request) => ({
    extra_specs: await extraSpecs.listExtraSpecs(ctx, callerOf(request, ctx), request.params.flavor_id),
  }));

  // Nova answers with the body it was sent (200).
  app.post<{ Params: FlavorParams }>('/flavors/:flavor_id/os-extra_specs', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('FlavorExtraSpecsCreateRequest', request.body);
    const body = request.body as ExtraSpecsRequest;
    await extraSpecs.setExtraSpecs(ctx, caller, request.params.flavor_id, body.extra_specs, { validate: validatesSpecs(request) });
    return body;
  });

  app.get<{ Params: SpecParams }>('/flavors/:flavor_id/os-extra_specs/:key', async (request) =>
    extraSpecs.showExtraSpec(ctx, callerOf(request, ctx), request.params.flavor_id, request.params.key),
  );

  app.put<{ Params: SpecParams }>('/flavors/:flavor_id/os-extra_specs/:key', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('FlavorExtraSpecUpdateRequest', request.body);
    const body = request.body as ExtraSpecUpdateRequest;
    await extraSpecs.setExtraSpecs(ctx, caller, request.params.flavor_id, body, { validate: validatesSpecs(request), urlKey: request.params.key });
    return body;
  });

  // 200 with no body, as Nova.
  app.delete<{ Params: SpecParams }>('/flavors/:flavor_id/os-extra_specs/:key', async (request, reply) => {
    await extraSpecs.deleteExtraSpec(ctx, callerOf(request, ctx), request.params.flavor_id, request.params.key);
    return reply.code(200).send();
  });
}
