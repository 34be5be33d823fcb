/**
 * The conductor's SQL: instance rows (conditional updates, scheduling
 * leases, placement results), instance actions and their events, server
 * group membership, and the reads of the periodic sweep. The rules are in
 * the modules that call these.
 *
 * Bookkeeping the conductor keeps in an instance row's jsonb columns:
 * - request_spec.retry: {num_attempts, hosts} of the build (Nova's
 *   filter_properties.retry), so a reschedule, even by another conductor
 *   after a crash, knows which hosts were tried;
 * - request_spec.scheduling_lease: {owner, at} while a conductor claims a
 *   host for the instance and casts its build there: only the holder
 *   schedules it, the sweep leaves it alone, and a lease older than
 *   scheduler.build_timeout counts as abandoned (its holder died); the
 *   agent's first update ends it too;
 * - system_metadata.nubo_last_update: {host, seq} of the last agent update
 *   applied, so a retried instance_update is applied once.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { InstanceRow as ApiInstanceRow, StoredFault } from '../../api/compute/servers/store.ts';
import type { Db } from '../../lib/db/index.ts';
import { IN_PROGRESS } from './migration-store.ts';
import { BUILD_STATES, COMPUTE_BINARY, TaskState, VmState, type Fault, type HostNode, type InstanceOnHost, type InstanceUpdate } from '../../compute-driver/rpc.ts';

type Conn = Db | Knex.Transaction;

export interface RetryState {
  num_attempts: number;
  hosts: HostNode[];
}

export interface SchedulingLease {
  owner: string;
  /** ISO 8601. */
  at: string;
}

/** The request_spec column: what the API recorded, plus the conductor's retry state and lease. */
export interface StoredRequestSpec extends Record<string, unknown> {
  retry?: RetryState;
  scheduling_lease?: SchedulingLease;
}

/**
 * An instance row (lib/db/migrations/009_compute_instances.ts), as the
 * servers API defines it, with the conductor's bookkeeping in request_spec.
 */
export type InstanceRow = Omit<ApiInstanceRow, 'request_spec'> & { request_spec: StoredRequestSpec };
export type { StoredFault };

const instances = (conn: Conn) => conn<InstanceRow>('instances');
const json = (v: unknown) => JSON.stringify(v);

export const toStoredFault = (f: Fault): StoredFault => ({ code: f.code, message: f.message, details: f.details, created: f.created_at, host: f.host });

export async function getInstance(conn: Conn, uuid: string): Promise<InstanceRow | undefined> {
  return instances(conn).where({ uuid }).first();
}

/** Rows waiting for a host: building, task_state scheduling, no host, not deleted. */
const waitingForHost = (q: Knex.QueryBuilder) =>
  q.whereNull('deleted_at').where({ vm_state: VmState.BUILDING, task_state: TaskState.SCHEDULING }).whereNull('host');

const leaseOwner = "request_spec->'scheduling_lease'->>'owner'";
const leaseAt = "(request_spec->'scheduling_lease'->>'at')::timestamptz";

/** An event of an instance's create action, recorded in the same statement as a lease or the end of a cast (one statement fewer per build). */
export interface CreateEvent {
  requestId: string;
  event: string;
  host: string;
  at: Date;
}

/** What a lease given `started` says of a leased row: whether the statement recorded its start event (only for a first scheduling: no attempt in its retry state). */
export const startRecordedFor = (row: Pick<InstanceRow, 'request_spec'>): boolean => {
  const n = (row.request_spec?.retry as { num_attempts?: unknown } | undefined)?.num_attempts;
  return n === undefined || n === null || String(n) === '0';
};
const FIRST_SCHEDULING = `coalesce(request_spec->'retry'->>'num_attempts', '0') = '0'`;

/**
 * The CTEs `action` and `event` that upsert `e` (started, or with
 * `finished` also finished with Success) under the create action of each
 * (uuid, project_id) row `source` gives, as upsertActionEvent does one.
 */
