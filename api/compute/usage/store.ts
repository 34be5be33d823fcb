import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/** What usage is computed from: an instance's times, states and (copied) flavor. */
export interface UsageInstanceRow {
  uuid: string;
  display_name: string;
  project_id: string;
  vm_state: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  /** The flavor as copied into the instance at create (name, ephemeral_gb…). */
  flavor: { name?: string; ephemeral_gb?: number };
  launched_at: Date | null;
  terminated_at: Date | null;
}

type Conn = Db | Knex.Transaction;

const COLUMNS = ['uuid', 'display_name', 'project_id', 'vm_state', 'vcpus', 'memory_mb', 'root_gb', 'flavor', 'launched_at', 'terminated_at'];

export interface WindowQuery {
  start: Date;
  stop: Date;
  projectId?: string;
  limit: number;
  /** The (project, uuid) of the instance the page starts after. */
  after?: { project_id: string; uuid: string };
}

/**
 * Nova's instance_get_active_by_window_joined: instances deleted ones
 * included, launched before `stop` and not terminated before `start`, by
 * project and uuid.
 */
export async function instancesActiveIn(db: Conn, w: WindowQuery): Promise<UsageInstanceRow[]> {
  const q = db('instances')
    .select(COLUMNS)
    .where((b) => b.whereNull('terminated_at').orWhere('terminated_at', '>', w.start))
    .where('launched_at', '<', w.stop);
  if (w.projectId !== undefined) q.where({ project_id: w.projectId });
  if (w.after) q.whereRaw('(project_id, uuid) > (?, ?)', [w.after.project_id, w.after.uuid]);
  return q.orderBy([{ column: 'project_id' }, { column: 'uuid' }]).limit(w.limit);
}

/** An instance (deleted or not) by uuid, to start a page after; undefined when there is none. */
export async function getInstanceKey(db: Conn, uuid: string): Promise<{ project_id: string; uuid: string } | undefined> {
  return db('instances').where({ uuid }).select('project_id', 'uuid').first();
}
