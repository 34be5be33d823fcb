import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { LimitRow, RegisteredLimitRow } from './store.ts';

/** A registered limit as Keystone shows it. */
export function registeredLimitView(request: FastifyRequest, r: RegisteredLimitRow) {
  return { ...r, links: { self: v3Url(request, `/registered_limits/${r.id}`) } };
}

/** A limit as Keystone shows it: project_id or domain_id (the other null), and its registered limit's service, region and resource. */
export function limitView(request: FastifyRequest, l: LimitRow) {
  return { ...l, links: { self: v3Url(request, `/limits/${l.id}`) } };
}
