import type { Knex } from 'knex';

/**
 * Lets PostgreSQL update an instance row in place (a HOT update: no new
 * entry in any index, the old version pruned within its page). A build
 * updates its row about seven times (lease, placement, each state the agent
 * reports), and each update that changes an indexed column adds an entry to
 * every index of the table: with 009's index on updated_at (which every
 * update changes) none was HOT, so every index scan of instances (the
 * create's quota count under the project's lock, GET of a server, the lists)
 * went through about seven dead entries per instance until a vacuum.
 *
 * - The index on updated_at goes. changes-since lists use the
 *   (project_id, deleted_at) index and filter; the conductor's sweeps, which
 *   look for builds by updated_at, find them through a partial index on
 *   vm_state instead (only the update that ends the build changes it).
 * - fillfactor 80 leaves room in each page for the new versions.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('instances', (t) => t.dropIndex(['updated_at']));
  await db.raw('create index instances_vm_state_live_index on instances (vm_state) where deleted_at is null');
  await db.raw('alter table instances set (fillfactor = 80)');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('alter table instances reset (fillfactor)');
  await db.raw('drop index instances_vm_state_live_index');
  await db.schema.alterTable('instances', (t) => t.index(['updated_at']));
}
