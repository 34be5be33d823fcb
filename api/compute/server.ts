import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '../http/app.ts';
import { createBodyValidator, loadSpec } from '../http/validation.ts';
import type { ComputeContext } from './context.ts';
import { registerCompute } from './index.ts';

/** The Nova v2.1 API as a Fastify app, ready to listen or be injected into. */
export function createComputeApp(deps: Omit<ComputeContext, 'validate'>): FastifyInstance {
  const app = createServiceApp({ service: 'compute', logger: deps.logger, bodyLimit: deps.config['api.max_body_bytes'] });
  registerCompute(app, { ...deps, validate: createBodyValidator(loadSpec('compute')) });
  return app;
}
