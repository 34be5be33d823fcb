import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from './context.ts';
import { registerFlavorRoutes } from './flavors/routes.ts';
import { registerKeypairRoutes } from './keypairs/routes.ts';
import { registerComputeMicroversions } from './microversions.ts';
import { registerLimitsRoutes } from './quotas/limits.ts';
import { registerQuotaRoutes } from './quotas/routes.ts';
import { registerComputeVersionRoutes } from './version/routes.ts';

/** Mounts every Nova v2.1 route (under /v2.1) and version discovery on an app made by createServiceApp. */
export function registerCompute(app: FastifyInstance, ctx: ComputeContext): void {
  registerComputeMicroversions(app);
  registerComputeVersionRoutes(app);
  app.register(
    async (v21) => {
      registerFlavorRoutes(v21, ctx);
      registerKeypairRoutes(v21, ctx);
      registerLimitsRoutes(v21, ctx);
      registerQuotaRoutes(v21, ctx);
    },
    { prefix: '/v2.1' },
  );
}
