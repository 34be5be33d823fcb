import { badRequest, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import * as endpoints from '../catalog/endpoints.ts';
import type { EndpointRow } from '../catalog/endpoint-store.ts';
import type { IdentityContext } from '../context.ts';
import { assertValidFilters, matchesFilters } from './filters.ts';
import * as store from './group-store.ts';
import type { EndpointGroupRow } from './group-store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client may set on an endpoint group. */
export interface EndpointGroupInput {
  id?: unknown;
  name?: string;
  description?: string | null;
  filters?: Record<string, unknown>;
}

export const endpointGroupNotFound = (id: string) => notFound(`Could not find Endpoint Group: ${id}.`);

export async function getEndpointGroup(deps: Deps, id: string): Promise<EndpointGroupRow> {
  const row = await store.getEndpointGroup(deps.db, id);
  if (!row) throw endpointGroupNotFound(id);
  return row;
}

export async function listEndpointGroups(deps: Deps, filter: { name?: string }): Promise<EndpointGroupRow[]> {
  return store.listEndpointGroups(deps.db, filter);
}

/** A new group with a new id; its filters may not be empty and name only endpoint attributes. */
export async function createEndpointGroup(
  deps: Deps,
  input: EndpointGroupInput & { name: string; filters: Record<string, unknown> },
): Promise<EndpointGroupRow> {
  const filters = input.filters;
  if (Object.keys(filters).length === 0) throw badRequest('filters field is required and cannot be empty');
  assertValidFilters(filters);
  const row: EndpointGroupRow = { id: newId(), name: input.name, description: input.description ?? null, filters };
  await store.insertEndpointGroup(deps.db, row);
  return row;
}

/** Changes a group's name, description or filters (replaced as a whole); its id cannot change. */
export async function updateEndpointGroup(deps: Deps, id: string, input: EndpointGroupInput): Promise<EndpointGroupRow> {
  if (input.filters !== undefined) assertValidFilters(input.filters);
  if (input.id !== undefined && input.id !== id) throw badRequest('Cannot change ID');
  const group = await getEndpointGroup(deps, id);
  const changes: Partial<Omit<EndpointGroupRow, 'id'>> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.filters !== undefined) changes.filters = input.filters;
  if (Object.keys(changes).length > 0) await store.updateEndpointGroup(deps.db, id, changes);
  return { ...group, ...changes };
}

/** Deletes the group and its project associations. */
export async function deleteEndpointGroup(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteEndpointGroup(deps.db, id))) throw endpointGroupNotFound(id);
}

/** The endpoints the group selects: those matching every one of its filters. */
export async function listEndpointsOfGroup(deps: Deps, id: string): Promise<EndpointRow[]> {
  const group = await getEndpointGroup(deps, id);
  const all = await endpoints.listEndpoints(deps, {});
  return all.filter((e) => matchesFilters(e, group.filters));
}