function createEventCtes(conn: Conn, source: string, e: CreateEvent, finished: boolean) {
  return {
    action: conn.raw(
      `insert into instance_actions (instance_uuid, request_id, action, project_id, start_time)
       select uuid, ?, 'create', project_id, ?::timestamptz from ${source}
       on conflict (instance_uuid, request_id) do update set updated_at = now()
       returning id`,
      [e.requestId, e.at],
    ),
    event: conn.raw(
      `insert into instance_action_events (action_id, event, host, start_time, finish_time, result)
       select id, ?, ?, ?::timestamptz, ?::timestamptz, ? from action
       on conflict (action_id, event) do update set
         start_time = coalesce(instance_action_events.start_time, excluded.start_time),
         finish_time = coalesce(excluded.finish_time, instance_action_events.finish_time),
         result = coalesce(excluded.result, instance_action_events.result),
         host = coalesce(excluded.host, instance_action_events.host),
         updated_at = now()`,
      [e.event, e.host, e.at, finished ? e.at : null, finished ? 'Success' : null],
    ),
  };
}

/**
 * Takes the scheduling lease of those of `uuids` that wait for a host and
 * that nobody is scheduling (no lease, or one taken before `expiredBefore`:
 * its holder died); returns the rows leased, in the order of `uuids`. A
 * lease this process holds counts too: two messages about one instance
 * handled at once never both schedule it. With `started`, the same
 * statement records that event's start for each leased row never tried on
 * a host yet (startRecordedFor).
 */
export async function leaseForScheduling(
  conn: Conn,
  uuids: readonly string[],
  owner: string,
  now: Date,
  expiredBefore: Date,
  started?: CreateEvent,
): Promise<InstanceRow[]> {
  if (uuids.length === 0) return [];
  const lease: SchedulingLease = { owner, at: now.toISOString() };
  const leasing = waitingForHost(instances(conn).whereIn('uuid', uuids))
    .where((b) => b.whereRaw(`request_spec->'scheduling_lease' is null`).orWhereRaw(`${leaseAt} < ?`, [expiredBefore]))
    .update({ request_spec: conn.raw(`request_spec || jsonb_build_object('scheduling_lease', ?::jsonb)`, [json(lease)]), updated_at: now } as never)
    .returning('*');
  let rows: InstanceRow[];
  if (!started) rows = await leasing;
  else {
    const ctes = createEventCtes(conn, 'fresh', started, false);
    rows = await conn
      .with('leased', leasing)
      .with('fresh', conn.raw(`select uuid, project_id from leased where ${FIRST_SCHEDULING}`))
      .with('action', ctes.action)
      .with('event', ctes.event)
      .select('*')
      .from('leased');
  }
  const order = new Map(uuids.map((u, i) => [u, i]));
  return rows.sort((a, b) => order.get(a.uuid)! - order.get(b.uuid)!);
}

/** Gives up the lease without scheduling (an unexpected failure): another try may take it at once. */
export async function dropLease(conn: Conn, uuids: readonly string[], owner: string): Promise<void> {
  if (uuids.length === 0) return;
  await instances(conn)
    .whereIn('uuid', uuids)
    .whereRaw(`${leaseOwner} = ?`, [owner])
    .update({ request_spec: conn.raw(`request_spec - 'scheduling_lease'`) } as never);
}

/**
 * Records the host the lease holder claimed: host, node and launched_on
 * (Nova's instance.host/node/launched_on) and the retry state, renewing the
 * lease for the cast of build_and_run_instance (endCastLease ends it; the
 * sweep leaves a build under a live lease alone). task_state stays
 * scheduling until the agent starts the build. Returns the row, or
 * undefined when the instance no longer waits for a host under this lease
 * (deleted meanwhile, or the lease was lost).
 */
