import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { DomainRow } from './store.ts';

/** A domain as Keystone shows it: extra attributes flat beside its own fields. */
export function domainView(request: FastifyRequest, d: DomainRow) {
  return {
    ...d.extra,
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled,
    tags: d.tags,
    options: d.options,
    links: { self: v3Url(request, `/domains/${d.id}`) },
  };
}
