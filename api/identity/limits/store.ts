import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/** A row of `registered_limits`: a service's default limit for a resource, optionally per region. */
export interface RegisteredLimitRow {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
}

/** A limit as shown: a row of `limits` with its registered limit's service, region and resource. */
export interface LimitRow {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
}

/** What identifies a registered limit: at most one per service, region (or none) and resource. */
export interface LimitKey {
  service_id: string;
  region_id: string | null;
  resource_name: string;
}

export type RegisteredLimitFilter = Partial<Record<'service_id' | 'region_id' | 'resource_name', string>>;
export type LimitFilter = RegisteredLimitFilter & Partial<Record<'project_id' | 'domain_id', string>>;

const registeredColumns = ['id', 'service_id', 'region_id', 'resource_name', 'default_limit', 'description'];
const limitColumns = [
  'l.id',
  'l.project_id',
  'l.domain_id',
  'r.service_id',
  'r.region_id',
  'r.resource_name',
  'l.resource_limit',
  'l.description',
];

export async function getRegisteredLimit(db: Db, id: string): Promise<RegisteredLimitRow | undefined> {
  return db('registered_limits').where({ id }).first(registeredColumns);
}

/** The registered limit row, locked against concurrent changes and new limits referring to it. */
export async function lockRegisteredLimit(trx: Knex.Transaction, id: string): Promise<RegisteredLimitRow | undefined> {
  return trx('registered_limits').where({ id }).forUpdate().first(registeredColumns);
}

export async function findRegisteredLimit(db: Db, key: LimitKey): Promise<RegisteredLimitRow | undefined> {
  const q = db('registered_limits').where({ service_id: key.service_id, resource_name: key.resource_name });
  return (key.region_id === null ? q.whereNull('region_id') : q.where({ region_id: key.region_id })).first(registeredColumns);
}

export async function listRegisteredLimits(db: Db, filter: RegisteredLimitFilter): Promise<RegisteredLimitRow[]> {
  return db('registered_limits').where(filter).select(registeredColumns).orderBy('id');
}

export async function insertRegisteredLimit(db: Db, row: RegisteredLimitRow): Promise<void> {
  await db('registered_limits').insert(row);
}

export async function updateRegisteredLimit(db: Db, id: string, changes: Partial<Omit<RegisteredLimitRow, 'id'>>): Promise<void> {
  await db('registered_limits').where({ id }).update({ ...changes, updated_at: db.fn.now() });
}

export async function deleteRegisteredLimit(db: Db, id: string): Promise<void> {
  await db('registered_limits').where({ id }).delete();
}

/** Whether any limit refers to the registered limit. */
export async function registeredLimitInUse(db: Db, id: string): Promise<boolean> {
  return (await db('limits').where({ registered_limit_id: id }).first('id')) !== undefined;
}

const limitsJoined = (db: Db) => db({ l: 'limits' }).join({ r: 'registered_limits' }, 'r.id', 'l.registered_limit_id');

export async function getLimit(db: Db, id: string): Promise<LimitRow | undefined> {
  return limitsJoined(db).where('l.id', id).first(limitColumns);
}

/** Whose limits a caller may list: one project's, or a domain's and its projects'. */
export type LimitScope = { projectId: string } | { domainId: string };

/** Limits matching every filter, confined to `scope` if given. */
export async function listLimits(db: Db, filter: LimitFilter, scope?: LimitScope): Promise<LimitRow[]> {
  const q = limitsJoined(db).select(limitColumns).orderBy('l.id');
  for (const key of ['service_id', 'region_id', 'resource_name'] as const) if (filter[key] !== undefined) q.where(`r.${key}`, filter[key]);
  for (const key of ['project_id', 'domain_id'] as const) if (filter[key] !== undefined) q.where(`l.${key}`, filter[key]);
  if (scope && 'projectId' in scope) q.where('l.project_id', scope.projectId);
  if (scope && 'domainId' in scope) {
    const { domainId } = scope;
    q.where((w) => w.whereIn('l.project_id', db('projects').select('id').where({ domain_id: domainId })).orWhere('l.domain_id', domainId));
  }
  return q;
}

export async function insertLimit(
  db: Db,
  row: { id: string; registered_limit_id: string; project_id: string | null; domain_id: string | null; resource_limit: number; description: string | null },
): Promise<void> {
  await db('limits').insert(row);
}

export async function updateLimit(db: Db, id: string, changes: { resource_limit?: number; description?: string | null }): Promise<void> {
  await db('limits').where({ id }).update({ ...changes, updated_at: db.fn.now() });
}

/** Returns whether the limit existed. */
export async function deleteLimit(db: Db, id: string): Promise<boolean> {
  const rows = await db('limits').where({ id }).delete().returning('id');
  return rows.length > 0;
}

/**
 * For effectiveLimit: the registered limits of the services of one type for
 * the resource, in the region or region-less, each with the project's limit
 * on it (null if none).
 */
export async function registeredLimitsWithProjectLimit(
  db: Db,
  q: { serviceType: string; regionId: string | null; resourceName: string; projectId: string },
): Promise<{ region_id: string | null; default_limit: number; resource_limit: number | null; service_id: string }[]> {
  return db({ r: 'registered_limits' })
    .join({ s: 'services' }, 's.id', 'r.service_id')
    .leftJoin({ l: 'limits' }, (j) => j.on('l.registered_limit_id', 'r.id').andOnVal('l.project_id', q.projectId))
    .where({ 's.type': q.serviceType, 'r.resource_name': q.resourceName })
    .where((w) => {
      w.whereNull('r.region_id');
      if (q.regionId !== null) w.orWhere('r.region_id', q.regionId);
    })
    .select('r.region_id', 'r.default_limit', 'l.resource_limit', 'r.service_id')
    .orderBy('r.service_id');
}
