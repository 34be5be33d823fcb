import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as limits from './limits.ts';
import * as registered from './registered-limits.ts';
import { limitView, registeredLimitView } from './view.ts';

type RegisteredLimitsCreateRequest = components['schemas']['RegisteredLimitsCreateRequest'];
type RegisteredLimitUpdateRequest = components['schemas']['RegisteredLimitUpdateRequest'];
type LimitsCreateRequest = components['schemas']['LimitsCreateRequest'];
type LimitUpdateRequest = components['schemas']['LimitUpdateRequest'];
type Query = Record<string, string | string[] | undefined>;

/** The named list filters the query gives (a repeated parameter is ignored). */
function filtersOf<K extends string>(query: Query, keys: readonly K[]): Partial<Record<K, string>> {
  const filter: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = query[key];
    if (typeof value === 'string') filter[key] = value;
  }
  return filter;
}

/**
 * Unified limits: /v3/registered_limits, /v3/limits and /v3/limits/model.
 * Keystone checks each rule before reading the body.
 */
export function registerLimitRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get('/v3/limits/model', async (request) => {
    authorize(request, ctx, 'identity:get_limit_model');
    return { model: limits.limitModel };
  });

  app.get<{ Querystring: Query }>('/v3/registered_limits', async (request) => {
    const filter = filtersOf(request.query, ['service_id', 'region_id', 'resource_name']);
    authorize(request, ctx, 'identity:list_registered_limits', filter);
    const rows = await registered.listRegisteredLimits(ctx, filter);
    return { registered_limits: rows.map((r) => registeredLimitView(request, r)), links: collectionLinks(request) };
  });

  app.post<{ Body: RegisteredLimitsCreateRequest }>('/v3/registered_limits', async (request, reply) => {
    authorize(request, ctx, 'identity:create_registered_limits');
    ctx.validate('RegisteredLimitsCreateRequest', request.body);
    const rows = await registered.createRegisteredLimits(ctx, request.body.registered_limits);
    return reply.code(201).send({ registered_limits: rows.map((r) => registeredLimitView(request, r)) });
  });

  const registeredLimit = '/v3/registered_limits/:registered_limit_id';
  app.get<{ Params: { registered_limit_id: string } }>(registeredLimit, async (request) => {
    authorize(request, ctx, 'identity:get_registered_limit', { ...request.params });
    const row = await registered.getRegisteredLimit(ctx, request.params.registered_limit_id);
    return { registered_limit: registeredLimitView(request, row) };
  });

  app.patch<{ Params: { registered_limit_id: string }; Body: RegisteredLimitUpdateRequest }>(registeredLimit, async (request) => {
    authorize(request, ctx, 'identity:update_registered_limit', { ...request.params });
    ctx.validate('RegisteredLimitUpdateRequest', request.body);
    const row = await registered.updateRegisteredLimit(ctx, request.params.registered_limit_id, request.body.registered_limit);
    return { registered_limit: registeredLimitView(request, row) };
  });

  app.delete<{ Params: { registered_limit_id: string } }>(registeredLimit, async (request, reply) => {
    authorize(request, ctx, 'identity:delete_registered_limit', { ...request.params });
    await registered.deleteRegisteredLimit(ctx, request.params.registered_limit_id);
    return reply.code(204).send();
  });

  app.get<{ Querystring: Query }>('/v3/limits', async (request) => {
    const filter = filtersOf(request.query, ['service_id', 'region_id', 'resource_name', 'project_id', 'domain_id']);
    const { credentials } = authorize(request, ctx, 'identity:list_limits', filter);
    const rows = await limits.listLimits(ctx, filter, credentials);
    return { limits: rows.map((l) => limitView(request, l)), links: collectionLinks(request) };
  });

  app.post<{ Body: LimitsCreateRequest }>('/v3/limits', async (request, reply) => {
    authorize(request, ctx, 'identity:create_limits');
    ctx.validate('LimitsCreateRequest', request.body);
    const rows = await limits.createLimits(ctx, request.body.limits);
    return reply.code(201).send({ limits: rows.map((l) => limitView(request, l)) });
  });

  const limit = '/v3/limits/:limit_id';
  app.get<{ Params: { limit_id: string } }>(limit, async (request) => {
    const { limit_id } = request.params;
    authenticate(request, ctx.tokens);
    const { limit: row, target } = await limits.findLimitForPolicy(ctx, limit_id);
    authorize(request, ctx, 'identity:get_limit', { limit_id, target });
    if (!row) throw limits.limitNotFound(limit_id);
    return { limit: limitView(request, row) };
  });

  app.patch<{ Params: { limit_id: string }; Body: LimitUpdateRequest }>(limit, async (request) => {
    authorize(request, ctx, 'identity:update_limit', { ...request.params });
    ctx.validate('LimitUpdateRequest', request.body);
    return { limit: limitView(request, await limits.updateLimit(ctx, request.params.limit_id, request.body.limit)) };
  });

  app.delete<{ Params: { limit_id: string } }>(limit, async (request, reply) => {
    authorize(request, ctx, 'identity:delete_limit', { ...request.params });
    await limits.deleteLimit(ctx, request.params.limit_id);
    return reply.code(204).send();
  });
}
