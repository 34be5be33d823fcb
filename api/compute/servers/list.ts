import type { FastifyRequest } from 'fastify';
import { badRequest, forbidden } from '../../../lib/errors.ts';
import { allowsCompute, authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, pageOf, parseBool, queryOf, rejectUnknownQuery, type Query } from '../query.ts';
import { isUuidLike } from '../services/state.ts';
import { listInstances, SORT_COLUMNS, type RegexColumn, type ServerFilter, type SortKey } from './list-store.ts';
import { statesOfStatuses } from './status.ts';
import { getInstance, type InstanceRow } from './store.ts';

/** Filters of joined tables Nova refuses (JOINED_TABLE_QUERY_PARAMS_SERVERS). */
const JOINED = ['block_device_mapping', 'services', 'metadata', 'system_metadata', 'info_cache', 'security_groups', 'pci_devices'];
const TAG_FILTERS = ['tags', 'tags-any', 'not-tags', 'not-tags-any'];
const PAGING = ['sort_key', 'sort_dir', 'limit', 'marker'];

/** Every query parameter of the list schemas (query_params_v21 …). */
const SCHEMA_PARAMS = [
  'user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id', 'ramdisk_id', 'hostname', 'key_name', 'power_state',
  'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id', 'launched_at', 'terminated_at', 'availability_zone', 'name', 'display_name',
  'description', 'display_description', 'locked_by', 'uuid', 'root_device_name', 'config_drive', 'access_ip_v4', 'access_ip_v6', 'auto_disk_config',
  'progress', 'sort_key', 'sort_dir', 'all_tenants', 'soft_deleted', 'deleted', 'status', 'changes-since', 'ip', 'ip6', 'created_at', ...JOINED,
  'limit', 'marker',
];

/** Sort keys Nova ignores before 2.75 (SERVER_LIST_IGNORE_SORT_KEY) and refuses from then on. */
const IGNORED_SORT_KEYS = [
  'architecture', 'cell_name', 'cleaned', 'default_ephemeral_device', 'default_swap_device', 'deleted', 'deleted_at', 'disable_terminate',
  'ephemeral_gb', 'ephemeral_key_uuid', 'id', 'key_data', 'launched_on', 'locked', 'memory_mb', 'os_type', 'reservation_id', 'root_gb',
  'shutdown_terminate', 'user_data', 'vcpus', 'vm_mode',
];
/** Valid sort keys that are no columns here: accepted, not sorted on. */
const UNSORTABLE_KEYS = ['instance_type_id', 'kernel_id', 'ramdisk_id', 'root_device_name'];

function schemaParams(request: FastifyRequest): string[] {
  const v = request.microversion;
  const params = [...SCHEMA_PARAMS];
  if (v.atLeast('2.26')) params.push(...TAG_FILTERS);
  if (v.atLeast('2.66')) params.push('changes-before');
  if (v.atLeast('2.73')) params.push('locked');
  return params;
}

/** The filters a non-admin may use (Nova's _get_server_search_options); the others are dropped. */
function userSearchOptions(request: FastifyRequest): string[] {
  const v = request.microversion;
  const opts = ['reservation_id', 'name', 'status', 'image', 'flavor', 'ip', 'changes-since', 'all_tenants'];
  if (v.atLeast('2.5')) opts.push('ip6');
  if (v.atLeast('2.26')) opts.push(...TAG_FILTERS);
  if (v.atLeast('2.66')) opts.push('changes-before');
  if (v.atLeast('2.73')) opts.push('locked');
  if (v.atLeast('2.83')) {
    opts.push('availability_zone', 'config_drive', 'key_name', 'created_at', 'launched_at', 'terminated_at', 'power_state', 'task_state', 'vm_state',
      'progress', 'user_id');
  }
  if (v.atLeast('2.90')) opts.push('hostname');
  return opts;
}

