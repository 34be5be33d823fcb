import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

export interface FlavorRow {
  id: number;
  flavorid: string;
  name: string;
  memory_mb: number;
  vcpus: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  rxtx_factor: number;
  vcpu_weight: number | null;
  disabled: boolean;
  is_public: boolean;
  description: string | null;
  created_at: Date;
  updated_at: Date | null;
}

export type NewFlavor = Omit<FlavorRow, 'id' | 'created_at' | 'updated_at' | 'vcpu_weight' | 'disabled'>;

type Conn = Db | Knex.Transaction;

const flavors = (db: Conn) => db<FlavorRow>('flavors');

/**
 * Who a lookup is for: an admin sees every flavor; anyone else public ones
 * and private ones shared with `projectId` (Nova's flavor queries for a
 * non-admin context).
 */
export interface FlavorViewer {
  isAdmin: boolean;
  projectId: string | null;
}

/** public OR shared with `projectId` (nothing private without a project). */
function publicOrSharedWith(q: Knex.QueryBuilder, db: Conn, projectId: string | null): void {
  q.where((w) => {
    w.where('flavors.is_public', true);
    if (projectId !== null) {
      w.orWhereExists(
        db('flavor_projects').whereRaw('flavor_projects.flavor_id = flavors.id').where('flavor_projects.project_id', projectId),
      );
    }
  });
}

/** The flavor a client calls `flavorid`, if `viewer` may see it. */
export async function getFlavor(db: Conn, flavorid: string, viewer: FlavorViewer): Promise<FlavorRow | undefined> {
  const q = flavors(db).where('flavors.flavorid', flavorid);
  if (!viewer.isAdmin) publicOrSharedWith(q, db, viewer.projectId);
  return q.first();
}

