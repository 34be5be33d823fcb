import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Subscription } from '../../../lib/bus/bus.ts';
import { revokedEvent } from '../../../lib/tokens/revocations.ts';
import type { components } from '../../../spec/identity.d.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import { queryFlag } from '../assignments/query.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks, v3Url } from '../roles/view.ts';
import * as scopes from './scope-targets.ts';
import * as auth from './service.ts';
import { ResolutionCache } from './resolution-cache.ts';
import { changesIdentity } from '../identity-changes.ts';
import type { TokenSubjectView } from './token-body.ts';
import { identityChangedEvent, TokenBodyCache } from './token-body-cache.ts';

type AuthTokenRequest = components['schemas']['AuthTokenRequest'];
type AuthQuery = Record<string, string | undefined>;

/** Bus events after which cached token bodies may be stale. */
export const TOKEN_CACHE_INVALIDATING_EVENTS = [revokedEvent, identityChangedEvent] as const;

/** Keystone's target for the token APIs: the subject token's user. */
const subjectTarget = (claims: { user_id: string; user_domain_id: string }) => ({
  target: { token: { user_id: claims.user_id, user: { domain: { id: claims.user_domain_id } } } },
});

const subjectHeader = (request: FastifyRequest) => request.headers['x-subject-token'];

/** /v3/auth/tokens (issue, validate, check, revoke) and /v3/auth/{catalog,projects,domains,system}. */
export function registerAuthRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  const cache = new TokenBodyCache();
  const resolutions = new ResolutionCache<auth.Authorization>();
  const subjects = new ResolutionCache<TokenSubjectView>();
  const clearAll = () => {
    cache.clear();
    resolutions.clear();
    subjects.clear();
  };
  const subscriptions: Subscription[] = [];
  app.addHook('onReady', async () => {
    for (const event of TOKEN_CACHE_INVALIDATING_EVENTS) subscriptions.push(await ctx.bus.subscribe(event, clearAll));
  });
  // This process forgets at once; others learn over the bus.
  app.addHook('onSend', async (request, reply, payload) => {
    if (changesIdentity(request, reply)) clearAll();
    return payload;
  });
  app.addHook('onClose', async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.close()));
  });

  app.post<{ Body: AuthTokenRequest; Querystring: AuthQuery }>('/v3/auth/tokens', async (request, reply) => {
    ctx.validate('AuthTokenRequest', request.body);
    const { token, claims } = await auth.issueToken(ctx, request.body.auth, resolutions);
    const json = await auth.tokenBodyJson(ctx, cache, token, claims, !queryFlag(request.query, 'nocatalog'), subjects);
    return reply.code(201).header('X-Subject-Token', token).type('application/json').send(json);
  });

  app.route<{ Querystring: AuthQuery }>({
    method: ['GET', 'HEAD'],
    url: '/v3/auth/tokens',
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      const head = request.method === 'HEAD';
      authenticate(request, ctx.tokens);
      const subject = subjectHeader(request) as string;
      const claims = auth.verifySubjectToken(ctx, subject);
      authorize(request, ctx, head ? 'identity:check_token' : 'identity:validate_token', subjectTarget(claims));
      reply.header('X-Subject-Token', subject);
      if (head) return reply.code(200).send();
      const json = await auth.tokenBodyJson(ctx, cache, subject, claims, !queryFlag(request.query, 'nocatalog'), subjects);
      return reply.code(200).type('application/json').send(json);
    },
  });

  app.delete('/v3/auth/tokens', async (request, reply) => {
    authenticate(request, ctx.tokens);
    const subject = subjectHeader(request) as string;
    const claims = auth.verifySubjectToken(ctx, subject);
    authorize(request, ctx, 'identity:revoke_token', subjectTarget(claims));
    await auth.revokeToken(ctx, cache, subject, claims);
    return reply.code(204).send();
  });

  app.get('/v3/auth/catalog', async (request) => {
    const { claims } = authorize(request, ctx, 'identity:get_auth_catalog', {});
    return { catalog: await scopes.catalogOf(ctx, claims), links: { self: v3Url(request, '/auth/catalog') } };
  });

  app.get('/v3/auth/projects', async (request) => {
    const { claims } = authorize(request, ctx, 'identity:get_auth_projects', {});
    const projects = await scopes.scopableProjects(ctx, claims.user_id);
    return {
      projects: projects.map((p) => ({
        id: p.id,
        name: p.name,
        domain_id: p.domain_id,
        description: p.description,
        enabled: p.enabled,
        parent_id: p.parent_id ?? p.domain_id,
        is_domain: false,
        links: { self: v3Url(request, `/projects/${p.id}`) },
      })),
      links: collectionLinks(request),
    };
  });

  app.get('/v3/auth/domains', async (request) => {
    const { claims } = authorize(request, ctx, 'identity:get_auth_domains', {});
    const domains = await scopes.scopableDomains(ctx, claims.user_id);
    return {
      domains: domains.map((d) => ({
        id: d.id,
        name: d.name,
        description: d.description,
        enabled: d.enabled,
        links: { self: v3Url(request, `/domains/${d.id}`) },
      })),
      links: collectionLinks(request),
    };
  });

  app.get('/v3/auth/system', async (request) => {
    const { claims } = authorize(request, ctx, 'identity:get_auth_system', {});
    return { system: (await scopes.canScopeToSystem(ctx, claims.user_id)) ? [{ all: true }] : [], links: { self: v3Url(request, '/auth/system') } };
  });
}