export async function commitPlacement(conn: Conn, uuid: string, owner: string, to: HostNode, retry: RetryState, now: Date): Promise<InstanceRow | undefined> {
  const lease: SchedulingLease = { owner, at: now.toISOString() };
  const [row] = await waitingForHost(instances(conn).where({ uuid }))
    .whereRaw(`${leaseOwner} = ?`, [owner])
    .update({
      host: to.host,
      node: to.node,
      launched_on: to.host,
      request_spec: conn.raw(`request_spec || jsonb_build_object('retry', ?::jsonb, 'scheduling_lease', ?::jsonb)`, [json(retry), json(lease)]),
      updated_at: now,
    } as never)
    .returning('*');
  return row;
}

/**
 * Ends the lease commitPlacement kept while build_and_run_instance was cast:
 * the host's queue holds the build now, and updated_at starts the clock of
 * the sweep's "not started in time" (from the cast, not the commit: the cast
 * may have waited out a broker outage). Only under `owner`'s lease, on `to`.
 * With `finished`, the same statement records that event as finished with
 * Success (whether or not the lease was still there to end).
 */
export async function endCastLease(conn: Conn, uuid: string, owner: string, to: HostNode, now: Date, finished?: CreateEvent): Promise<void> {
  const ending = instances(conn)
    .where({ uuid, host: to.host, node: to.node })
    .whereRaw(`${leaseOwner} = ?`, [owner])
    .update({ request_spec: conn.raw(`request_spec - 'scheduling_lease'`), updated_at: now } as never);
  if (!finished) {
    await ending;
    return;
  }
  const ctes = createEventCtes(conn, 'instance', finished, true);
  await conn
    .with('ended', ending)
    .with('instance', conn.raw('select uuid, project_id from instances where uuid = ?', [uuid]))
    .with('action', ctes.action)
    .with('event', ctes.event)
    .select(conn.raw('1'));
}

/**
 * Puts a build that found no host in error with `fault` (task_state null),
 * ending the lease. With an owner, only under that owner's lease. Returns
 * whether the row changed.
 */
export async function failBuild(conn: Conn, uuid: string, owner: string, fault: StoredFault, now: Date): Promise<boolean> {
  const rows = await waitingForHost(instances(conn).where({ uuid }))
    .whereRaw(`${leaseOwner} = ?`, [owner])
    .update({
      vm_state: VmState.ERROR,
      task_state: null,
      fault: json(fault),
      request_spec: conn.raw(`request_spec - 'scheduling_lease' - 'admin_password' - 'injected_files'`),
      updated_at: now,
    } as never)
    .returning('uuid');
  return rows.length > 0;
}

/** A build in progress: building, with a task_state of the build (or none yet), not being deleted. */
const buildInProgress = (q: Knex.QueryBuilder, prefix = '') =>
  q
    .whereNull(`${prefix}deleted_at`)
    .where(`${prefix}vm_state`, VmState.BUILDING)
    .where((b) => b.whereNull(`${prefix}task_state`).orWhereIn(`${prefix}task_state`, [...BUILD_STATES]));

/**
 * Takes a build away from `host` (which died or never started it): host and
 * node null, task_state scheduling, and the lease for `owner`, as long as the
 * build is still in progress there and the row unchanged since it was read.
 * Returns the row, or undefined when something changed it meanwhile.
 */
export async function takeBuildFromHost(conn: Conn, row: Pick<InstanceRow, 'uuid' | 'host' | 'updated_at'>, owner: string, now: Date): Promise<InstanceRow | undefined> {
  const lease: SchedulingLease = { owner, at: now.toISOString() };
  const [out] = await buildInProgress(instances(conn).where({ uuid: row.uuid, host: row.host }))
    // Unchanged since it was read (a Date has milliseconds; the column has microseconds).
    .where('updated_at', '<', new Date(new Date(row.updated_at).getTime() + 1))
    .update({
      host: null,
      node: null,
      task_state: TaskState.SCHEDULING,
      request_spec: conn.raw(`request_spec || jsonb_build_object('scheduling_lease', ?::jsonb)`, [json(lease)]),
      updated_at: now,
    } as never)
    .returning('*');
  return out;
}

// ─── instance_update ───────────────────────────────────────────────────────

const LAST_UPDATE = 'nubo_last_update';

