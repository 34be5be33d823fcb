import type { Knex } from 'knex';
import { badRequest } from '../../../lib/errors.ts';
import type { Db } from '../../../lib/db/index.ts';
import type { ImageListQuery, SortDir, SortKey } from './list-query.ts';
import { isUuid } from './access.ts';
import type { ImageRow } from './store.ts';

/** Who lists: admins see every image, others what Glance lets a project see. */
export interface Lister {
  projectId: string | null;
  isAdmin: boolean;
}

/** Sort expressions: nullable columns compare as their empty value, so keyset paging has no NULL holes. */
const SORT_EXPR: Record<SortKey, (t: string) => string> = {
  name: (t) => `coalesce(${t}.name, '')`,
  status: (t) => `${t}.status`,
  container_format: (t) => `coalesce(${t}.container_format, '')`,
  disk_format: (t) => `coalesce(${t}.disk_format, '')`,
  size: (t) => `coalesce(${t}.size, -1)`,
  id: (t) => `${t}.id`,
  created_at: (t) => `${t}.created_at`,
  updated_at: (t) => `${t}.updated_at`,
};

/** The caller's membership of an image with the wanted status. */
function memberOf(db: Db, q: ImageListQuery, projectId: string) {
  return (sub: Knex.QueryBuilder) => {
    sub.select(db.raw('1')).from('image_members').whereRaw('image_members.image_id = images.id').where('image_members.member_id', projectId);
    if (q.memberStatus !== 'all') sub.where('image_members.status', q.memberStatus);
  };
}

/** Restricts to what a non-admin project may list, as Glance's image list does. */
function visibleTo(db: Db, builder: Knex.QueryBuilder, q: ImageListQuery, projectId: string | null): void {
  const p = projectId ?? '';
  const own = (b: Knex.QueryBuilder) => b.where('images.owner', p);
  const shared = (b: Knex.QueryBuilder) => b.where('images.visibility', 'shared').whereExists(memberOf(db, q, p));
  switch (q.visibility) {
    case 'public':
    case 'community':
      builder.where('images.visibility', q.visibility);
      return;
    case 'private':
      builder.where('images.visibility', 'private').where(own);
      return;
    case 'shared':
      builder.where('images.visibility', 'shared').where((b) => b.where(own).orWhere(shared));
      return;
    case 'all':
      builder.where((b) => b.where(own).orWhereIn('images.visibility', ['public', 'community']).orWhere(shared));
      return;
    default:
      builder.where((b) => b.where(own).orWhere('images.visibility', 'public').orWhere(shared));
  }
}

function applyFilters(db: Db, builder: Knex.QueryBuilder, q: ImageListQuery, lister: Lister): void {
  builder.whereNull('images.deleted_at');
  if (lister.isAdmin) {
    if (q.visibility && q.visibility !== 'all') builder.where('images.visibility', q.visibility);
  } else {
    visibleTo(db, builder, q, lister.projectId);
  }
  builder.where('images.os_hidden', q.osHidden);
  for (const [col, values] of Object.entries(q.equals)) builder.whereIn(`images.${col}`, values);
  for (const [col, value] of Object.entries(q.numbers)) builder.where(`images.${col}`, value);
  for (const tag of q.tags) builder.whereRaw('jsonb_exists(images.tags, ?)', [tag]);
  if (q.protected !== undefined) builder.where('images.protected', q.protected);
  if (q.sizeMin !== undefined) builder.where('images.size', '>=', q.sizeMin);
  if (q.sizeMax !== undefined) builder.where('images.size', '<=', q.sizeMax);
  if (q.createdAt) builder.where('images.created_at', q.createdAt.op, new Date(q.createdAt.value));
  if (q.updatedAt) builder.where('images.updated_at', q.updatedAt.op, new Date(q.updatedAt.value));
  for (const [k, v] of Object.entries(q.properties)) builder.whereRaw('images.properties ->> ? = ?', [k, v]);
}

/** The sort with Glance's tie-breakers (created_at, then id) appended. */
function fullSort(q: ImageListQuery): [SortKey, SortDir][] {
  const sort = [...q.sort];
  const lastDir = sort[sort.length - 1][1];
  for (const k of ['created_at', 'id'] as const) if (!sort.some(([key]) => key === k)) sort.push([k, lastDir]);
  return sort;
}

/**
 * Rows after the marker in the sort order: (k1 > m1) or (k1 = m1 and k2 > m2) or …,
 * with the marker's values read in SQL (timestamps keep their microseconds).
 */
function afterMarker(builder: Knex.QueryBuilder, sort: [SortKey, SortDir][], markerId: string): void {
  const m = (key: SortKey) => `(SELECT ${SORT_EXPR[key]('m')} FROM images m WHERE m.id = ?)`;
  builder.where((outer) => {
    sort.forEach(([key, dir], i) => {
      outer.orWhere((and) => {
        for (const [prev] of sort.slice(0, i)) and.whereRaw(`${SORT_EXPR[prev]('images')} = ${m(prev)}`, [markerId]);
        and.whereRaw(`${SORT_EXPR[key]('images')} ${dir === 'asc' ? '>' : '<'} ${m(key)}`, [markerId]);
      });
    });
  });
}

/**
 * One page of images for `lister`. The marker must be an image the lister
 * can see (a 400 otherwise, as Glance). Fetches one extra row to know
 * whether a next page exists.
 */
export async function listImages(db: Db, q: ImageListQuery, lister: Lister): Promise<{ images: ImageRow[]; more: boolean }> {
  const sort = fullSort(q);
  const builder = db<ImageRow>('images').select('images.*');
  applyFilters(db, builder, q, lister);
  if (q.marker !== undefined) {
    const probe = db('images').select('images.id');
    applyFilters(db, probe, { ...q, equals: {}, numbers: {}, tags: [], properties: {}, protected: undefined, sizeMin: undefined, sizeMax: undefined, createdAt: undefined, updatedAt: undefined }, lister);
    const marker = isUuid(q.marker) ? await probe.where('images.id', q.marker).first() : undefined;
    if (!marker) throw badRequest(`Invalid marker. Image ${q.marker} could not be found.`);
    afterMarker(builder, sort, q.marker);
  }
  for (const [key, dir] of sort) builder.orderByRaw(`${SORT_EXPR[key]('images')} ${dir}`);
  const rows = (await builder.limit(q.limit + 1)) as ImageRow[];
  return { images: rows.slice(0, q.limit), more: rows.length > q.limit };
}
