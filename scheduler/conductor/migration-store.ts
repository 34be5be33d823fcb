/**
 * The SQL of migrations (lib/db/migrations/011_compute_migrations.ts), for
 * the API (which creates a resize's row with its quota check) and the
 * conductor (which moves it through its statuses).
 */
import type { Knex } from 'knex';
import type { Db } from '../../lib/db/index.ts';
import { COMPUTE_BINARY, VmState, type MigrationStatus } from '../../compute-driver/rpc.ts';

type Conn = Db | Knex.Transaction;

export interface MigrationRow {
  id: number;
  uuid: string;
  instance_uuid: string;
  project_id: string;
  user_id: string;
  migration_type: 'resize' | 'migration';
  status: MigrationStatus;
  source_compute: string | null;
  source_node: string | null;
  dest_compute: string | null;
  dest_node: string | null;
  old_flavor: Record<string, unknown>;
  new_flavor: Record<string, unknown>;
  old_vcpus: number;
  new_vcpus: number;
  old_memory_mb: number;
  new_memory_mb: number;
  old_vm_state: string;
  request_id: string;
  created_at: Date;
  updated_at: Date;
}

/** Statuses of a move under way: the instance is between hosts or flavors (Nova's in-progress migrations). */
export const IN_PROGRESS: readonly MigrationStatus[] = ['pre-migrating', 'migrating', 'post-migrating', 'finished', 'confirming', 'reverting'];
/** Before the destination took the instance over: the instance still has the old flavor. */
export const BEFORE_FINISH: readonly MigrationStatus[] = ['pre-migrating', 'migrating', 'post-migrating'];

const migrations = (conn: Conn) => conn<MigrationRow>('migrations');

export type NewMigration = Omit<MigrationRow, 'id' | 'created_at' | 'updated_at' | 'dest_compute' | 'dest_node'>;

export async function insertMigration(conn: Conn, m: NewMigration): Promise<MigrationRow> {
  const [row] = await migrations(conn)
    .insert({ ...m, old_flavor: JSON.stringify(m.old_flavor), new_flavor: JSON.stringify(m.new_flavor) } as never)
    .returning('*');
  return row;
}

export const getMigration = (conn: Conn, uuid: string): Promise<MigrationRow | undefined> => migrations(conn).where({ uuid }).first();

/** The instance's move under way, if any (the latest). */
export const inProgressOf = (conn: Conn, instanceUuid: string): Promise<MigrationRow | undefined> =>
  migrations(conn).where({ instance_uuid: instanceUuid }).whereIn('status', [...IN_PROGRESS]).orderBy('id', 'desc').first();

/** The instance's latest migration in `status` (Nova's get_by_instance_and_status). */
export const latestInStatus = (conn: Conn, instanceUuid: string, status: MigrationStatus): Promise<MigrationRow | undefined> =>
  migrations(conn).where({ instance_uuid: instanceUuid, status }).orderBy('id', 'desc').first();

/**
 * Sets the status (and the other fields given) when the status is one of
 * `from` (any, without it); returns the row, or undefined when it was not.
 */
export async function updateMigration(
  conn: Conn,
  uuid: string,
  changes: Partial<Pick<MigrationRow, 'status' | 'dest_compute' | 'dest_node'>>,
  from?: readonly MigrationStatus[],
): Promise<MigrationRow | undefined> {
  const q = migrations(conn).where({ uuid });
  if (from) q.whereIn('status', [...from]);
  const [row] = await q.update({ ...changes, updated_at: conn.fn.now() } as never).returning('*');
  return row;
}

/** Moves in one of `statuses` not changed since `before` (the sweep's stuck moves). */
export const stuckMigrations = (conn: Conn, statuses: readonly MigrationStatus[], before: Date, limit: number): Promise<MigrationRow[]> =>
  migrations(conn).whereIn('status', [...statuses]).where('updated_at', '<', before).orderBy('updated_at').limit(limit);

/** Moves that are over (confirmed, reverted, error) whose consumer still holds allocations: left by a conductor that died in between. */
export async function endedWithAllocations(conn: Conn, limit: number): Promise<MigrationRow[]> {
  return migrations(conn)
    .whereIn('status', ['confirmed', 'reverted', 'error', 'failed'])
    .whereExists(conn('allocations as a').select(conn.raw('1')).whereRaw('a.consumer_id = migrations.uuid::text'))
    .limit(limit);
}

