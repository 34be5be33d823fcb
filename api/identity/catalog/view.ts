import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { EndpointRow } from './endpoint-store.ts';
import type { RegionRow } from './region-store.ts';
import type { ServiceRow } from './service-store.ts';

/** A region as Keystone shows it: its extra attributes flat beside its own. */
export function regionView(request: FastifyRequest, r: RegionRow) {
  return {
    ...r.extra,
    id: r.id,
    description: r.description,
    parent_region_id: r.parent_region_id,
    links: { self: v3Url(request, `/regions/${r.id}`) },
  };
}

/** A service: name '' when it has none; description only when set (Keystone keeps it as an extra). */
export function serviceView(request: FastifyRequest, s: ServiceRow) {
  return {
    ...s.extra,
    id: s.id,
    type: s.type,
    name: s.name ?? '',
    ...(s.description !== null ? { description: s.description } : {}),
    enabled: s.enabled,
    links: { self: v3Url(request, `/services/${s.id}`) },
  };
}

/** An endpoint: `region` repeats region_id (the v3.0 name of the field). */
export function endpointView(request: FastifyRequest, e: EndpointRow) {
  return {
    ...e.extra,
    id: e.id,
    interface: e.interface,
    service_id: e.service_id,
    region_id: e.region_id,
    region: e.region_id,
    url: e.url,
    enabled: e.enabled,
    links: { self: v3Url(request, `/endpoints/${e.id}`) },
  };
}
