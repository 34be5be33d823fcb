import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../lib/log.ts';
import { errorHandler, notFoundHandler, type ServiceName } from './errors.ts';

export interface ServiceAppOptions {
  service: ServiceName;
  logger: Logger;
  bodyLimit: number;
  /** Route `/x/` as `/x` (Keystone does); Glance answers 404 for `/v2/images/`, so the image API turns it off. */
  ignoreTrailingSlash?: boolean;
}

export const newRequestId = () => `req-${randomUUID()}`;

/**
 * A Fastify app with what every Nubo API shares: a request id on every log
 * line and in `x-openstack-request-id`, JSON bodies with a size limit,
 * OpenStack error bodies, and a quiet access log.
 */
export function createServiceApp({ service, logger, bodyLimit, ignoreTrailingSlash = true }: ServiceAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({ api: service }) as FastifyBaseLogger,
    genReqId: newRequestId,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    bodyLimit,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1000, ignoreTrailingSlash, ignoreDuplicateSlashes: true },
  });

  // JSON, tolerating an empty body (clients send DELETE/POST with Content-Type and no body).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.+-]*\+)?json/, { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new Error('Malformed JSON in the request body.') as Error & { statusCode: number };
      err.statusCode = 400;
      done(err, undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });
  app.setErrorHandler(errorHandler(service));
  app.setNotFoundHandler(notFoundHandler(service));
  return app;
}
