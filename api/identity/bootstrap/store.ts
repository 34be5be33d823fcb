import type { Db } from '../../../lib/db/index.ts';
import { newId } from '../../../lib/ids.ts';

/**
 * Idempotent writes for bootstrap: each `ensure*` finds the row by its
 * natural key and creates it only when missing, so a second start changes
 * nothing it need not.
 */
export async function ensureDomain(db: Db, id: string, name: string): Promise<string> {
  const row = await db('domains').where({ id }).first();
  if (!row) await db('domains').insert({ id, name, description: 'The default domain' }).onConflict('id').ignore();
  return id;
}

export async function ensureRole(db: Db, name: string): Promise<string> {
  const row = await db('roles').where({ name, domain_id: '' }).first('id');
  if (row) return row.id;
  const id = newId();
  await db('roles').insert({ id, name, domain_id: '' }).onConflict(['name', 'domain_id']).ignore();
  return (await db('roles').where({ name, domain_id: '' }).first('id')).id;
}

export async function ensureImpliedRole(db: Db, priorId: string, impliedId: string): Promise<void> {
  await db('implied_roles').insert({ prior_role_id: priorId, implied_role_id: impliedId }).onConflict().ignore();
}

export async function ensureProject(db: Db, name: string, domainId: string): Promise<string> {
  const row = await db('projects').where({ name, domain_id: domainId }).first('id');
  if (row) return row.id;
  const id = newId();
  await db('projects').insert({ id, name, domain_id: domainId, description: 'Bootstrap project for initializing the cloud.' });
  return id;
}

export async function findUser(db: Db, name: string, domainId: string): Promise<{ id: string; password_hash: string | null } | undefined> {
  return db('users').where({ name, domain_id: domainId }).first('id', 'password_hash');
}

export async function createUser(db: Db, name: string, domainId: string, passwordHash: string, defaultProjectId: string): Promise<string> {
  const id = newId();
  await db('users').insert({
    id, name, domain_id: domainId, password_hash: passwordHash, password_created_at: db.fn.now(), default_project_id: defaultProjectId,
  });
  return id;
}

export async function setUserPassword(db: Db, userId: string, passwordHash: string): Promise<void> {
  await db('users').where({ id: userId }).update({ password_hash: passwordHash, password_created_at: db.fn.now(), enabled: true, failed_auth_count: 0 });
}

export async function ensureAssignment(db: Db, type: string, actorId: string, targetId: string, roleId: string): Promise<void> {
  await db('assignments').insert({ type, actor_id: actorId, target_id: targetId, role_id: roleId, inherited: false }).onConflict().ignore();
}

export async function ensureRegion(db: Db, id: string): Promise<void> {
  await db('regions').insert({ id }).onConflict('id').ignore();
}

/** The service of `type`, created when missing. */
export async function ensureService(db: Db, type: string, name: string): Promise<string> {
  const row = await db('services').where({ type }).orderBy('created_at').first('id');
  if (row) return row.id;
  const id = newId();
  await db('services').insert({ id, type, name, enabled: true });
  return id;
}

/** The endpoint for (service, interface, region), created or pointed at `url`. */
export async function ensureEndpoint(db: Db, serviceId: string, iface: string, regionId: string, url: string): Promise<void> {
  const row = await db('endpoints').where({ service_id: serviceId, interface: iface, region_id: regionId }).first('id', 'url');
  if (!row) await db('endpoints').insert({ id: newId(), service_id: serviceId, interface: iface, region_id: regionId, url });
  else if (row.url !== url) await db('endpoints').where({ id: row.id }).update({ url, updated_at: db.fn.now() });
}
