import type { Knex } from 'knex';
import type { Flavor } from '../../../compute-driver/rpc.ts';
import type { Db } from '../../../lib/db/index.ts';
import { BEFORE_FINISH } from '../../../scheduler/conductor/migration-store.ts';
import { hostZoneColumn } from '../../../scheduler/compute-nodes/store.ts';

/**
 * The instances table as the servers API reads and writes it
 * (lib/db/migrations/009_compute_instances.ts). The flavor, image metadata and
 * request are copies taken at create time; the conductor and the agents
 * update the states, host and times.
 */
export interface InstanceRow {
  uuid: string;
  display_name: string;
  display_description: string | null;
  project_id: string;
  user_id: string;
  hostname: string | null;
  host: string | null;
  node: string | null;
  launched_on: string | null;
  availability_zone: string | null;
  /** A copy of Nova's flavor object: flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, rxtx_factor, extra_specs. */
  flavor: StoredFlavor;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  image_ref: string | null;
  image_meta: Record<string, unknown>;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  config_drive: boolean;
  auto_disk_config: boolean;
  trusted_certs: string[] | null;
  metadata: Record<string, string>;
  system_metadata: Record<string, unknown>;
  tags: string[];
  security_groups: string[];
  requested_networks: Record<string, unknown>[] | null;
  block_device_mapping: Record<string, unknown>[];
  request_spec: Record<string, unknown>;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  progress: number;
  locked: boolean;
  locked_by: string | null;
  locked_reason: string | null;
  reservation_id: string;
  launch_index: number;
  access_ip_v4: string | null;
  access_ip_v6: string | null;
  fault: StoredFault | null;
  launched_at: Date | null;
  terminated_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The flavor as the driver takes it (compute-driver's Flavor), with what else Nova's flavor object had. */
export interface StoredFlavor extends Flavor {
  rxtx_factor?: number;
  description?: string | null;
}

/** The latest fault, as the conductor records it. */
export interface StoredFault {
  code: number;
  message: string;
  details?: string;
  created: string;
  host?: string | null;
}

export type Conn = Db | Knex.Transaction;

const instances = (db: Conn) => db<InstanceRow>('instances');

/** The jsonb columns: objects and arrays are written as JSON text (knex would make arrays Postgres arrays). */
const JSON_COLUMNS = [
  'flavor', 'image_meta', 'metadata', 'system_metadata', 'tags', 'security_groups', 'requested_networks', 'block_device_mapping', 'request_spec', 'fault', 'trusted_certs',
] as const;

const asRow = (fields: Partial<InstanceRow>): Record<string, unknown> => {
  const row: Record<string, unknown> = { ...fields };
  for (const c of JSON_COLUMNS) if (row[c] !== undefined && row[c] !== null) row[c] = JSON.stringify(row[c]);
  return row;
};

export type NewInstance = Omit<
  InstanceRow,
  | 'host' | 'node' | 'launched_on' | 'fault' | 'launched_at' | 'terminated_at' | 'created_at' | 'updated_at' | 'deleted_at'
  | 'progress' | 'locked' | 'locked_by' | 'locked_reason' | 'power_state'
>;

export async function insertInstances(trx: Conn, rows: NewInstance[]): Promise<InstanceRow[]> {
  if (!rows.length) return [];
  return (await instances(trx).insert(rows.map((r) => asRow(r as Partial<InstanceRow>)) as never).returning('*')) as InstanceRow[];
}

/**
 * Inserts new instances and records the same action (a create) for each, in
 * one statement: the action rows are made from the inserted ones (their
 * foreign key is checked at the statement's end, when both are in).
 */
export async function insertInstancesWithAction(trx: Conn, rows: NewInstance[], a: Omit<NewAction, 'uuid'>): Promise<InstanceRow[]> {
  if (!rows.length) return [];
  const inserted = instances(trx).insert(rows.map((r) => asRow(r as Partial<InstanceRow>)) as never).returning('*');
  const now = new Date();
  const acted = trx.raw(
    `insert into instance_actions (instance_uuid, action, request_id, user_id, project_id, start_time, finish_time, message)
     select uuid, ?, ?, ?, ?, ?::timestamptz, ?::timestamptz, ? from inserted
     on conflict (instance_uuid, request_id) do nothing`,
    [a.action, a.requestId, a.userId, a.projectId, now, a.finished ? now : null, a.message ?? null],
  );
  return (await trx.with('inserted', inserted).with('acted', acted).select('*').from('inserted')) as InstanceRow[];
}

/** The instance, deleted or not. */
export async function getInstance(db: Conn, uuid: string): Promise<InstanceRow | undefined> {
  return instances(db).where({ uuid }).first();
}

/** What a conditional update expects the row to be in (Nova's instance.save(expected_task_state=…)). */
export interface Expected {
  /** task_state must be one of these (null for none). */
  taskStates?: readonly (string | null)[];
  vmStates?: readonly string[];
  /** host must be null. */
  noHost?: boolean;
}

function whereExpected(q: Knex.QueryBuilder, e: Expected): void {
  if (e.taskStates) {
    const states = e.taskStates.filter((s): s is string => s !== null);
    const withNull = e.taskStates.includes(null);
    q.where((w) => {
      if (states.length) w.whereIn('task_state', states);
      if (withNull) w.orWhereNull('task_state');
      if (!states.length && !withNull) w.whereRaw('false');
    });
  }
  if (e.vmStates) q.whereIn('vm_state', [...e.vmStates]);
  if (e.noHost) q.whereNull('host');
}

/**
 * Changes a live (not deleted) instance, only if it is as `expected`;
 * updated_at moves on. Returns the row as updated, or undefined when it was
 * not (gone, or in another state meanwhile).
 */
export async function updateInstance(db: Conn, uuid: string, changes: Partial<InstanceRow>, expected: Expected = {}): Promise<InstanceRow | undefined> {
  const q = instances(db).where({ uuid }).whereNull('deleted_at');
  whereExpected(q, expected);
  const [row] = await q.update({ ...asRow(changes), updated_at: db.fn.now() } as never).returning('*');
  return row as InstanceRow | undefined;
}

/** Soft-deletes a live instance (Nova's instance.destroy for the API): vm_state deleted, deleted_at and terminated_at now. */
export async function destroyInstance(db: Conn, uuid: string, expected: Expected = {}): Promise<InstanceRow | undefined> {
  const now = new Date();
  return updateInstance(db, uuid, { vm_state: 'deleted', task_state: null, power_state: 0, deleted_at: now, terminated_at: now, progress: 0 }, expected);
}

/**
 * Serialises the creates of a project within `trx`: its compute_quota_locks
 * row (made on first use) is locked FOR UPDATE until the transaction ends.
 */
export async function lockProjectQuota(trx: Knex.Transaction, projectId: string): Promise<void> {
  // One statement: inserting the row locks it as much as the update of an existing one does.
  await trx('compute_quota_locks').insert({ project_id: projectId }).onConflict('project_id').merge(['project_id']);
}

/**
 * What a project's (or one user's) live instances use: their count, vCPUs
 * and MB of RAM, counting a resize that grows at its new size from the
 * moment the API accepted it (its migration before finished; after, the
 * instance row has the new flavor).
 */
export async function instanceUsage(db: Conn, projectId: string, userId?: string): Promise<{ instances: number; cores: number; ram: number }> {
  const live = instances(db).where({ project_id: projectId }).whereNull('deleted_at');
  if (userId !== undefined) live.where({ user_id: userId });
  live.select(db.raw('count(*) as n, coalesce(sum(vcpus), 0) as cores, coalesce(sum(memory_mb), 0) as ram'));
  const growing = db('migrations as m')
    .join('instances as i', 'i.uuid', 'm.instance_uuid')
    .where('i.project_id', projectId)
    .whereNull('i.deleted_at')
    .whereIn('m.status', [...BEFORE_FINISH]);
  if (userId !== undefined) growing.where('i.user_id', userId);
  growing.select(
    db.raw('coalesce(sum(greatest(m.new_vcpus - m.old_vcpus, 0)), 0) as cores, coalesce(sum(greatest(m.new_memory_mb - m.old_memory_mb, 0)), 0) as ram'),
  );
  // One statement (it runs under the project's quota lock on every create): both counts side by side.
  const [r] = (await db
    .select(db.raw('u.n, u.cores + g.cores as cores, u.ram + g.ram as ram'))
    .from(db.raw('(?) as u cross join (?) as g', [live, growing]))) as unknown as { n: string | number; cores: string | number; ram: string | number }[];
  return { instances: Number(r.n), cores: Number(r.cores), ram: Number(r.ram) };
}

/** Puts instances in a server group. */
export async function addGroupMembers(db: Conn, groupUuid: string, instanceUuids: string[]): Promise<void> {
  if (!instanceUuids.length) return;
  await db('server_group_members').insert(instanceUuids.map((instance_uuid) => ({ group_uuid: groupUuid, instance_uuid })));
}

/** The group an instance is a member of. */
export async function groupOfInstance(db: Conn, instanceUuid: string): Promise<string | undefined> {
  const row: { group_uuid: string } | undefined = await db('server_group_members').where({ instance_uuid: instanceUuid }).first('group_uuid');
  return row?.group_uuid;
}

// Instance actions

export interface NewAction {
  uuid: string;
  action: string;
  requestId: string;
  userId: string | null;
  projectId: string | null;
  message?: string | null;
  /** Finished at once (actions the API completes itself: lock, resetState…). */
  finished?: boolean;
}

/**
 * Records an instance action under the request id (Nova's
 * InstanceAction.action_start); a second one under the same request id
 * (a retried request) is kept as it was. Returns the action's id.
 */
export async function recordAction(db: Conn, a: NewAction): Promise<number> {
  await db('instance_actions').insert(actionRow(a.uuid, a, new Date())).onConflict(['instance_uuid', 'request_id']).ignore();
  const row: { id: number } = await db('instance_actions').where({ instance_uuid: a.uuid, request_id: a.requestId }).first('id');
  return row.id;
}

/** Records the same action for new instances at once (a create); one already recorded under the request id is kept. */
export async function recordActions(db: Conn, uuids: string[], a: Omit<NewAction, 'uuid'>): Promise<void> {
  if (!uuids.length) return;
  const now = new Date();
  await db('instance_actions').insert(uuids.map((uuid) => actionRow(uuid, a, now))).onConflict(['instance_uuid', 'request_id']).ignore();
}

const actionRow = (uuid: string, a: Omit<NewAction, 'uuid'>, now: Date) => ({
  instance_uuid: uuid,
  action: a.action,
  request_id: a.requestId,
  user_id: a.userId,
  project_id: a.projectId,
  start_time: now,
  finish_time: a.finished ? now : null,
  message: a.message ?? null,
});

/** Records an event the API ran itself, started and finished now (Nova's wrap_instance_event(prefix='api')). */
export async function recordApiEvent(db: Conn, actionId: number, event: string, result: 'Success' | 'Error' = 'Success'): Promise<void> {
  const now = new Date();
  await db('instance_action_events')
    .insert({ action_id: actionId, event, start_time: now, finish_time: now, result })
    .onConflict(['action_id', 'event'])
    .merge(['finish_time', 'result']);
}

// Compute services (the host status and availability zone of an instance's host)

export interface HostService {
  host: string;
  disabled: boolean;
  forced_down: boolean;
  last_seen_up: Date | null;
  created_at: Date;
  availability_zone: string;
}

/** The compute service of each host given, in the zone its aggregates give it. */
export async function computeServicesOf(db: Conn, hosts: string[], binary: string): Promise<Map<string, HostService>> {
  const out = new Map<string, HostService>();
  const unique = [...new Set(hosts)];
  if (!unique.length) return out;
  const rows: HostService[] = await db('compute_services')
    .whereIn('host', unique)
    .where({ binary })
    .select('host', 'disabled', 'forced_down', 'last_seen_up', 'created_at', hostZoneColumn(db));
  for (const r of rows) out.set(r.host, r);
  return out;
}

/** The zones of the enabled compute services, their aggregates' zones included (Nova's available zones). */
export async function availableZones(db: Conn, binary: string): Promise<Set<string>> {
  const rows: { availability_zone: string }[] = await db('compute_services').where({ binary, disabled: false }).distinct(hostZoneColumn(db));
  return new Set(rows.map((r) => r.availability_zone));
}
