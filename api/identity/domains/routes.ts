import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import { listDomainOf } from './default-domain.ts';
import { booleanFilter } from './enabled-filter.ts';
import * as domains from './service.ts';
import { domainView } from './view.ts';

type DomainCreateRequest = components['schemas']['DomainCreateRequest'];
type DomainUpdateRequest = components['schemas']['DomainUpdateRequest'];
type DomainParams = { domain_id: string };
type DomainQuery = { name?: string; enabled?: string };

/**
 * /v3/domains. As in Keystone, a rule on one domain is checked with the
 * domain loaded as `target.domain` (an unknown domain leaves the target
 * empty, so only callers allowed anyway learn it is missing).
 */
export function registerDomainRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: DomainQuery }>('/v3/domains', async (request) => {
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const { name, enabled } = request.query;
    authorize(request, ctx, 'identity:list_domains', scopedTo ? { target: { domain: { id: scopedTo } } } : {});
    const rows = await domains.listDomains(ctx, { name, enabled: booleanFilter(enabled), onlyId: scopedTo });
    return { domains: rows.map((d) => domainView(request, d)), links: collectionLinks(request) };
  });

  app.post<{ Body: DomainCreateRequest }>('/v3/domains', async (request, reply) => {
    ctx.validate('DomainCreateRequest', request.body);
    authorize(request, ctx, 'identity:create_domain');
    const row = await domains.createDomain(ctx, request.body.domain);
    return reply.code(201).send({ domain: domainView(request, row) });
  });

  app.get<{ Params: DomainParams }>('/v3/domains/:domain_id', async (request) => {
    const row = await domains.findDomain(ctx, request.params.domain_id);
    authorize(request, ctx, 'identity:get_domain', { ...request.params, target: row ? { domain: domainView(request, row) } : {} });
    if (!row) throw domains.domainNotFound(request.params.domain_id);
    return { domain: domainView(request, row) };
  });

  app.patch<{ Params: DomainParams; Body: DomainUpdateRequest }>('/v3/domains/:domain_id', async (request) => {
    ctx.validate('DomainUpdateRequest', request.body);
    const row = await domains.findDomain(ctx, request.params.domain_id);
    authorize(request, ctx, 'identity:update_domain', { ...request.params, target: row ? { domain: domainView(request, row) } : {} });
    if (!row) throw domains.domainNotFound(request.params.domain_id);
    const updated = await domains.updateDomain(ctx, row, request.body.domain);
    return { domain: domainView(request, updated) };
  });

  app.delete<{ Params: DomainParams }>('/v3/domains/:domain_id', async (request, reply) => {
    const row = await domains.findDomain(ctx, request.params.domain_id);
    authorize(request, ctx, 'identity:delete_domain', { ...request.params, target: row ? { domain: domainView(request, row) } : {} });
    if (!row) throw domains.domainNotFound(request.params.domain_id);
    await domains.deleteDomain(ctx, row);
    return reply.code(204).send();
  });
}
