import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';
import type { InstanceRow } from './store.ts';

/**
 * A server list's filters, as Nova's instance_get_all_by_filters_sort takes
 * them once the API has translated the query: exact matches, regular
 * expressions (PostgreSQL `~`, as Nova's on PostgreSQL), tags and times.
 */
export interface ServerFilter {
  projectId?: string;
  userId?: string;
  /** false: live ones only; true: deleted ones only; undefined: both. */
  deleted?: boolean;
  vmStates?: string[];
  /** task_state in these (null for none). */
  taskStates?: (string | null)[];
  /** Exact matches on columns (image_ref, host, uuid, power_state…). */
  exact?: Partial<Record<ExactColumn, string[]>>;
  /** Regular expressions on columns (display_name, hostname…). */
  regex?: Partial<Record<RegexColumn, string>>;
  flavorId?: string;
  locked?: boolean;
  changesSince?: Date;
  changesBefore?: Date;
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
  /** A filter nothing can match (ip: no server has addresses yet). */
  none?: boolean;
}

/** Columns Nova matches exactly (its exact_match_filter_names). */
export const EXACT_COLUMNS = ['image_ref', 'host', 'uuid'] as const;
export type ExactColumn = (typeof EXACT_COLUMNS)[number];
/** Columns Nova matches with a regular expression (every other filter on a column). */
export const REGEX_COLUMNS = [
  'display_name', 'display_description', 'hostname', 'key_name', 'availability_zone', 'access_ip_v4', 'access_ip_v6', 'config_drive', 'progress',
  'created_at', 'launched_at', 'terminated_at', 'node', 'power_state', 'launch_index', 'reservation_id', 'locked_by',
] as const;
export type RegexColumn = (typeof REGEX_COLUMNS)[number];

/** Sort keys Nova accepts that are columns here (the rest are ignored: kernel_id, ramdisk_id…). */
export const SORT_COLUMNS: Record<string, string> = {
  access_ip_v4: 'access_ip_v4',
  access_ip_v6: 'access_ip_v6',
  auto_disk_config: 'auto_disk_config',
  availability_zone: 'availability_zone',
  config_drive: 'config_drive',
  created_at: 'created_at',
  display_description: 'display_description',
  display_name: 'display_name',
  host: 'host',
  hostname: 'hostname',
  image_ref: 'image_ref',
  key_name: 'key_name',
  launch_index: 'launch_index',
  launched_at: 'launched_at',
  locked: 'locked',
  locked_by: 'locked_by',
  node: 'node',
  power_state: 'power_state',
  progress: 'progress',
  project_id: 'project_id',
  task_state: 'task_state',
  terminated_at: 'terminated_at',
  updated_at: 'updated_at',
  user_id: 'user_id',
  uuid: 'uuid',
  vm_state: 'vm_state',
};

export interface SortKey {
  column: string;
  dir: 'asc' | 'desc';
}

/** Columns that are not text: a regular expression matches their text form. */
const TEXT_COLUMNS: ReadonlySet<string> = new Set(['config_drive', 'progress', 'created_at', 'launched_at', 'terminated_at', 'power_state', 'launch_index']);

function applyFilter(q: Knex.QueryBuilder, f: ServerFilter): void {
  if (f.none) q.whereRaw('false');
  if (f.projectId !== undefined) q.where('project_id', f.projectId);
  if (f.userId !== undefined) q.where('user_id', f.userId);
  if (f.deleted === false) q.whereNull('deleted_at');
  if (f.deleted === true) q.whereNotNull('deleted_at');
  if (f.vmStates) q.whereIn('vm_state', f.vmStates);
  if (f.taskStates) {
    const states = f.taskStates.filter((s): s is string => s !== null);
    const withNull = f.taskStates.includes(null);
    q.where((w) => {
      w.whereIn('task_state', states);
      if (withNull) w.orWhereNull('task_state');
    });
  }
  for (const [col, values] of Object.entries(f.exact ?? {})) q.whereIn(col, values!);
  for (const [col, pattern] of Object.entries(f.regex ?? {})) {
    q.whereRaw(`${TEXT_COLUMNS.has(col) ? `${col}::text` : col} ~ ?`, [pattern]);
  }
  if (f.flavorId !== undefined) q.whereRaw("flavor->>'flavorid' = ?", [f.flavorId]);
  if (f.locked !== undefined) q.where('locked', f.locked);
  if (f.changesSince) q.where('updated_at', '>=', f.changesSince);
  if (f.changesBefore) q.where('updated_at', '<=', f.changesBefore);
  if (f.tags?.length) q.whereRaw('tags @> ?::jsonb', [JSON.stringify(f.tags)]);
  if (f.tagsAny?.length) q.whereRaw('jsonb_exists_any(tags, ?::text[])', [f.tagsAny]);
  if (f.notTags?.length) q.whereRaw('not (tags @> ?::jsonb)', [JSON.stringify(f.notTags)]);
  if (f.notTagsAny?.length) q.whereRaw('not jsonb_exists_any(tags, ?::text[])', [f.notTagsAny]);
}

/**
 * Rows strictly after `marker` in the order of `keys` (the last being a
 * unique column), with PostgreSQL's null ordering: nulls last ascending,
 * first descending.
 */
function applyMarker(q: Knex.QueryBuilder, keys: SortKey[], marker: Record<string, unknown>): void {
  q.where((outer) => {
    keys.forEach((key, i) => {
      outer.orWhere((w) => {
        for (const prev of keys.slice(0, i)) {
          const v = marker[prev.column];
          if (v === null || v === undefined) w.whereNull(prev.column);
          else w.where(prev.column, v as never);
        }
        const v = marker[key.column];
        if (key.dir === 'asc') {
          if (v === null || v === undefined) w.whereRaw('false');
          else w.where((x) => x.where(key.column, '>', v as never).orWhereNull(key.column));
        } else if (v === null || v === undefined) w.whereNotNull(key.column);
        else w.where(key.column, '<', v as never);
      });
    });
  });
}

/** A page of instances matching `filter`, ordered by `keys` then uuid, after the `marker` row when given; whole rows unless `columns`. */
export async function listInstances(
  db: Db,
  filter: ServerFilter,
  keys: SortKey[],
  limit: number,
  marker?: InstanceRow,
  columns?: readonly (keyof InstanceRow)[],
): Promise<InstanceRow[]> {
  if (limit === 0) return [];
  const order = [...keys.filter((k) => k.column !== 'uuid'), { column: 'uuid', dir: keys[0]?.dir ?? 'desc' } as SortKey];
  const q = db<InstanceRow>('instances').select(columns ? [...columns] : '*');
  applyFilter(q, filter);
  if (marker) applyMarker(q, order, marker as unknown as Record<string, unknown>);
  q.orderBy(order.map((k) => ({ column: k.column, order: k.dir, nulls: k.dir === 'asc' ? 'last' : 'first' }))).limit(limit);
  return q;
}
