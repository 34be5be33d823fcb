import type { Db } from '../../../lib/db/index.ts';

/** A row of `services`: an API the catalog lists, by type. */
export interface ServiceRow {
  id: string;
  type: string;
  name: string | null;
  description: string | null;
  enabled: boolean;
  extra: Record<string, unknown>;
}

const columns = ['id', 'type', 'name', 'description', 'enabled', 'extra'];

export async function getService(db: Db, id: string): Promise<ServiceRow | undefined> {
  return db('services').where({ id }).first(columns);
}

export async function listServices(db: Db, filter: { type?: string; name?: string }): Promise<ServiceRow[]> {
  const q = db('services').select(columns).orderBy(['type', 'id']);
  if (filter.type !== undefined) q.where({ type: filter.type });
  if (filter.name !== undefined) q.where({ name: filter.name });
  return q;
}

export async function insertService(db: Db, row: ServiceRow): Promise<void> {
  await db('services').insert({ ...row, extra: JSON.stringify(row.extra) });
}

export async function updateService(db: Db, id: string, changes: Partial<Omit<ServiceRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.extra !== undefined) values.extra = JSON.stringify(changes.extra);
  await db('services').where({ id }).update(values);
}

/** Deletes the service with its endpoints; returns whether it existed. */
export async function deleteService(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx('endpoints').where({ service_id: id }).delete();
    const rows = await trx('services').where({ id }).delete().returning('id');
    return rows.length > 0;
  });
}
