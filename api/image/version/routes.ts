import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../identity/version/routes.ts';

/** Glance 25 (Zed) serves v2.0 … v2.16; clients pick the CURRENT one. */
const versions: [id: string, status: string][] = [
  ['v2.16', 'CURRENT'],
  ['v2.15', 'SUPPORTED'],
  ['v2.9', 'SUPPORTED'],
  ['v2.7', 'SUPPORTED'],
  ['v2.6', 'SUPPORTED'],
  ['v2.5', 'SUPPORTED'],
  ['v2.4', 'SUPPORTED'],
  ['v2.3', 'SUPPORTED'],
  ['v2.2', 'SUPPORTED'],
  ['v2.1', 'SUPPORTED'],
  ['v2.0', 'SUPPORTED'],
];

function versionList(request: FastifyRequest) {
  const href = `${baseUrlOf(request)}/v2/`;
  return { versions: versions.map(([id, status]) => ({ id, status, links: [{ rel: 'self', href }] })) };
}

/** Glance version discovery: GET / answers 300 with the list; /versions 200 with the same. */
export function registerImageVersionRoutes(app: FastifyInstance): void {
  app.get('/', async (request, reply) => reply.code(300).send(versionList(request)));
  app.get('/versions', async (request) => versionList(request));
  app.get('/v2', async (request) => versionList(request));
  app.get('/v2/', async (request) => versionList(request));
  app.get('/versions/', async (request) => versionList(request));
}
