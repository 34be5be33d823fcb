import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { EndpointGroupRow } from './group-store.ts';

/** An endpoint group as Keystone shows it. */
export function endpointGroupView(request: FastifyRequest, g: EndpointGroupRow) {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    filters: g.filters,
    links: { self: v3Url(request, `/OS-EP-FILTER/endpoint_groups/${g.id}`) },
  };
}

/** The association of an endpoint group with a project (GET …/endpoint_groups/{id}/projects/{project_id}). */
export function projectEndpointGroupView(request: FastifyRequest, endpointGroupId: string, projectId: string) {
  return {
    endpoint_group_id: endpointGroupId,
    project_id: projectId,
    links: { self: v3Url(request, `/OS-EP-FILTER/endpoint_groups/${endpointGroupId}/projects/${projectId}`) },
  };
}
