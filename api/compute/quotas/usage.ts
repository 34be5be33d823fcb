import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';
import { countKeypairs } from '../keypairs/store.ts';
import { countGroups as countServerGroups } from '../server-groups/store.ts';
import { instanceUsage } from '../servers/store.ts';

/** What a project (or one user in it) uses of the countable quota resources. */
export interface ComputeUsage {
  instances: number;
  cores: number;
  ram: number;
  server_groups: number;
  /** Keypairs are a user's, not a project's: counted only when a user is named. */
  key_pairs: number;
}

/**
 * The one place compute usage is counted, for GET /limits, quota set details
 * and quota checks (the server create path counts within its transaction, so
 * pass it as `db`). With `userId`, the counts are that user's within the
 * project (Nova counts instances and server groups per user too).
 *
 * Instances, cores and ram are the project's (or user's) instances that are
 * not deleted: their count, sum(vcpus) and sum(memory_mb). Server groups are
 * counted from their table.
 */
export async function computeUsage(db: Db | Knex.Transaction, projectId: string, userId?: string): Promise<ComputeUsage> {
  const servers = await instanceUsage(db, projectId, userId);
  return {
    ...servers,
    server_groups: await countServerGroups(db, projectId, userId),
    key_pairs: userId === undefined ? 0 : await countKeypairs(db, userId),
  };
}
