import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { ProjectRow } from './store.ts';

/**
 * A project as Keystone shows it: extra attributes flat beside its own
 * fields; a top-level project's parent_id is its domain; is_domain is false
 * (Nubo keeps domains apart from projects).
 */
export function projectView(request: FastifyRequest, p: ProjectRow) {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    parent_id: p.parent_id ?? p.domain_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    tags: p.tags,
    options: p.options,
    links: { self: v3Url(request, `/projects/${p.id}`) },
  };
}

/** The body of GET/PUT /v3/projects/{id}/tags. */
export function tagsView(request: FastifyRequest, tags: string[]) {
  return { tags, links: { self: v3Url(request, request.url.replace(/^\/v3/, '').split('?')[0]) } };
}