export interface MigrationFilter {
  instanceUuid?: string;
  projectId?: string;
  status?: string;
  migrationType?: string;
  host?: string;
  /** Only those older than this id (the page after a marker). */
  beforeId?: number;
  limit?: number;
}

/** Migrations, newest first (os-migrations, servers/{id}/migrations). */
export async function listMigrations(conn: Conn, f: MigrationFilter): Promise<MigrationRow[]> {
  const q = migrations(conn).orderBy('id', 'desc');
  if (f.instanceUuid) q.where({ instance_uuid: f.instanceUuid });
  if (f.projectId) q.where({ project_id: f.projectId });
  if (f.status) q.where('status', f.status);
  if (f.migrationType) q.where('migration_type', f.migrationType);
  if (f.host) q.where((b) => b.where({ source_compute: f.host }).orWhere({ dest_compute: f.host }));
  if (f.beforeId !== undefined) q.where('id', '<', f.beforeId);
  if (f.limit !== undefined) q.limit(f.limit);
  return q;
}

/** The instance's moves that ended in error once their disks moved (a destination was chosen): the source may keep disks aside. */
export const erroredMovesOf = (conn: Conn, instanceUuid: string): Promise<MigrationRow[]> =>
  migrations(conn).where({ instance_uuid: instanceUuid, status: 'error' }).whereNotNull('source_compute').whereNotNull('dest_compute').orderBy('id');

/** Moves under way whose instance is deleted (deleted where the API did not tell the conductor: its host was down). */
export const inProgressOfDeleted = (conn: Conn, limit: number): Promise<MigrationRow[]> =>
  migrations(conn)
    .whereIn('status', [...IN_PROGRESS])
    .whereExists(conn('instances as i').select(conn.raw('1')).whereRaw('i.uuid = migrations.instance_uuid').where((b) => b.whereNotNull('i.deleted_at').orWhere('i.vm_state', VmState.DELETED)))
    .orderBy('id')
    .limit(limit);

/**
 * Moves in error, not touched since `before`, whose source may still keep
 * disks aside that nobody needs (move-cleanup.ts): the instance is deleted,
 * or it is settled (active or stopped, no task, no move under way) on
 * another host than the source, where the destination had made its guest
 * (the move's compute_finish_resize succeeded: the kept disks are not its
 * only copy). Only those whose source's compute service is up (seen since
 * `downBefore`, not forced down): a cast to a dead host waits for it to be back.
 */
export function staleKeptDisks(conn: Conn, before: Date, downBefore: Date, limit: number): Promise<MigrationRow[]> {
  const deleted = (b: Knex.QueryBuilder) => b.whereNotNull('i.deleted_at').orWhere('i.vm_state', VmState.DELETED);
  const settledElsewhere = (b: Knex.QueryBuilder) =>
    b
      .whereRaw('i.host is distinct from m.source_compute')
      .whereNull('i.task_state')
      .whereIn('i.vm_state', [VmState.ACTIVE, VmState.STOPPED])
      .whereNotExists(conn('migrations as o').select(conn.raw('1')).whereRaw('o.instance_uuid = m.instance_uuid').whereIn('o.status', [...IN_PROGRESS]))
      .whereExists(
        conn('instance_actions as a')
          .join('instance_action_events as e', 'e.action_id', 'a.id')
          .select(conn.raw('1'))
          .whereRaw('a.instance_uuid = m.instance_uuid and a.request_id = m.request_id')
          .where({ 'e.event': 'compute_finish_resize', 'e.result': 'Success' }),
      );
  return conn('migrations as m')
    .join('instances as i', 'i.uuid', 'm.instance_uuid')
    .select('m.*')
    .where('m.status', 'error')
    .whereNotNull('m.source_compute')
    .whereNotNull('m.dest_compute')
    .where('m.updated_at', '<', before)
    .where((b) => b.where(deleted).orWhere(settledElsewhere))
    .whereExists(
      conn('compute_services as s')
        .select(conn.raw('1'))
        .whereRaw('s.host = m.source_compute')
        .where({ 's.binary': COMPUTE_BINARY, 's.forced_down': false })
        .where('s.last_seen_up', '>=', downBefore),
    )
    .orderBy('m.updated_at')
    .limit(limit) as unknown as Promise<MigrationRow[]>;
}

/** Marks that the hosts were asked (again) to clean up after the move: updated_at now, while the status is still `status`. */
export async function touchMigration(conn: Conn, uuid: string, status: MigrationStatus): Promise<boolean> {
  return (await migrations(conn).where({ uuid, status }).update({ updated_at: conn.fn.now() } as never)) > 0;
}
