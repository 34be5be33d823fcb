/**
 * Crash safety of moves (resize, cold migration), a step of the sweep: a
 * move that has sat in one status for scheduler.move_timeout (the conductor
 * died between claiming and casting, a message was lost, an agent died in
 * the middle) is ended, so no server stays in a RESIZE status forever and no
 * claim stays doubled:
 * - still pre-migrating (the source never started): the instance goes back
 *   as it was with a fault (if still in resize_prep), the migration to
 *   error, and the claims back to the instance (abortMove);
 * - confirming (the source never confirmed): the guest runs on the
 *   destination, so the move counts as confirmed, the instance active or
 *   stopped, and the source is asked once more to drop its old disks
 *   (move-cleanup.ts, best effort);
 * - migrating, post-migrating, reverting (a host died half way): the
 *   instance goes to error with a fault, the migration to error, and the
 *   claims are settled by where the instance is (settleAllocations).
 * A migration that ended but still holds claims (the conductor died between
 * the status and the placement change) has them settled too.
 */
import { VmState } from '../../compute-driver/states.ts';
import { ago, type ConductorContext } from './context.ts';
import * as migrations from './migration-store.ts';
import { askToCleanUp } from './move-cleanup.ts';
import { abortMove, settleAllocations } from './resize.ts';
import * as store from './store.ts';

const HALF_WAY = ['migrating', 'post-migrating', 'reverting', 'confirming'] as const;

export async function sweepStuckMoves(ctx: ConductorContext, limit: number): Promise<number> {
  const before = ago(ctx, ctx.moveTimeoutMs);
  let done = 0;
  for (const m of await migrations.stuckMigrations(ctx.db, ['pre-migrating', ...HALF_WAY], before, limit)) {
    try {
      if (m.status === 'pre-migrating') {
        ctx.log.warn({ uuid: m.instance_uuid, migration: m.uuid }, 'resize never started on its source; putting the server back');
        if (await abortMove(ctx, m, 'The resize did not start in time.', new Error(`migration ${m.uuid} stayed pre-migrating`))) done++;
        continue;
      }
      if (m.status === 'confirming') {
        if (!(await migrations.updateMigration(ctx.db, m.uuid, { status: 'confirmed' }, ['confirming']))) continue;
        ctx.log.warn({ uuid: m.instance_uuid, migration: m.uuid, source: m.source_compute }, 'the source never confirmed the resize; confirmed without it');
        await store.settleConfirmed(ctx.db, m.instance_uuid, m.old_vm_state === VmState.STOPPED ? VmState.STOPPED : VmState.ACTIVE, ctx.now());
        await settleAllocations(ctx, m, 'confirmed', null);
        await askToCleanUp(ctx, m);
        done++;
        continue;
      }
      const ended = await migrations.updateMigration(ctx.db, m.uuid, { status: 'error' }, [m.status]);
      if (!ended) continue;
      const now = ctx.now();
      const message = `The ${m.migration_type} stopped while ${m.status} and did not finish in time.`;
      ctx.log.warn({ uuid: m.instance_uuid, migration: m.uuid, status: m.status }, 'move stuck half way; setting the server to error');
      await store.failMove(ctx.db, m.instance_uuid, { code: 500, message, details: message, created: now.toISOString(), host: null }, now);
      const row = await store.getInstance(ctx.db, m.instance_uuid);
      await settleAllocations(ctx, m, 'error', row && row.vm_state !== VmState.DELETED ? row.host : null);
      done++;
    } catch (e) {
      ctx.log.error({ err: e, migration: m.uuid }, 'sweep of a stuck move failed');
    }
  }
  for (const m of await migrations.endedWithAllocations(ctx.db, limit)) {
    const row = await store.getInstance(ctx.db, m.instance_uuid);
    await settleAllocations(ctx, m, m.status, row?.host ?? null).catch((e) => ctx.log.error({ err: e, migration: m.uuid }, 'settling the claims of a move failed'));
    done++;
  }
  return done;
}
