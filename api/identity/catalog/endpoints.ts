import { badRequest, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import { assertValidEndpointUrl } from './endpoint-url.ts';
import * as store from './endpoint-store.ts';
import type { EndpointFilter, EndpointInterface, EndpointRow } from './endpoint-store.ts';
import * as regionStore from './region-store.ts';
import * as serviceStore from './service-store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client may set on an endpoint: its own fields (region as the v3.0 alias of region_id) plus any extra attribute. */
export interface EndpointInput {
  id?: unknown;
  interface?: EndpointInterface;
  service_id?: string;
  url?: string;
  region_id?: string | null;
  region?: string | null;
  enabled?: boolean;
  [extra: string]: unknown;
}

export const endpointNotFound = (id: string) => notFound(`Could not find endpoint: ${id}.`);
const notInTable = (attribute: string, table: string) =>
  badRequest(
    `Expecting to find ${attribute} in ${table}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );

function splitInput(input: EndpointInput) {
  const { id: _id, interface: iface, service_id, url, region_id, region, enabled, ...extra } = input;
  return { iface, service_id, url, region_id, region, enabled, extra };
}

/**
 * The region an endpoint names, as Keystone resolves it: region_id must
 * exist; a `region` alone (the v3.0 field) is created when missing.
 * undefined: not named; null: no region.
 */
async function resolveRegion(deps: Deps, input: EndpointInput): Promise<string | null | undefined> {
  if (input.region_id !== undefined && input.region_id !== null) {
    if (!(await regionStore.getRegion(deps.db, input.region_id))) throw notInTable('endpoint region_id', 'region table');
    return input.region_id;
  }
  if (input.region !== undefined && input.region !== null) {
    if (!(await regionStore.getRegion(deps.db, input.region))) {
      await regionStore.insertRegion(deps.db, { id: input.region, description: '', parent_region_id: null, extra: {} }).catch(async (e) => {
        // Created concurrently by another request: fine.
        if (!(await regionStore.getRegion(deps.db, input.region!))) throw e;
      });
    }
    return input.region;
  }
  if ('region_id' in input || 'region' in input) return null;
  return undefined;
}

async function assertServiceExists(deps: Deps, serviceId: string): Promise<void> {
  if (!(await serviceStore.getService(deps.db, serviceId))) throw notInTable('endpoint service_id', 'service table');
}

export async function findEndpoint(deps: Deps, id: string): Promise<EndpointRow | undefined> {
  return store.getEndpoint(deps.db, id);
}

export async function getEndpoint(deps: Deps, id: string): Promise<EndpointRow> {
  const row = await store.getEndpoint(deps.db, id);
  if (!row) throw endpointNotFound(id);
  return row;
}

export async function listEndpoints(deps: Deps, filter: EndpointFilter): Promise<EndpointRow[]> {
  return store.listEndpoints(deps.db, filter);
}

export async function createEndpoint(
  deps: Deps,
  input: EndpointInput & { interface: EndpointInterface; service_id: string; url: string },
): Promise<EndpointRow> {
  const { iface, service_id, url, enabled, extra } = splitInput(input);
  assertValidEndpointUrl(url!);
  const regionId = await resolveRegion(deps, input);
  await assertServiceExists(deps, service_id!);
  const row: EndpointRow = {
    id: newId(),
    service_id: service_id!,
    region_id: regionId ?? null,
    interface: iface!,
    url: url!,
    enabled: enabled ?? true,
    extra,
  };
  await store.insertEndpoint(deps.db, row);
  return row;
}

export async function updateEndpoint(deps: Deps, endpoint: EndpointRow, input: EndpointInput): Promise<EndpointRow> {
  if (input.id !== undefined && input.id !== null && input.id !== endpoint.id) throw badRequest('Cannot change ID');
  const { iface, service_id, url, enabled, extra } = splitInput(input);
  const changes: Partial<Omit<EndpointRow, 'id'>> = {};
  if (url !== undefined) {
    assertValidEndpointUrl(url);
    changes.url = url;
  }
  const regionId = await resolveRegion(deps, input);
  if (regionId !== undefined) changes.region_id = regionId;
  if (service_id !== undefined) {
    await assertServiceExists(deps, service_id);
    changes.service_id = service_id;
  }
  if (iface !== undefined) changes.interface = iface;
  if (enabled !== undefined) changes.enabled = enabled;
  if (Object.keys(extra).length > 0) changes.extra = { ...endpoint.extra, ...extra };
  if (Object.keys(changes).length > 0) await store.updateEndpoint(deps.db, endpoint.id, changes);
  return { ...endpoint, ...changes };
}

export async function deleteEndpoint(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteEndpoint(deps.db, id))) throw endpointNotFound(id);
}
