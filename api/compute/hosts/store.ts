import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

type Conn = Db | Knex.Transaction;

/** What one live instance on a host holds: its project, vCPUs, MB of RAM and GB of disk (root and ephemeral). */
export interface HostedUsage {
  project_id: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** The instances (not deleted) on `host`, oldest first, with what each uses. */
export async function usageOnHost(db: Conn, host: string): Promise<HostedUsage[]> {
  const rows: { project_id: string; vcpus: number; memory_mb: number; root_gb: number; flavor: { ephemeral_gb?: number } | null }[] = await db('instances')
    .where({ host })
    .whereNull('deleted_at')
    .whereNot('vm_state', 'deleted')
    .select('project_id', 'vcpus', 'memory_mb', 'root_gb', 'flavor')
    .orderBy([{ column: 'created_at' }, { column: 'uuid' }]);
  return rows.map((r) => ({ project_id: r.project_id, vcpus: r.vcpus, memory_mb: r.memory_mb, disk_gb: r.root_gb + (r.flavor?.ephemeral_gb ?? 0) }));
}
