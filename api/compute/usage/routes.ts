import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound } from '../../../lib/errors.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { collectionLinks, pageOf, queryOf, rejectUnknownQuery, type Query } from '../query.ts';
import * as usage from './service.ts';
import { tenantUsageView } from './view.ts';

type IdParams = { tenant_id: string };

/** Nova reads start, end and detailed with parse_qs: the first value of each, blank ones dropped. */
const firstValue = (q: Query, name: string) => {
  const v = q[name];
  return (Array.isArray(v) ? v.find((x) => x !== '') : v) || undefined;
};

/** From 2.40 the usage is paged over the instances (limit, marker = an instance uuid), with a next link; before, at most compute.max_limit instances count. */
function usageQuery(request: FastifyRequest, ctx: ComputeContext, allowed: string[]): Omit<usage.UsageQuery, 'detailed'> {
  const paged = request.microversion.atLeast('2.40');
  rejectUnknownQuery(request, paged ? [...allowed, 'limit', 'marker'] : allowed);
  const q = queryOf(request);
  const page = paged ? pageOf(request, ctx.config['compute.max_limit']) : { limit: ctx.config['compute.max_limit'], marker: undefined };
  return { start: firstValue(q, 'start'), end: firstValue(q, 'end'), ...page };
}

/** os-simple-tenant-usage: what projects' servers used over a period (vCPU, memory and disk hours). */
export function registerUsageRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const links = (request: FastifyRequest, collection: string, servers: usage.ServerUsage[]) =>
    request.microversion.atLeast('2.40') ? collectionLinks(request, collection, servers.length, servers.at(-1)?.instance_id, ctx.config['compute.max_limit']) : [];

  app.get('/os-simple-tenant-usage', async (request) => {
    // The router ignores a trailing slash; Nova's has no route for an empty tenant id.
    if (request.url.split('?')[0].endsWith('/')) throw notFound('The resource could not be found.');
    const caller = callerOf(request, ctx);
    const query = { ...usageQuery(request, ctx, ['start', 'end', 'detailed']), detailed: firstValue(queryOf(request), 'detailed') === '1' };
    const { usages, servers } = await usage.listUsages(ctx, caller, query);
    const next = links(request, 'os-simple-tenant-usage', servers);
    return { tenant_usages: usages.map(tenantUsageView), ...(next.length ? { tenant_usages_links: next } : {}) };
  });

  app.get<{ Params: IdParams }>('/os-simple-tenant-usage/:tenant_id', async (request) => {
    const caller = callerOf(request, ctx);
    const { tenant_id } = request.params;
    const { usage: found, servers } = await usage.showUsage(ctx, caller, tenant_id, usageQuery(request, ctx, ['start', 'end']));
    const next = links(request, `os-simple-tenant-usage/${tenant_id}`, servers);
    return { tenant_usage: found ? tenantUsageView(found) : {}, ...(next.length ? { tenant_usage_links: next } : {}) };
  });
}
