/**
 * cleanup_migration on this host (rpc-moves.ts CleanupMigration): what a move
 * that ended without confirm or revert left here goes, as Nova's
 * _cleanup_incomplete_migrations removes the instance files of a failed move.
 * The conductor decides (it has the database: scheduler/conductor/
 * move-cleanup.ts); the agent only acts, under the instance's lock:
 * - as the source: driver.confirmMigration drops the disks kept aside (a
 *   driver without it kept nothing), then
 *   migration_cleaned tells the conductor, which marks the migration failed.
 *   A failure (or a lost acknowledgement) leaves the migration in error and
 *   the conductor asks again later.
 * - as the destination (never the instance's host):
 *   driver.cleanupMigrationDestination removes a half-made guest, best effort.
 */
import type { CleanupMigration } from '../rpc.ts';
import type { FlowContext } from './flows.ts';

export async function cleanupMigration(ctx: FlowContext, msg: CleanupMigration): Promise<void> {
  const { driver, host, log } = ctx;
  const m = msg.migration;
  const fields = { uuid: msg.instance.uuid, migration: m.uuid, request_id: msg.request_id };
  if (msg.destination && m.dest_compute === host) {
    try {
      await driver.cleanupMigrationDestination?.(msg.instance, m);
    } catch (e) {
      log.warn({ ...fields, err: e }, 'could not remove what a failed move left on its destination');
    }
  }
  if (m.source_compute !== host) return;
  try {
    // A driver without resize kept nothing: acknowledged as it is.
    await driver.confirmMigration?.(msg.instance, m);
  } catch (e) {
    log.warn({ ...fields, err: e }, 'could not drop the disks a move kept; the conductor will ask again');
    return;
  }
  log.info(fields, 'dropped what an unfinished move kept on its source');
  await ctx.report.migrationCleaned({ migration_uuid: m.uuid, host });
}
