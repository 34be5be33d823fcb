import { badRequest, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './service-store.ts';
import type { ServiceRow } from './service-store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client may set on a service: its own fields plus any extra attribute. */
export interface ServiceInput {
  id?: unknown;
  type?: string;
  name?: string;
  description?: string | null;
  enabled?: boolean;
  [extra: string]: unknown;
}

export const serviceNotFound = (id: string) => notFound(`Could not find service: ${id}.`);

function splitInput(input: ServiceInput) {
  const { id: _id, type, name, description, enabled, ...extra } = input;
  return { type, name, description, enabled, hasDescription: 'description' in input, extra };
}

export async function findService(deps: Deps, id: string): Promise<ServiceRow | undefined> {
  return store.getService(deps.db, id);
}

export async function getService(deps: Deps, id: string): Promise<ServiceRow> {
  const row = await store.getService(deps.db, id);
  if (!row) throw serviceNotFound(id);
  return row;
}

export async function listServices(deps: Deps, filter: { type?: string; name?: string }): Promise<ServiceRow[]> {
  return store.listServices(deps.db, filter);
}

/** A new service (enabled unless told otherwise; types need not be unique, as in Keystone). */
export async function createService(deps: Deps, input: ServiceInput & { type: string }): Promise<ServiceRow> {
  const { type, name, description, enabled, extra } = splitInput(input);
  const row: ServiceRow = {
    id: newId(),
    type: type!,
    name: name ?? '',
    description: description ?? null,
    enabled: enabled ?? true,
    extra,
  };
  await store.insertService(deps.db, row);
  return row;
}

export async function updateService(deps: Deps, service: ServiceRow, input: ServiceInput): Promise<ServiceRow> {
  if (input.id !== undefined && input.id !== null && input.id !== service.id) throw badRequest('Cannot change ID');
  const { type, name, description, enabled, hasDescription, extra } = splitInput(input);
  const changes: Partial<Omit<ServiceRow, 'id'>> = {};
  if (type !== undefined) changes.type = type;
  if (name !== undefined) changes.name = name;
  if (hasDescription) changes.description = description ?? null;
  if (enabled !== undefined) changes.enabled = enabled;
  if (Object.keys(extra).length > 0) changes.extra = { ...service.extra, ...extra };
  if (Object.keys(changes).length > 0) await store.updateService(deps.db, service.id, changes);
  return { ...service, ...changes };
}

/** Deletes the service and its endpoints. */
export async function deleteService(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteService(deps.db, id))) throw serviceNotFound(id);
}
