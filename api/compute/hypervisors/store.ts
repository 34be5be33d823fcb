import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';
import type { ComputeNodeRow } from '../../../scheduler/compute-nodes/store.ts';

/** The reads of compute nodes and of the instances on them that os-hypervisors (and os-services' delete) need. */

type Conn = Db | Knex.Transaction;

const nodes = (db: Conn) => db<ComputeNodeRow>('compute_nodes');

/** Compute nodes by id, `limit` of them after the one with id `afterId`. */
export async function listNodes(db: Conn, page: { limit?: number; afterId?: number } = {}): Promise<ComputeNodeRow[]> {
  const q = nodes(db).orderBy('id');
  if (page.afterId !== undefined) q.where('id', '>', page.afterId);
  if (page.limit !== undefined) q.limit(page.limit);
  return q;
}

/** A node by its integer id (before 2.53) or uuid (from 2.53). */
export async function getNode(db: Conn, by: { id: number } | { uuid: string }): Promise<ComputeNodeRow | undefined> {
  return nodes(db).where(by).first();
}

export interface HostedInstance {
  uuid: string;
  display_name: string;
  host: string;
  node: string | null;
  task_state: string | null;
}

/** The instances (not deleted) on any of `hosts`, oldest first. */
export async function instancesOnHosts(db: Conn, hosts: string[]): Promise<HostedInstance[]> {
  if (!hosts.length) return [];
  return db('instances')
    .whereIn('host', hosts)
    .whereNull('deleted_at')
    .whereNot('vm_state', 'deleted')
    .select('uuid', 'display_name', 'host', 'node', 'task_state')
    .orderBy([{ column: 'created_at' }, { column: 'uuid' }]);
}
