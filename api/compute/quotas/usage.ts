import type { Db } from '../../../lib/db/index.ts';
import { countKeypairs } from '../keypairs/store.ts';
import { countGroups as countServerGroups } from '../server-groups/store.ts';

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
 * and quota checks. With `userId`, the counts are that user's within the
 * project (Nova counts instances and server groups per user too).
 *
 * To extend when servers arrive: count the project's (or user's) non-deleted
 * rows of the `instances` table here — instances = count, cores = sum(vcpus),
 * ram = sum(memory_mb). Until then those are 0. Server groups are counted
 * from their table.
 */
export async function computeUsage(db: Db, projectId: string, userId?: string): Promise<ComputeUsage> {
  void projectId;
  return {
    instances: 0,
    cores: 0,
    ram: 0,
    server_groups: await countServerGroups(db, projectId, userId),
    key_pairs: userId === undefined ? 0 : await countKeypairs(db, userId),
  };
}
