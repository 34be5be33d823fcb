import type { FastifyInstance } from 'fastify';
import type { IdentityContext } from './context.ts';
import { registerVersionRoutes } from './version/routes.ts';
import { registerAuthRoutes } from './auth/routes.ts';
import { registerDomainRoutes } from './domains/routes.ts';
import { registerProjectRoutes } from './projects/routes.ts';
import { registerUserRoutes } from './users/routes.ts';
import { registerGroupRoutes } from './groups/routes.ts';
import { registerRoleRoutes } from './roles/routes.ts';
import { registerAssignmentRoutes } from './assignments/routes.ts';
import { registerApplicationCredentialRoutes } from './application-credentials/routes.ts';
import { registerCatalogRoutes } from './catalog/routes.ts';
import { identityChangedEvent } from './auth/token-body-cache.ts';
import { changesIdentity } from './identity-changes.ts';
import { registerCredentialRoutes } from './credentials/routes.ts';
import { registerOAuth1ConsumerRoutes } from './oauth1/routes.ts';
import { registerPolicyRoutes } from './policies/routes.ts';
import { registerEndpointGroupRoutes } from './endpoint-groups/routes.ts';
import { registerDomainConfigRoutes } from './domain-config/routes.ts';
import { registerLimitRoutes } from './limits/routes.ts';

/** Mounts every Keystone v3 route on an app made by createServiceApp. */
export function registerIdentity(app: FastifyInstance, ctx: IdentityContext): void {
  // Any successful change to identity data may alter what a token body shows
  // (names, enabled flags, grants, the catalog): every process drops what it
  // cached. Announced before the response leaves, so a client's next request
  // never races the announcement here.
  app.addHook('onSend', async (request, reply, payload) => {
    if (changesIdentity(request, reply)) {
      await ctx.bus.publish(identityChangedEvent).catch((err) => request.log.warn({ err }, 'could not announce an identity change'));
    }
    return payload;
  });
  registerVersionRoutes(app, ctx);
  registerAuthRoutes(app, ctx);
  registerDomainRoutes(app, ctx);
  registerProjectRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerGroupRoutes(app, ctx);
  registerRoleRoutes(app, ctx);
  registerAssignmentRoutes(app, ctx);
  registerApplicationCredentialRoutes(app, ctx);
  registerCatalogRoutes(app, ctx);
  registerCredentialRoutes(app, ctx);
  registerOAuth1ConsumerRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerEndpointGroupRoutes(app, ctx);
  registerDomainConfigRoutes(app, ctx);
  registerLimitRoutes(app, ctx);
}
