import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../identity/version/routes.ts';
import { COMPUTE_MAX_VERSION, COMPUTE_MIN_VERSION } from '../microversions.ts';

interface VersionEntry {
  id: string;
  status: string;
  version: string;
  min_version: string;
  updated: string;
  path: string;
  mediaType: string;
}

/** Nova's two versions: the frozen v2.0 (listed, not served here) and the microversioned v2.1. */
const VERSIONS: VersionEntry[] = [
  { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', path: '/v2/', mediaType: 'application/vnd.openstack.compute+json;version=2' },
  {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_VERSION,
    min_version: COMPUTE_MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    path: '/v2.1/',
    mediaType: 'application/vnd.openstack.compute+json;version=2.1',
  },
];

const selfLink = (request: FastifyRequest, v: VersionEntry) => ({ rel: 'self', href: `${baseUrlOf(request)}${v.path}` });

/** An entry of GET /'s list: what keystoneauth and the SDK negotiate from (min_version, version). */
function listEntry(request: FastifyRequest, v: VersionEntry) {
  return { id: v.id, status: v.status, version: v.version, min_version: v.min_version, updated: v.updated, links: [selfLink(request, v)] };
}

/** GET /v2.1/: the one version, with its documentation link and media type. */
function versionDocument(request: FastifyRequest, v: VersionEntry) {
  return {
    version: {
      id: v.id,
      status: v.status,
      version: v.version,
      min_version: v.min_version,
      updated: v.updated,
      links: [selfLink(request, v), { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [{ base: 'application/json', type: v.mediaType }],
    },
  };
}

/**
 * Nova version discovery, open to anyone (keystoneauth asks without a token):
 * GET / lists both versions (200, as Nova and Tempest expect; not under
 * microversion control), GET /v2.1 and /v2.1/ describe v2.1, GET /v2 and /v2/
 * the legacy v2.0 (whose API itself Nubo does not serve).
 */
export function registerComputeVersionRoutes(app: FastifyInstance): void {
  const [v20, v21] = VERSIONS;
  const unversioned = { config: { microversion: false } };
  app.get('/', unversioned, async (request) => ({ versions: VERSIONS.map((v) => listEntry(request, v)) }));
  // The app ignores trailing slashes: /v2 serves /v2/ too, /v2.1 serves /v2.1/.
  app.get('/v2', unversioned, async (request) => versionDocument(request, v20));
  app.get('/v2.1', async (request) => versionDocument(request, v21));
}
