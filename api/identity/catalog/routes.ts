import type { FastifyInstance } from 'fastify';
import type { IdentityContext } from '../context.ts';
import { registerEndpointRoutes } from './endpoint-routes.ts';
import { registerRegionRoutes } from './region-routes.ts';
import { registerServiceRoutes } from './service-routes.ts';

/** The catalog's CRUD: /v3/regions, /v3/services, /v3/endpoints. */
export function registerCatalogRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  registerRegionRoutes(app, ctx);
  registerServiceRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
}
