import type { Db } from '../../../lib/db/index.ts';

export interface AccessRule {
  id: string;
  path?: string;
  method?: string;
  service?: string;
}

/** A row of application_credentials with its role ids. */
export interface AppCredRow {
  id: string;
  name: string;
  user_id: string;
  project_id: string | null;
  secret_hash: string;
  description: string | null;
  expires_at: Date | null;
  /** expires_at as Keystone prints it: UTC, microseconds, no zone ('2026-11-25T06:49:00.123456'). */
  expires_at_text: string | null;
  unrestricted: boolean;
  access_rules: AccessRule[];
  role_ids: string[];
}

export interface NewAppCred {
  id: string;
  name: string;
  user_id: string;
  project_id: string;
  secret_hash: string;
  description: string | null;
  /** ISO 8601 with an explicit zone, passed to PostgreSQL as text so microseconds survive. */
  expires_at: string | null;
  unrestricted: boolean;
  access_rules: AccessRule[];
  role_ids: string[];
}

function selectAppCreds(db: Db) {
  return db('application_credentials as a').select(
    'a.id',
    'a.name',
    'a.user_id',
    'a.project_id',
    'a.secret_hash',
    'a.description',
    'a.expires_at',
    db.raw(`to_char(a.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as expires_at_text`),
    'a.unrestricted',
    'a.access_rules',
    db.raw(
      `coalesce((select array_agg(r.role_id order by r.role_id) from application_credential_roles r
                 where r.application_credential_id = a.id), '{}') as role_ids`,
    ),
  );
}

export async function getAppCred(db: Db, id: string): Promise<AppCredRow | undefined> {
  return selectAppCreds(db).where('a.id', id).first();
}

/** The user's credentials (all, or the one called `name`), oldest first. */
export async function listAppCreds(db: Db, userId: string, name?: string): Promise<AppCredRow[]> {
  const q = selectAppCreds(db).where('a.user_id', userId).orderBy(['a.created_at', 'a.id']);
  if (name !== undefined) q.andWhere('a.name', name);
  return q;
}

export async function insertAppCred(db: Db, cred: NewAppCred): Promise<void> {
  const { role_ids, access_rules, ...row } = cred;
  await db.transaction(async (trx) => {
    await trx('application_credentials').insert({ ...row, access_rules: JSON.stringify(access_rules) });
    if (role_ids.length) {
      await trx('application_credential_roles').insert(role_ids.map((role_id) => ({ application_credential_id: cred.id, role_id })));
    }
  });
}

/** Removes a credential; returns whether it existed. */
export async function deleteAppCred(db: Db, id: string): Promise<boolean> {
  // With returning(): knex-pglite answers a bare delete() with its raw result, not a count.
  const rows = await db('application_credentials').where({ id }).delete().returning('id');
  return rows.length > 0;
}
