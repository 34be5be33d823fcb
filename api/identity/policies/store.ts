import type { Db } from '../../../lib/db/index.ts';

/** A row of `policies`: a policy blob stored for clients (Keystone never enforces it). */
export interface PolicyRow {
  id: string;
  type: string;
  blob: string;
  extra: Record<string, unknown>;
}

const columns = ['id', 'type', 'blob', 'extra'];

export async function getPolicy(db: Db, id: string): Promise<PolicyRow | undefined> {
  return db('policies').where({ id }).first(columns);
}

export async function listPolicies(db: Db, filter: { type?: string }): Promise<PolicyRow[]> {
  const q = db('policies').select(columns).orderBy('id');
  if (filter.type !== undefined) q.where({ type: filter.type });
  return q;
}

export async function insertPolicy(db: Db, row: PolicyRow): Promise<void> {
  await db('policies').insert({ ...row, extra: JSON.stringify(row.extra) });
}

export async function updatePolicy(db: Db, id: string, changes: Partial<Omit<PolicyRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.extra !== undefined) values.extra = JSON.stringify(changes.extra);
  await db('policies').where({ id }).update(values);
}

/** Returns whether the policy existed. */
export async function deletePolicy(db: Db, id: string): Promise<boolean> {
  const rows = await db('policies').where({ id }).delete().returning('id');
  return rows.length > 0;
}