/** The task_state is one of `expected` (which may hold null). */
function whereTaskStateIn(q: Knex.QueryBuilder, expected: readonly (string | null)[]): void {
  const values = expected.filter((v): v is string => v !== null);
  q.where((b) => {
    if (values.length) b.whereIn('task_state', values);
    if (expected.includes(null)) b.orWhereNull('task_state');
    if (expected.length === 0) b.whereRaw('false');
  });
}

/** Whether the row already had an update from `host` with this seq or a later one. */
export const alreadyApplied = (row: Pick<InstanceRow, 'system_metadata'>, host: string, seq: number) => {
  const last = row.system_metadata?.[LAST_UPDATE] as { host?: string; seq?: number } | undefined;
  return last?.host === host && typeof last.seq === 'number' && last.seq >= seq;
};

/** Whether the row waits for a conductor to place it (building, scheduling, no host): no agent owns it. */
export const isWaitingForHost = (row: Pick<InstanceRow, 'vm_state' | 'task_state' | 'host'>) =>
  !row.host && row.vm_state === VmState.BUILDING && row.task_state === TaskState.SCHEDULING;

/**
 * instance_update as one conditional UPDATE: the instance exists and is not
 * deleted, is on from_host (or, for the hosts of a move, `owners`, whichever
 * of them it is on) or on no host without waiting for one (a build delivered
 * late to a host it was taken from must not start an instance a conductor is
 * placing elsewhere), has not had this seq (or a later one) from from_host,
 * and is in the expected task and vm states. Sets the
 * fields given, the fault, the (host, seq) applied, and deleted_at when the
 * vm_state becomes deleted. Returns the updated row's uuid, vm_state and host, or
 * undefined when a condition did not hold.
 */
export async function applyInstanceUpdate(conn: Conn, u: InstanceUpdate, now: Date, owners: readonly string[] = []): Promise<Pick<InstanceRow, 'uuid' | 'vm_state' | 'host'> | undefined> {
  const set: Record<string, unknown> = { updated_at: now };
  for (const key of ['vm_state', 'task_state', 'power_state', 'host', 'node', 'launched_at', 'terminated_at'] as const) {
    if (u[key] !== undefined) set[key] = u[key];
  }
  if (u.fault) set.fault = json(toStoredFault(u.fault));
  if (u.vm_state === VmState.DELETED) set.deleted_at = now;
  // The agent has the instance: a lease kept over the cast of its build (commitPlacement) is over, so
  // that a build_failed it sends next is rescheduled at once, whichever conductor handles it.
  // Once the build is over, what the API kept for it and for its reschedules (the admin password, files) goes too.
  const over = u.vm_state === VmState.ACTIVE || u.vm_state === VmState.ERROR || u.vm_state === VmState.DELETED;
  set.request_spec = conn.raw(over ? `request_spec - 'scheduling_lease' - 'admin_password' - 'injected_files'` : `request_spec - 'scheduling_lease'`);
  set.system_metadata = conn.raw(`system_metadata || jsonb_build_object(?::text, ?::jsonb)`, [LAST_UPDATE, json({ host: u.from_host, seq: u.seq })]);
  const q = instances(conn)
    .where({ uuid: u.uuid })
    .whereNull('deleted_at')
    .whereNot({ vm_state: VmState.DELETED })
    .where((b) =>
      b
        .whereIn('host', [u.from_host, ...owners])
        .orWhere((n) => n.whereNull('host').whereRaw('not coalesce(vm_state = ? and task_state = ?, false)', [VmState.BUILDING, TaskState.SCHEDULING])),
    )
    .whereRaw(`not coalesce(system_metadata->'${LAST_UPDATE}'->>'host' = ? and (system_metadata->'${LAST_UPDATE}'->>'seq')::bigint >= ?, false)`, [
      u.from_host,
      u.seq,
    ]);
  if (u.expected_task_state) whereTaskStateIn(q, u.expected_task_state);
  if (u.expected_vm_state) q.whereIn('vm_state', u.expected_vm_state);
  // Only what the caller reads: the whole row (jsonb columns and all) would be parsed five times per build.
  const [row] = await q.update(set as never).returning(['uuid', 'vm_state', 'host']);
  return row;
}

