import type { FastifyInstance } from 'fastify';
import { registerAggregateRoutes } from './aggregates/routes.ts';
import { registerAvailabilityZoneRoutes } from './availability-zones/routes.ts';
import { registerConsoleRoutes } from './consoles/routes.ts';
import type { ComputeContext } from './context.ts';
import { registerFlavorRoutes } from './flavors/routes.ts';
import { registerHostRoutes } from './hosts/routes.ts';
import { registerHypervisorRoutes } from './hypervisors/routes.ts';
import { registerImageProxyRoutes } from './images/routes.ts';
import { registerKeypairRoutes } from './keypairs/routes.ts';
import { registerComputeMicroversions } from './microversions.ts';
import { registerMigrationRoutes } from './migrations/routes.ts';
import { registerLimitsRoutes } from './quotas/limits.ts';
import { registerQuotaRoutes } from './quotas/routes.ts';
import { registerInstanceActionRoutes } from './instance-actions/routes.ts';
import { registerInstanceUsageAuditLogRoutes } from './instance-usage-audit-log/routes.ts';
import { registerServerActionRoutes } from './server-actions/routes.ts';
import { registerServerExternalEventRoutes } from './server-external-events/routes.ts';
import { registerServerGroupRoutes } from './server-groups/routes.ts';
import { registerServerIpRoutes } from './server-ips/routes.ts';
import { registerServerMetadataRoutes } from './server-metadata/routes.ts';
import { registerServerPasswordRoutes } from './server-password/routes.ts';
import { registerServerTagRoutes } from './server-tags/routes.ts';
import { registerServerRoutes } from './servers/routes.ts';
import { registerServiceRoutes } from './services/routes.ts';
import { registerUsageRoutes } from './usage/routes.ts';
import { registerComputeVersionRoutes } from './version/routes.ts';

/** Mounts every Nova v2.1 route (under /v2.1) and version discovery on an app made by createServiceApp. */
export function registerCompute(app: FastifyInstance, ctx: ComputeContext): void {
  // Nova's compat header next to x-openstack-request-id: novaclient (and so
  // OSC's compute commands) reads only this one into its error messages.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-compute-request-id', request.id);
  });
  registerComputeMicroversions(app);
  registerComputeVersionRoutes(app);
  app.register(
    async (v21) => {
      registerFlavorRoutes(v21, ctx);
      registerKeypairRoutes(v21, ctx);
      registerLimitsRoutes(v21, ctx);
      registerQuotaRoutes(v21, ctx);
      registerServerGroupRoutes(v21, ctx);
      registerServiceRoutes(v21, ctx);
      registerHypervisorRoutes(v21, ctx);
      registerHostRoutes(v21, ctx);
      registerImageProxyRoutes(v21, ctx);
      registerAvailabilityZoneRoutes(v21, ctx);
      registerAggregateRoutes(v21, ctx);
      registerUsageRoutes(v21, ctx);
      registerServerRoutes(v21, ctx);
      registerMigrationRoutes(v21, ctx);
      registerServerActionRoutes(v21, ctx);
      registerServerMetadataRoutes(v21, ctx);
      registerServerPasswordRoutes(v21, ctx);
      registerServerIpRoutes(v21, ctx);
      registerServerExternalEventRoutes(v21, ctx);
      registerServerTagRoutes(v21, ctx);
      registerInstanceActionRoutes(v21, ctx);
      registerInstanceUsageAuditLogRoutes(v21, ctx);
      registerConsoleRoutes(v21, ctx);
    },
    { prefix: '/v2.1' },
  );
}
