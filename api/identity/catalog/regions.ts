import { isPostgresForeignKeyViolation, isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './region-store.ts';
import type { RegionRow } from './region-store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client may set on a region: its own fields plus any extra attribute. */
export interface RegionInput {
  id?: string | null;
  description?: string | null;
  parent_region_id?: string | null;
  [extra: string]: unknown;
}

export const regionNotFound = (id: string) => notFound(`Could not find region: ${id}.`);
const duplicateId = (id: string) => conflict(`Conflict occurred attempting to store region - Duplicate ID, ${id}.`);

function splitInput(input: RegionInput): { own: Pick<RegionInput, 'description' | 'parent_region_id'>; extra: Record<string, unknown> } {
  const { id: _id, description, parent_region_id, ...extra } = input;
  const own: Pick<RegionInput, 'description' | 'parent_region_id'> = {};
  if ('description' in input) own.description = description;
  if ('parent_region_id' in input) own.parent_region_id = parent_region_id;
  return { own, extra };
}

export async function findRegion(deps: Deps, id: string): Promise<RegionRow | undefined> {
  return store.getRegion(deps.db, id);
}

export async function getRegion(deps: Deps, id: string): Promise<RegionRow> {
  const row = await store.getRegion(deps.db, id);
  if (!row) throw regionNotFound(id);
  return row;
}

export async function listRegions(deps: Deps, filter: { parentRegionId?: string }): Promise<RegionRow[]> {
  return store.listRegions(deps.db, filter);
}

/**
 * A new region. Its id is the one given (in the body or the URL) or a new
 * one; an id in use is a 409; a parent that does not exist is a 404.
 */
export async function createRegion(deps: Deps, input: RegionInput): Promise<RegionRow> {
  const id = input.id ? input.id : newId();
  const { own, extra } = splitInput(input);
  if (await store.getRegion(deps.db, id)) throw duplicateId(id);
  const parent = own.parent_region_id ?? null;
  if (parent !== null && !(await store.getRegion(deps.db, parent))) throw regionNotFound(parent);
  const row: RegionRow = { id, description: own.description ?? '', parent_region_id: parent, extra };
  try {
    await store.insertRegion(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateId(id);
    if (isPostgresForeignKeyViolation(e)) throw regionNotFound(parent ?? '');
    throw e;
  }
  return row;
}

/** Changes a region; its id cannot change and its parent may not be itself or below it. */
export async function updateRegion(deps: Deps, region: RegionRow, input: RegionInput): Promise<RegionRow> {
  if (input.id !== undefined && input.id !== null && input.id !== region.id) throw badRequest('Cannot change ID');
  const { own, extra } = splitInput(input);
  const changes: Partial<Omit<RegionRow, 'id'>> = {};
  if (own.description !== undefined) changes.description = own.description ?? '';
  if (own.parent_region_id !== undefined) {
    const parent = own.parent_region_id;
    if (parent !== null) {
      if (!(await store.getRegion(deps.db, parent))) throw regionNotFound(parent);
      const ancestors = await store.regionAncestorIds(deps.db, parent);
      if (parent === region.id || ancestors.includes(region.id)) {
        throw badRequest(`The specified parent region ${parent} would create a circular region hierarchy.`);
      }
    }
    changes.parent_region_id = parent;
  }
  if (Object.keys(extra).length > 0) changes.extra = { ...region.extra, ...extra };
  if (Object.keys(changes).length > 0) await store.updateRegion(deps.db, region.id, changes);
  return { ...region, ...changes };
}

/** Deletes the region and the regions below it, unless any of them has endpoints (403). */
export async function deleteRegion(deps: Deps, id: string): Promise<void> {
  const ids = await store.regionSubtreeIds(deps.db, id);
  if (ids.length === 0) throw regionNotFound(id);
  if (await store.anyEndpointInRegions(deps.db, ids)) {
    throw forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
  }
  try {
    if ((await store.deleteRegions(deps.db, ids)) === 0) throw regionNotFound(id);
  } catch (e) {
    if (isPostgresForeignKeyViolation(e)) {
      throw forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    }
    throw e;
  }
}
