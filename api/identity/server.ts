import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '../http/app.ts';
import { createBodyValidator, loadSpec } from '../http/validation.ts';
import type { IdentityContext } from './context.ts';
import { registerIdentity } from './index.ts';

/** The Keystone v3 API as a Fastify app, ready to listen or be injected into. */
export function createIdentityApp(deps: Omit<IdentityContext, 'validate'>): FastifyInstance {
  const app = createServiceApp({ service: 'identity', logger: deps.logger, bodyLimit: deps.config['api.max_body_bytes'] });
  registerIdentity(app, { ...deps, validate: createBodyValidator(loadSpec('identity')) });
  return app;
}
