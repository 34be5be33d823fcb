import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { GroupRow } from './store.ts';

/** A group as Keystone shows it: extra attributes flat beside its own fields. */
export function groupView(request: FastifyRequest, g: GroupRow) {
  return {
    ...g.extra,
    id: g.id,
    name: g.name,
    domain_id: g.domain_id,
    description: g.description,
    links: { self: v3Url(request, `/groups/${g.id}`) },
  };
}

/** A group in GET /v3/users/{id}/groups: memberships never expire here. */
export function membershipGroupView(request: FastifyRequest, g: GroupRow) {
  return { ...groupView(request, g), membership_expires_at: null };
}
