import type { Db } from '../../../lib/db/index.ts';
import type { EndpointFilters } from './filters.ts';

/** A row of `endpoint_groups`: a named set of filters selecting endpoints. */
export interface EndpointGroupRow {
  id: string;
  name: string;
  description: string | null;
  filters: EndpointFilters;
}

const columns = ['id', 'name', 'description', 'filters'];

export async function getEndpointGroup(db: Db, id: string): Promise<EndpointGroupRow | undefined> {
  return db('endpoint_groups').where({ id }).first(columns);
}

export async function listEndpointGroups(db: Db, filter: { name?: string; ids?: readonly string[] }): Promise<EndpointGroupRow[]> {
  const q = db('endpoint_groups').select(columns).orderBy(['name', 'id']);
  if (filter.name !== undefined) q.where({ name: filter.name });
  if (filter.ids !== undefined) q.whereIn('id', [...filter.ids]);
  return q;
}

export async function insertEndpointGroup(db: Db, row: EndpointGroupRow): Promise<void> {
  await db('endpoint_groups').insert({ ...row, filters: JSON.stringify(row.filters) });
}

export async function updateEndpointGroup(db: Db, id: string, changes: Partial<Omit<EndpointGroupRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.filters !== undefined) values.filters = JSON.stringify(changes.filters);
  await db('endpoint_groups').where({ id }).update(values);
}

/** Deletes the group (its project associations go with it); returns whether it existed. */
export async function deleteEndpointGroup(db: Db, id: string): Promise<boolean> {
  const rows = await db('endpoint_groups').where({ id }).delete().returning('id');
  return rows.length > 0;
}