/** A move's flavor switch: the instance's flavor copy and its denormalised columns. */
export async function setFlavor(conn: Conn, uuid: string, f: Pick<InstanceRow, 'flavor' | 'vcpus' | 'memory_mb' | 'root_gb'>): Promise<void> {
  await instances(conn)
    .where({ uuid })
    .update({ flavor: json(f.flavor), vcpus: f.vcpus, memory_mb: f.memory_mb, root_gb: f.root_gb } as never);
}

/** Puts an instance whose move did not start back in `vmState` with no task and `fault`, while it is in resize_prep. */
export async function revertMoveTask(conn: Conn, uuid: string, vmState: string, fault: StoredFault, now: Date): Promise<boolean> {
  const rows = await instances(conn)
    .where({ uuid, task_state: TaskState.RESIZE_PREP })
    .whereNull('deleted_at')
    .update({ vm_state: vmState, task_state: null, fault: json(fault), updated_at: now } as never)
    .returning('uuid');
  return rows.length > 0;
}

/** A resize confirmed without its source: the instance, still resized, becomes `vmState` (active or stopped). */
export async function settleConfirmed(conn: Conn, uuid: string, vmState: string, now: Date): Promise<void> {
  await instances(conn).where({ uuid, vm_state: VmState.RESIZED }).whereNull('deleted_at').update({ vm_state: vmState, task_state: null, updated_at: now } as never);
}

/** Puts an instance whose move stopped half way in error with `fault` (whatever its task), unless it is deleted. */
export async function failMove(conn: Conn, uuid: string, fault: StoredFault, now: Date): Promise<boolean> {
  const rows = await instances(conn)
    .where({ uuid })
    .whereNull('deleted_at')
    .whereNot({ vm_state: VmState.DELETED })
    .update({ vm_state: VmState.ERROR, task_state: null, fault: json(fault), updated_at: now } as never)
    .returning('uuid');
  return rows.length > 0;
}

/** instances_on_host: the rows placed on `host` that are not deleted (Nova's InstanceList.get_by_host). */
export async function instancesOnHost(conn: Conn, host: string, nameOf: (row: InstanceRow) => string): Promise<InstanceOnHost[]> {
  const rows: InstanceRow[] = await instances(conn).where({ host }).whereNull('deleted_at').whereNot({ vm_state: VmState.DELETED }).orderBy('created_at');
  return rows.map((r) => ({
    uuid: r.uuid,
    name: nameOf(r),
    vm_state: r.vm_state as VmState,
    task_state: r.task_state as TaskState | null,
    power_state: r.power_state as InstanceOnHost['power_state'],
    host: r.host,
    node: r.node,
  }));
}

/** Of `uuids`, the instances that are deleted (soft-deleted rows). */
export async function deletedAmong(conn: Conn, uuids: readonly string[]): Promise<InstanceRow[]> {
  if (uuids.length === 0) return [];
  return instances(conn).whereIn('uuid', uuids).where((b) => b.whereNotNull('deleted_at').orWhere({ vm_state: VmState.DELETED }));
}

// ─── instance actions and events ──────────────────────────────────────────

export interface ActionEvent {
  uuid: string;
  requestId: string;
  /** The action to create when the API did not record one. */
  action: string;
  event: string;
  host?: string | null;
  start?: Date | string | null;
  finish?: Date | string | null;
  result?: 'Success' | 'Error' | null;
  traceback?: string | null;
}

/**
 * Upserts an event of an instance action by (instance, request id, event):
 * the action is created (no user) when missing; a start keeps the first
 * start time, a finish sets finish time, result and traceback, so start and
 * finish may arrive in either order. An Error result marks the action's
 * message 'Error', as Nova does. One statement: the action's upsert (which
 * returns its id whether it inserted or found it, even when a concurrent
 * writer inserted it first) feeds the event's. An unknown instance fails on
 * the action's foreign key.
 */
