import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

export interface KeypairRow {
  id: number;
  user_id: string;
  name: string;
  type: 'ssh' | 'x509';
  fingerprint: string;
  public_key: string;
  created_at: Date;
  updated_at: Date | null;
}

type Conn = Db | Knex.Transaction;

const keypairs = (db: Conn) => db<KeypairRow>('key_pairs');

export async function getKeypair(db: Conn, userId: string, name: string): Promise<KeypairRow | undefined> {
  return keypairs(db).where({ user_id: userId, name }).first();
}

/** A user's keypairs by name, `limit` of them after the one named `after`. */
export async function listKeypairs(db: Db, userId: string, limit?: number, after?: string): Promise<KeypairRow[]> {
  const q = keypairs(db).where({ user_id: userId });
  if (after !== undefined) q.where('name', '>', after);
  q.orderBy([{ column: 'name' }, { column: 'id' }]);
  if (limit !== undefined) q.limit(limit);
  return q;
}

export async function countKeypairs(db: Conn, userId: string): Promise<number> {
  const [{ n }] = await keypairs(db).where({ user_id: userId }).count({ n: '*' });
  return Number(n);
}

/** Adds a keypair; a name the user already has is a unique violation. */
export async function insertKeypair(db: Conn, row: Pick<KeypairRow, 'user_id' | 'name' | 'type' | 'fingerprint' | 'public_key'>): Promise<KeypairRow> {
  const [created] = await keypairs(db).insert(row).returning('*');
  return created as KeypairRow;
}

/** Deletes a keypair; false when the user had none of that name. */
export async function deleteKeypair(db: Db, userId: string, name: string): Promise<boolean> {
  return (await keypairs(db).where({ user_id: userId, name }).delete().returning('id')).length > 0;
}

/** Serialises keypair creation per user within `trx`, so quota counts stay true under concurrency. */
export async function lockUserKeypairs(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`key_pairs:${userId}`]);
}