/** getFlavor with the flavor's extra specs, in one statement (what a server create copies). */
export async function getFlavorWithExtraSpecs(
  db: Conn,
  flavorid: string,
  viewer: FlavorViewer,
): Promise<(FlavorRow & { extra_specs: Record<string, string> }) | undefined> {
  const q = flavors(db)
    .where('flavors.flavorid', flavorid)
    .select('flavors.*', db.raw(`(select jsonb_object_agg(s.key, s.value) from flavor_extra_specs as s where s.flavor_id = flavors.id) as extra_specs`));
  if (!viewer.isAdmin) publicOrSharedWith(q, db, viewer.projectId);
  const row = (await q.first()) as (FlavorRow & { extra_specs: Record<string, string> | null }) | undefined;
  if (!row) return undefined;
  // In key order, as extraSpecsOf gives them (jsonb orders keys by length first).
  const specs = Object.fromEntries(Object.entries(row.extra_specs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { ...row, extra_specs: specs };
}

/** The columns Nova lets a list sort by (flavors.VALID_SORT_KEYS; `flavorid` is the default). */
export const FLAVOR_SORT_KEYS = [
  'created_at', 'description', 'disabled', 'ephemeral_gb', 'flavorid', 'id', 'is_public', 'memory_mb', 'name', 'root_gb',
  'rxtx_factor', 'swap', 'updated_at', 'vcpu_weight', 'vcpus',
] as const;
export type FlavorSortKey = (typeof FLAVOR_SORT_KEYS)[number];

export interface FlavorListFilter {
  /** true: public ones plus those shared with `projectId`; false: private ones only; null: all. */
  isPublic: boolean | null;
  projectId: string | null;
  minMemoryMb?: number;
  minRootGb?: number;
  /** Non-admins never see disabled flavors. */
  hideDisabled: boolean;
  sortKey: FlavorSortKey;
  sortDir: 'asc' | 'desc';
  limit: number;
  /** The row after which the page starts. */
  after?: FlavorRow;
}

/**
 * A page of flavors, as Nova's FlavorList.get_all: filtered, then ordered by
 * the sort key and the internal id (same direction), starting after the marker.
 */
export async function listFlavors(db: Db, f: FlavorListFilter): Promise<FlavorRow[]> {
  const q = flavors(db).select('flavors.*');
  if (f.isPublic === true) publicOrSharedWith(q, db, f.projectId);
  else if (f.isPublic === false) q.where('flavors.is_public', false);
  if (f.hideDisabled) q.where('flavors.disabled', false);
  if (f.minMemoryMb !== undefined) q.where('flavors.memory_mb', '>=', f.minMemoryMb);
  if (f.minRootGb !== undefined) q.where('flavors.root_gb', '>=', f.minRootGb);
  const key = `flavors.${f.sortKey}`;
  if (f.after) {
    const op = f.sortDir === 'asc' ? '>' : '<';
    const value = f.after[f.sortKey];
    if (f.sortKey === 'id') q.where('flavors.id', op, f.after.id);
    else if (value === null) {
      // nulls sort last ascending (first descending): after a null only nulls with a later id remain (asc).
      if (f.sortDir === 'asc') q.whereNull(key).where('flavors.id', '>', f.after.id);
      else q.where((w) => w.whereNotNull(key).orWhere((w2) => w2.whereNull(key).where('flavors.id', '<', f.after!.id)));
    } else {
      q.where((w) => {
        w.where(key, op, value as never).orWhere((w2) => w2.where(key, value as never).where('flavors.id', op, f.after!.id));
        if (f.sortDir === 'asc') w.orWhereNull(key);
      });
    }
  }
  const nulls = f.sortDir === 'asc' ? 'last' : 'first';
  q.orderBy([
    { column: key, order: f.sortDir, nulls },
    { column: 'flavors.id', order: f.sortDir },
  ]);
  return q.limit(f.limit);
}

/** Creates a flavor; a duplicate flavorid or name is a unique violation (flavors_flavorid_unique / flavors_name_unique). */
export async function insertFlavor(db: Conn, flavor: NewFlavor): Promise<FlavorRow> {
  const [row] = await flavors(db).insert(flavor).returning('*');
  return row as FlavorRow;
}

export async function flavoridExists(db: Conn, flavorid: string): Promise<boolean> {
  return (await flavors(db).where({ flavorid }).first('id')) !== undefined;
}

export async function updateFlavorDescription(db: Db, id: number, description: string | null): Promise<FlavorRow | undefined> {
  const [row] = await flavors(db).where({ id }).update({ description, updated_at: db.fn.now() } as never).returning('*');
  return row as FlavorRow | undefined;
}

/** Deletes a flavor with its extra specs and access list; false when there was none. */
export async function deleteFlavor(db: Db, flavorid: string): Promise<boolean> {
  return (await flavors(db).where({ flavorid }).delete().returning('id')).length > 0;
}

export async function countFlavors(db: Conn): Promise<number> {
  const [{ n }] = await flavors(db).count({ n: '*' });
  return Number(n);
}

// Extra specs

/** The extra specs of each flavor id given (internal ids), as key → value maps. */
export async function extraSpecsOf(db: Conn, ids: number[]): Promise<Map<number, Record<string, string>>> {
  const out = new Map<number, Record<string, string>>(ids.map((id) => [id, {}]));
  if (!ids.length) return out;
  const rows = await db('flavor_extra_specs').whereIn('flavor_id', ids).orderBy('key');
  for (const r of rows as { flavor_id: number; key: string; value: string }[]) out.get(r.flavor_id)![r.key] = r.value;
  return out;
}

/** Sets (creates or replaces) extra specs of a flavor. */
export async function upsertExtraSpecs(db: Conn, flavorId: number, specs: Record<string, string>): Promise<void> {
  const rows = Object.entries(specs).map(([key, value]) => ({ flavor_id: flavorId, key, value }));
  if (rows.length) await db('flavor_extra_specs').insert(rows).onConflict(['flavor_id', 'key']).merge(['value']);
}

/** Removes one extra spec; false when the flavor had no such key. */
export async function deleteExtraSpec(db: Db, flavorId: number, key: string): Promise<boolean> {
  return (await db('flavor_extra_specs').where({ flavor_id: flavorId, key }).delete().returning('key')).length > 0;
}

// Access (the projects a private flavor is shared with)

export async function flavorProjects(db: Conn, flavorId: number): Promise<string[]> {
  const rows = await db('flavor_projects').where({ flavor_id: flavorId }).orderBy([{ column: 'created_at' }, { column: 'project_id' }]).select('project_id');
  return rows.map((r: { project_id: string }) => r.project_id);
}

/** Shares a flavor with a project; a second time is a unique violation. */
export async function addFlavorProject(db: Conn, flavorId: number, projectId: string): Promise<void> {
  await db('flavor_projects').insert({ flavor_id: flavorId, project_id: projectId });
}

/** Stops sharing; false when the project had no access. */
export async function removeFlavorProject(db: Conn, flavorId: number, projectId: string): Promise<boolean> {
  return (await db('flavor_projects').where({ flavor_id: flavorId, project_id: projectId }).delete().returning('project_id')).length > 0;
}
