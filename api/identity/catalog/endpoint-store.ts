import type { Db } from '../../../lib/db/index.ts';

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** A row of `endpoints`: where one interface of a service answers, in a region. */
export interface EndpointRow {
  id: string;
  service_id: string;
  region_id: string | null;
  interface: EndpointInterface;
  url: string;
  enabled: boolean;
  extra: Record<string, unknown>;
}

const columns = ['id', 'service_id', 'region_id', 'interface', 'url', 'enabled', 'extra'];

export interface EndpointFilter {
  serviceId?: string;
  interface?: string;
  regionId?: string;
}

export async function getEndpoint(db: Db, id: string): Promise<EndpointRow | undefined> {
  return db('endpoints').where({ id }).first(columns);
}

export async function listEndpoints(db: Db, filter: EndpointFilter): Promise<EndpointRow[]> {
  const q = db('endpoints').select(columns).orderBy(['service_id', 'interface', 'id']);
  if (filter.serviceId !== undefined) q.where({ service_id: filter.serviceId });
  if (filter.interface !== undefined) q.where({ interface: filter.interface });
  if (filter.regionId !== undefined) q.where({ region_id: filter.regionId });
  return q;
}

export async function insertEndpoint(db: Db, row: EndpointRow): Promise<void> {
  await db('endpoints').insert({ ...row, extra: JSON.stringify(row.extra) });
}

export async function updateEndpoint(db: Db, id: string, changes: Partial<Omit<EndpointRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.extra !== undefined) values.extra = JSON.stringify(changes.extra);
  await db('endpoints').where({ id }).update(values);
}

/** Returns whether the endpoint existed. */
export async function deleteEndpoint(db: Db, id: string): Promise<boolean> {
  const rows = await db('endpoints').where({ id }).delete().returning('id');
  return rows.length > 0;
}