export async function upsertActionEvent(conn: Conn, e: ActionEvent): Promise<void> {
  const error = e.result === 'Error';
  await conn.raw(
    `with action as (
       insert into instance_actions (instance_uuid, request_id, action, project_id, start_time, message)
       values (?, ?, ?, (select project_id from instances where uuid = ?), coalesce(?::timestamptz, now()), ?)
       on conflict (instance_uuid, request_id) do update
         set updated_at = now(), message = case when ? then 'Error' else instance_actions.message end
       returning id
     )
     insert into instance_action_events (action_id, event, host, start_time, finish_time, result, traceback)
     select id, ?, ?, ?::timestamptz, ?::timestamptz, ?, ? from action
     on conflict (action_id, event) do update set
       start_time = coalesce(instance_action_events.start_time, excluded.start_time),
       finish_time = coalesce(excluded.finish_time, instance_action_events.finish_time),
       result = coalesce(excluded.result, instance_action_events.result),
       traceback = coalesce(excluded.traceback, instance_action_events.traceback),
       host = coalesce(excluded.host, instance_action_events.host),
       updated_at = now()`,
    [
      e.uuid, e.requestId, e.action, e.uuid, e.start ?? null, error ? 'Error' : null, error,
      e.event, e.host ?? null, e.start ?? null, e.finish ?? null, e.result ?? null, e.traceback ?? null,
    ],
  );
}

// ─── what scheduling reads ────────────────────────────────────────────────

export interface GroupOfInstance {
  uuid: string;
  policy: string;
  rules: { max_server_per_host?: number };
  /** Uuids of the group's instances that are not deleted. */
  members: string[];
}

/** The server group `uuid` is a member of, with its members; undefined when none. */
export async function groupOf(conn: Conn, uuid: string): Promise<GroupOfInstance | undefined> {
  const g: { uuid: string; policy: string; rules: GroupOfInstance['rules'] } | undefined = await conn('server_group_members as m')
    .join('server_groups as g', 'g.uuid', 'm.group_uuid')
    .select('g.uuid', 'g.policy', 'g.rules')
    .where('m.instance_uuid', uuid)
    .first();
  if (!g) return undefined;
  const members: { instance_uuid: string }[] = await conn('server_group_members as m')
    .join('instances as i', 'i.uuid', 'm.instance_uuid')
    .select('m.instance_uuid')
    .where('m.group_uuid', g.uuid)
    .whereNull('i.deleted_at');
  return { uuid: g.uuid, policy: g.policy, rules: g.rules ?? {}, members: members.map((m) => m.instance_uuid) };
}

/** The image service's URL from the catalog (internal interface preferred, else public); null when there is none. */
export async function imageEndpoint(conn: Conn): Promise<string | null> {
  const row: { url: string } | undefined = await conn('endpoints as e')
    .join('services as s', 's.id', 'e.service_id')
    .select('e.url')
    .where({ 's.type': 'image', 's.enabled': true, 'e.enabled': true })
    .orderByRaw(`case e.interface when 'internal' then 0 when 'public' then 1 else 2 end`)
    .first();
  return row?.url ?? null;
}

// ─── what the sweep reads ─────────────────────────────────────────────────

export type SweepRow = Pick<InstanceRow, 'uuid' | 'host' | 'node' | 'task_state' | 'updated_at'>;
const sweepColumns = ['uuid', 'host', 'node', 'task_state', 'updated_at'] as const;

/** Builds waiting for a host since before `before` that nobody holds a live lease on (their scheduler died, or the cast was lost). */
export async function unscheduledBuilds(conn: Conn, before: Date, limit: number): Promise<SweepRow[]> {
  return waitingForHost(instances(conn).select(...sweepColumns))
    .where((b) =>
      b.where((n) => n.whereRaw(`request_spec->'scheduling_lease' is null`).where('updated_at', '<', before)).orWhereRaw(`${leaseAt} < ?`, [before]),
    )
    .orderBy('updated_at')
    .limit(limit);
}

