import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '../http/app.ts';
import { createBodyValidator, loadSpec } from '../http/validation.ts';
import type { ImageContext } from './context.ts';
import { registerImage } from './index.ts';

/** The Glance v2 API as a Fastify app, ready to listen or be injected into. */
export function createImageApp(deps: Omit<ImageContext, 'validate'>): FastifyInstance {
  const app = createServiceApp({ service: 'image', logger: deps.logger, bodyLimit: deps.config['api.max_body_bytes'], ignoreTrailingSlash: false });
  registerImage(app, { ...deps, validate: createBodyValidator(loadSpec('image')) });
  return app;
}
