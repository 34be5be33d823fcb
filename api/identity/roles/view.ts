import type { FastifyRequest } from 'fastify';
import { baseUrlOf } from '../version/routes.ts';
import type { RoleRow } from './store.ts';

/** The /v3 URL of `path` as the client addressed us. */
export const v3Url = (request: FastifyRequest, path: string) => `${baseUrlOf(request)}/v3${path}`;

/** Collection links as Keystone gives them (no paging, so previous/next are null). */
export function collectionLinks(request: FastifyRequest) {
  return { self: `${baseUrlOf(request)}${request.url}`, previous: null, next: null };
}

/** A role as the API shows it: domain_id null for a global role. */
export function roleView(request: FastifyRequest, role: RoleRow) {
  return {
    id: role.id,
    name: role.name,
    domain_id: role.domain_id === '' ? null : role.domain_id,
    description: role.description,
    options: role.options ?? {},
    links: { self: v3Url(request, `/roles/${role.id}`) },
  };
}

/** A role inside a role_inference document: id, name, links (and description when set). */
export function inferenceRoleView(request: FastifyRequest, role: RoleRow, withDescription = false) {
  return {
    id: role.id,
    name: role.name,
    ...(withDescription ? { description: role.description } : {}),
    links: { self: v3Url(request, `/roles/${role.id}`) },
  };
}
