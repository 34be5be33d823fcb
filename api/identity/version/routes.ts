import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdentityContext } from '../context.ts';

/** Base URL the client used, so discovery links work behind any host name. */
export const baseUrlOf = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

function v3(request: FastifyRequest) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrlOf(request)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

/** Keystone version discovery: GET / answers 300 with the list, GET /v3 the v3 document. */
export function registerVersionRoutes(app: FastifyInstance, _ctx: IdentityContext): void {
  app.get('/', async (request, reply) => reply.code(300).send({ versions: { values: [v3(request)] } }));
  app.get('/v3', async (request) => ({ version: v3(request) }));
}
