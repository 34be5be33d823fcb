import type { Knex } from 'knex';
import { forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import { assertReferencesExist, storing } from './references.ts';
import * as store from './store.ts';
import type { RegisteredLimitFilter, RegisteredLimitRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client gives for a new registered limit. */
export interface RegisteredLimitInput {
  service_id: string;
  region_id?: string | null;
  resource_name: string;
  default_limit: number;
  description?: string | null;
}

export const registeredLimitNotFound = (id: string) => notFound(`Could not find registered limit for ${id}.`);
const registeredLimitInUse = (id: string) =>
  forbidden(`Unable to update or delete registered limit ${id} because there are project limits associated with it.`);

export async function getRegisteredLimit(deps: Deps, id: string): Promise<RegisteredLimitRow> {
  const row = await store.getRegisteredLimit(deps.db, id);
  if (!row) throw registeredLimitNotFound(id);
  return row;
}

export async function listRegisteredLimits(deps: Deps, filter: RegisteredLimitFilter): Promise<RegisteredLimitRow[]> {
  return store.listRegisteredLimits(deps.db, filter);
}

/**
 * Creates the registered limits, all or none: each service and region must
 * exist (400), and each (service, region, resource) be new (409).
 */
export async function createRegisteredLimits(deps: Deps, inputs: readonly RegisteredLimitInput[]): Promise<RegisteredLimitRow[]> {
  const checkAll = async () => {
    for (const input of inputs) await assertReferencesExist(deps, input, 'registered_limit');
  };
  await checkAll();
  const rows: RegisteredLimitRow[] = inputs.map((i) => ({
    id: newId(),
    service_id: i.service_id,
    region_id: i.region_id ?? null,
    resource_name: i.resource_name,
    default_limit: i.default_limit,
    description: i.description ?? null,
  }));
  const insertAll = () =>
    deps.db.transaction(async (trx) => {
      for (const row of rows) await store.insertRegisteredLimit(trx, row);
    });
  await storing('registered_limit', insertAll, checkAll);
  return rows;
}

/**
 * Locks the registered limit and runs `change` on it; 404 if it does not
 * exist, 403 (as Keystone) if any limit refers to it.
 */
async function changingUnused<T>(deps: Deps, id: string, change: (trx: Knex.Transaction, row: RegisteredLimitRow) => Promise<T>): Promise<T> {
  return deps.db.transaction(async (trx) => {
    const row = await store.lockRegisteredLimit(trx, id);
    if (!row) throw registeredLimitNotFound(id);
    if (await store.registeredLimitInUse(trx, id)) throw registeredLimitInUse(id);
    return change(trx, row);
  });
}

/** Changes any of a registered limit's fields, unless limits refer to it. */
export async function updateRegisteredLimit(deps: Deps, id: string, input: Partial<RegisteredLimitInput>): Promise<RegisteredLimitRow> {
  const refs = { service_id: input.service_id, region_id: input.region_id };
  const check = () => assertReferencesExist(deps, refs, 'registered_limit');
  await check();
  const changes: Partial<Omit<RegisteredLimitRow, 'id'>> = {};
  for (const key of ['service_id', 'region_id', 'resource_name', 'default_limit', 'description'] as const) {
    if (input[key] !== undefined) Object.assign(changes, { [key]: input[key] });
  }
  const update = () =>
    changingUnused(deps, id, async (trx, row) => {
      if (Object.keys(changes).length > 0) await store.updateRegisteredLimit(trx, id, changes);
      return { ...row, ...changes };
    });
  return storing('registered_limit', update, check);
}

/** Deletes a registered limit, unless limits refer to it. */
export async function deleteRegisteredLimit(deps: Deps, id: string): Promise<void> {
  await changingUnused(deps, id, (trx) => store.deleteRegisteredLimit(trx, id));
}
