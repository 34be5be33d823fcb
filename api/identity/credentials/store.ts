import type { Db } from '../../../lib/db/index.ts';

/** A stored credential: a blob (a JSON string for ec2) a user keeps with Keystone. */
export interface CredentialRow {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  extra: Record<string, unknown>;
}

export interface CredentialFilter {
  userId?: string;
  type?: string;
}

const columns = ['id', 'user_id', 'project_id', 'type', 'blob', 'extra'];
const normalize = (row: CredentialRow): CredentialRow => ({ ...row, extra: row.extra ?? {} });

export async function getCredential(db: Db, id: string): Promise<CredentialRow | undefined> {
  const row = await db('credentials').where({ id }).first(columns);
  return row ? normalize(row) : undefined;
}

export async function listCredentials(db: Db, f: CredentialFilter): Promise<CredentialRow[]> {
  const q = db('credentials').select(columns).orderBy(['created_at', 'id']);
  if (f.userId !== undefined) q.where('user_id', f.userId);
  if (f.type !== undefined) q.where('type', f.type);
  return (await q).map(normalize);
}

export async function insertCredential(db: Db, c: CredentialRow): Promise<void> {
  await db('credentials').insert({ ...c, extra: JSON.stringify(c.extra) });
}

/** Writes every field of the credential but its id. */
export async function updateCredential(db: Db, c: CredentialRow): Promise<void> {
  const { id, ...fields } = c;
  await db('credentials')
    .where({ id })
    .update({ ...fields, extra: JSON.stringify(c.extra), updated_at: db.fn.now() });
}

/** Returns whether it existed. */
export async function deleteCredential(db: Db, id: string): Promise<boolean> {
  const rows = await db('credentials').where({ id }).delete().returning('id');
  return rows.length > 0;
}
