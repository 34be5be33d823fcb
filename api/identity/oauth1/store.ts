import type { Db } from '../../../lib/db/index.ts';

/** An OAuth1 consumer: an application that may ask users to delegate roles. Its secret is kept only hashed. */
export interface ConsumerRow {
  id: string;
  description: string | null;
  secret_hash: string;
  extra: Record<string, unknown>;
}

const columns = ['id', 'description', 'secret_hash', 'extra'];
const normalize = (row: ConsumerRow): ConsumerRow => ({ ...row, extra: row.extra ?? {} });

export async function getConsumer(db: Db, id: string): Promise<ConsumerRow | undefined> {
  const row = await db('oauth1_consumers').where({ id }).first(columns);
  return row ? normalize(row) : undefined;
}

export async function listConsumers(db: Db): Promise<ConsumerRow[]> {
  return (await db('oauth1_consumers').select(columns).orderBy(['created_at', 'id'])).map(normalize);
}

export async function insertConsumer(db: Db, c: ConsumerRow): Promise<void> {
  await db('oauth1_consumers').insert({ ...c, extra: JSON.stringify(c.extra) });
}

/** Writes the description and extra attributes (the secret never changes). */
export async function updateConsumer(db: Db, c: ConsumerRow): Promise<void> {
  await db('oauth1_consumers')
    .where({ id: c.id })
    .update({ description: c.description, extra: JSON.stringify(c.extra), updated_at: db.fn.now() });
}

/** Returns whether it existed. */
export async function deleteConsumer(db: Db, id: string): Promise<boolean> {
  const rows = await db('oauth1_consumers').where({ id }).delete().returning('id');
  return rows.length > 0;
}