/**
 * Builds placed on a host that has not started them (still task_state
 * scheduling) since before `before`, with no live lease (the conductor is
 * not still casting them): the cast was lost.
 */
export async function unstartedBuilds(conn: Conn, before: Date, limit: number): Promise<SweepRow[]> {
  return instances(conn)
    .select(...sweepColumns)
    .whereNull('deleted_at')
    .where({ vm_state: VmState.BUILDING, task_state: TaskState.SCHEDULING })
    .whereNotNull('host')
    .where('updated_at', '<', before)
    .where((b) => b.whereRaw(`request_spec->'scheduling_lease' is null`).orWhereRaw(`${leaseAt} < ?`, [before]))
    .orderBy('updated_at')
    .limit(limit);
}

/**
 * Builds in progress on a host whose compute service is down: forced down,
 * or no heartbeat since `downBefore` (or no service at all), and the row
 * unchanged since then too.
 */
export async function buildsOnDownHosts(conn: Conn, downBefore: Date, limit: number): Promise<SweepRow[]> {
  return buildInProgress(conn('instances as i').select(...sweepColumns.map((c) => `i.${c}`)), 'i.')
    .whereNotNull('i.host')
    .where('i.updated_at', '<', downBefore)
    .whereNotExists(
      conn('compute_services as s')
        .select(conn.raw('1'))
        .whereRaw('s.host = i.host')
        .where('s.binary', COMPUTE_BINARY)
        .where('s.forced_down', false)
        .where('s.last_seen_up', '>=', downBefore),
    )
    .orderBy('i.updated_at')
    .limit(limit);
}

export interface LeakedAllocation {
  consumer: string;
  providerUuid: string;
}

/**
 * Claims that nothing should hold any more: of instances that are deleted,
 * in error with no host, or placed on a host whose node is not the provider
 * claimed (left behind by a conductor that lost the instance to another).
 * Only instance consumers are looked at, and not while the instance has a
 * move under way (its claim is on the destination before its host is):
 * migration consumers are the move's to settle (resize.ts, move-sweep.ts).
 */
export async function leakedAllocations(conn: Conn, limit: number, consumer?: string): Promise<LeakedAllocation[]> {
  const q = conn('allocations as a');
  if (consumer !== undefined) q.where('a.consumer_id', consumer);
  const rows: { consumer_id: string; uuid: string }[] = await q
    .distinct('a.consumer_id', 'p.uuid')
    .joinRaw('join instances as i on i.uuid::text = a.consumer_id')
    .join('resource_providers as p', 'p.id', 'a.provider_id')
    .leftJoin('compute_nodes as n', 'n.uuid', 'p.uuid')
    .whereNotExists(conn('migrations as m').select(conn.raw('1')).whereRaw('m.instance_uuid = i.uuid').whereIn('m.status', [...IN_PROGRESS]))
    .where((b) =>
      b
        .whereNotNull('i.deleted_at')
        .orWhere('i.vm_state', VmState.DELETED)
        .orWhere((e) => e.where('i.vm_state', VmState.ERROR).whereNull('i.host'))
        .orWhere((h) => h.whereNotNull('i.host').whereRaw('(n.host is distinct from i.host or n.hypervisor_hostname is distinct from i.node)')),
    )
    .limit(limit);
  return rows.map((r) => ({ consumer: r.consumer_id, providerUuid: r.uuid }));
}

/** Whether the allocation is still leaked (checked again just before it is released). */
export async function stillLeaked(conn: Conn, a: LeakedAllocation): Promise<boolean> {
  return (await leakedAllocations(conn, 100, a.consumer)).some((x) => x.providerUuid === a.providerUuid);
}

/** The request id of the instance's create action (what a sweep reschedules under); a new one when the API recorded none. */
export async function createRequestId(conn: Conn, uuid: string): Promise<string> {
  const row: { request_id: string } | undefined = await conn('instance_actions').select('request_id').where({ instance_uuid: uuid, action: 'create' }).orderBy('id').first();
  return row?.request_id ?? `req-${randomUUID()}`;
}
