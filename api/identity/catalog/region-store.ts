import type { Db } from '../../../lib/db/index.ts';

/** A row of `regions`; `extra` holds the attributes Keystone keeps beyond its own. */
export interface RegionRow {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: Record<string, unknown>;
}

const columns = ['id', 'description', 'parent_region_id', 'extra'];

export async function getRegion(db: Db, id: string): Promise<RegionRow | undefined> {
  return db('regions').where({ id }).first(columns);
}

export async function listRegions(db: Db, filter: { parentRegionId?: string }): Promise<RegionRow[]> {
  const q = db('regions').select(columns).orderBy('id');
  if (filter.parentRegionId !== undefined) q.where({ parent_region_id: filter.parentRegionId });
  return q;
}

export async function insertRegion(db: Db, row: RegionRow): Promise<void> {
  await db('regions').insert({ ...row, extra: JSON.stringify(row.extra) });
}

export async function updateRegion(db: Db, id: string, changes: Partial<Omit<RegionRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.extra !== undefined) values.extra = JSON.stringify(changes.extra);
  await db('regions').where({ id }).update(values);
}

/** The ids of the region and of every region below it (a cycle ends the walk). */
export async function regionSubtreeIds(db: Db, id: string): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `with recursive tree(id) as (
       select id from regions where id = ?
       union
       select r.id from regions r join tree t on r.parent_region_id = t.id
     ) select id from tree`,
    [id],
  );
  return rows.map((r) => r.id);
}

/** The ids of the region's ancestors, nearest first (a cycle ends the walk). */
export async function regionAncestorIds(db: Db, id: string): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { id: string }[] }>(
    `with recursive up(id, parent, depth) as (
       select id, parent_region_id, 0 from regions where id = ?
       union
       select r.id, r.parent_region_id, u.depth + 1 from regions r join up u on r.id = u.parent where u.depth < 1000
     ) select id from up where depth > 0 order by depth`,
    [id],
  );
  return rows.map((r) => r.id);
}

export async function anyEndpointInRegions(db: Db, regionIds: readonly string[]): Promise<boolean> {
  if (regionIds.length === 0) return false;
  return (await db('endpoints').whereIn('region_id', [...regionIds]).first('id')) !== undefined;
}

/** Deletes the regions in one statement (parent links are checked at its end). */
export async function deleteRegions(db: Db, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db('regions').whereIn('id', [...ids]).delete().returning('id');
  return rows.length;
}