const all = (q: Query, name: string): string[] => {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/** ISO 8601 as Nova's date-time format takes it; else a 400 naming the parameter. */
export function queryTime(q: Query, name: string): Date | undefined {
  const raw = lastValue(q, name);
  if (raw === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(raw) ? new Date(raw.replace(' ', 'T')) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw badRequest(`Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not a 'date-time'`);
  return d;
}

const ACCEPTED_BOOLS = "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'";
const strictBool = (value: string) => {
  const b = parseBool(value);
  if (b === undefined) throw badRequest(`Invalid input received: Unrecognized value '${value}', acceptable values are: ${ACCEPTED_BOOLS}`);
  return b;
};

/** Nova's common.get_sort_params and remove_invalid_sort_keys. */
function sortKeys(request: FastifyRequest, caller: ComputeCaller, q: Query): SortKey[] {
  const v = request.microversion;
  const keys = all(q, 'sort_key').map((k) => k.trim());
  const dirs = all(q, 'sort_dir').map((d) => d.trim());
  if (!keys.length) keys.push('created_at');
  if (!dirs.length) dirs.push('desc');
  const valid = new Set([...Object.keys(SORT_COLUMNS), ...UNSORTABLE_KEYS, ...(v.atLeast('2.75') ? [] : IGNORED_SORT_KEYS)]);
  const ignored = new Set(v.atLeast('2.73') ? IGNORED_SORT_KEYS.filter((k) => k !== 'locked') : IGNORED_SORT_KEYS);
  const out: SortKey[] = [];
  keys.forEach((key, i) => {
    if (!valid.has(key)) throw badRequest(`Invalid input for query parameters sort_key. Value: ${key}. '${key}' is not one of the valid sort keys`);
    const dir = dirs[Math.min(i, dirs.length - 1)] ?? 'desc';
    if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Unknown sort direction, must be 'desc' or 'asc'`);
    if (ignored.has(key) && !v.atLeast('2.75')) return;
    if ((key === 'host' || key === 'node') && !caller.isAdmin) throw forbidden(`Only administrators can sort servers by ${key}`);
    const column = SORT_COLUMNS[key];
    if (column && !out.some((k) => k.column === column)) out.push({ column, dir });
  });
  if (!out.length) out.push({ column: 'created_at', dir: 'desc' });
  return out;
}

/** Query parameters that are columns matched by a regular expression (name → column). */
const REGEX_PARAMS: Record<string, RegexColumn> = {
  name: 'display_name',
  display_name: 'display_name',
  description: 'display_description',
  display_description: 'display_description',
  hostname: 'hostname',
  key_name: 'key_name',
  availability_zone: 'availability_zone',
  access_ip_v4: 'access_ip_v4',
  access_ip_v6: 'access_ip_v6',
  config_drive: 'config_drive',
  progress: 'progress',
  created_at: 'created_at',
  launched_at: 'launched_at',
  terminated_at: 'terminated_at',
  node: 'node',
  power_state: 'power_state',
  launch_index: 'launch_index',
  reservation_id: 'reservation_id',
  locked_by: 'locked_by',
};

/** The columns GET /servers shows (serverBriefView). */
const BRIEF_COLUMNS = ['uuid', 'display_name'] as const;

/** What the API keeps for the conductor and the agents, never shown in a server body. */
type NotShown = 'request_spec' | 'image_meta' | 'key_data' | 'block_device_mapping' | 'requested_networks' | 'launched_on' | 'locked_by';

/**
 * The columns GET /servers/detail reads: every one but NotShown (their
 * jsonb would be parsed for nothing, for every server). A column added to
 * InstanceRow must be named here, or in NotShown, for this to compile.
 */
const SHOWN: Record<Exclude<keyof InstanceRow, NotShown>, true> = {
  uuid: true, display_name: true, display_description: true, project_id: true, user_id: true, hostname: true, host: true, node: true,
  availability_zone: true, flavor: true, vcpus: true, memory_mb: true, root_gb: true, image_ref: true, key_name: true, user_data: true,
  config_drive: true, auto_disk_config: true, trusted_certs: true, metadata: true, system_metadata: true, tags: true, security_groups: true,
  vm_state: true, task_state: true, power_state: true, progress: true, locked: true, locked_reason: true, reservation_id: true,
  launch_index: true, access_ip_v4: true, access_ip_v6: true, fault: true, launched_at: true, terminated_at: true, created_at: true,
  updated_at: true, deleted_at: true,
};
const DETAIL_COLUMNS = Object.keys(SHOWN) as (keyof InstanceRow)[];

export interface ServerList {
  /** The columns the list shows: DETAIL_COLUMNS, or for GET /servers BRIEF_COLUMNS. */
  rows: InstanceRow[];
  limit: number;
}

/**
 * GET /servers and /servers/detail, as Nova's _get_servers: the caller's
 * project's servers (every project's for admins with all_tenants), filtered,
 * sorted and paged. Non-admins' filters beyond those Nova lets them use are
 * dropped (a 400 from 2.75, like any unknown parameter).
 */
export async function listServers(ctx: ComputeContext, caller: ComputeCaller, request: FastifyRequest, detail: boolean): Promise<ServerList> {
  authorizeCompute(ctx, caller, `os_compute_api:servers:${detail ? 'detail' : 'index'}`);
  const v = request.microversion;
  const raw = queryOf(request);
  const known = schemaParams(request);
  rejectUnknownQuery(request, known);
  const page = pageOf(request, ctx.config['compute.max_limit']);
  const keys = sortKeys(request, caller, raw);

  // Nova's remove_invalid_options: admins keep every filter, others theirs.
  const q: Query = {};
  const allowed = allowsCompute(ctx, caller, 'os_compute_api:servers:allow_all_filters') ? undefined : userSearchOptions(request);
  for (const [k, val] of Object.entries(raw)) {
    if (PAGING.includes(k)) continue;
    if (allowed && !allowed.includes(k)) continue;
    if (JOINED.includes(k) || k.startsWith('_')) throw badRequest(`Invalid filter field: ${k}.`);
    q[k] = val;
  }

  const f: ServerFilter = {};
  if (q.vm_state !== undefined) f.vmStates = all(q, 'vm_state');
  if (q.task_state !== undefined) f.taskStates = all(q, 'task_state').map((t) => (t === 'None' || t === '' ? null : t));
  // status wins over vm_state and task_state, as in Nova.
  if (q.status !== undefined) {
    const states = statesOfStatuses(all(q, 'status'));
    if (!states.vmStates.length) {
      if (v.atLeast('2.38')) throw badRequest('Invalid status value');
      return { rows: [], limit: page.limit };
    }
    f.vmStates = states.vmStates;
    f.taskStates = states.anyTask ? undefined : states.taskStates;
  }
  f.changesSince = queryTime(q, 'changes-since');
  f.changesBefore = queryTime(q, 'changes-before');
  if (f.changesSince && f.changesBefore && f.changesBefore < f.changesSince) {
    throw badRequest('The value of changes-since must be less than or equal to changes-before.');
  }
  if (q.deleted === undefined) {
    if (!f.changesSince && !f.changesBefore) f.deleted = false;
  } else {
    f.deleted = parseBool(lastValue(q, 'deleted')!) ?? false;
  }
  if (f.vmStates?.length === 1 && f.vmStates[0] === 'deleted') {
    if (!caller.isAdmin) throw forbidden('Only administrators may list deleted instances');
    f.deleted = true;
  }
  if (v.atLeast('2.26')) {
    const split = (name: string) => (q[name] === undefined ? undefined : lastValue(q, name)!.split(','));
    f.tags = split('tags');
    f.tagsAny = split('tags-any');
    f.notTags = split('not-tags');
    f.notTagsAny = split('not-tags-any');
  }
  if (q.locked !== undefined) f.locked = strictBool(lastValue(q, 'locked')!);

  // all_tenants: present (even empty) lists every project's servers, for admins.
  const allTenantsRaw = lastValue(q, 'all_tenants');
  const allTenants = allTenantsRaw === undefined ? false : allTenantsRaw === '' ? true : strictBool(allTenantsRaw);
  if (allTenants) {
    authorizeCompute(ctx, caller, `os_compute_api:servers:${detail ? 'detail' : 'index'}:get_all_tenants`);
    const project = lastValue(q, 'project_id') ?? lastValue(q, 'tenant_id');
    if (project !== undefined) f.projectId = project;
  } else if (caller.projectId !== null) {
    f.projectId = caller.projectId;
  } else {
    f.userId = caller.userId;
  }
  if (q.user_id !== undefined) f.userId = lastValue(q, 'user_id');

  const exact: NonNullable<ServerFilter['exact']> = {};
  const image = lastValue(q, 'image') ?? lastValue(q, 'image_ref');
  if (image !== undefined) exact.image_ref = [image.split('/').pop()!];
  if (q.host !== undefined) exact.host = all(q, 'host');
  if (q.uuid !== undefined) {
    exact.uuid = all(q, 'uuid').filter(isUuidLike);
    if (!exact.uuid.length) f.none = true;
  }
  f.exact = exact;
  if (q.flavor !== undefined) f.flavorId = lastValue(q, 'flavor')!.split('/').pop();
  const regex: NonNullable<ServerFilter['regex']> = {};
  for (const [param, column] of Object.entries(REGEX_PARAMS)) {
    const value = lastValue(q, param);
    if (value !== undefined) regex[column] = value;
  }
  f.regex = regex;
  // No server has addresses until there is a network service.
  if (q.ip !== undefined || q.ip6 !== undefined) f.none = true;

  let marker: InstanceRow | undefined;
  if (page.marker !== undefined) {
    marker = isUuidLike(page.marker) ? await getInstance(ctx.db, page.marker) : undefined;
    if (!marker || (!caller.isAdmin && marker.project_id !== caller.projectId)) throw badRequest(`marker [${page.marker}] not found`);
  }
  try {
    // GET /servers shows ids and names only: reading (and parsing) whole rows would cost as much as the detail list.
    return { rows: await listInstances(ctx.db, f, keys, page.limit, marker, detail ? DETAIL_COLUMNS : BRIEF_COLUMNS), limit: page.limit };
  } catch (e) {
    // An invalid regular expression (PostgreSQL's invalid_regular_expression).
    if ((e as { code?: string }).code === '2201B') throw badRequest('Invalid filter: not a valid regular expression.');
    throw e;
  }
}
