/**
 * What a move that never reached confirm or revert leaves on its hosts
 * (Nova's _cleanup_incomplete_migrations, and its confirm-on-delete): the
 * source of a resize or cold migration keeps the instance's old disks aside
 * (the qemu driver's `<uuid>_resize/`, which also pins the cached base image)
 * until confirm or revert; a move that ends otherwise must have them removed.
 *
 * The design: the migrations table is the record of every move that may
 * keep disks, so the conductor decides from it and the agents only act (they
 * have no database). A migration in `error` whose destination was chosen may
 * hold disks on its source; once the source says it dropped them
 * (migration_cleaned), the migration becomes `failed` (Nova's status after
 * the cleanup), so nothing is cleaned twice. The conductor asks with
 * cleanup_migration (compute-driver/rpc-moves.ts): the source runs
 * driver.confirmMigration, the destination (when the instance is not there)
 * driver.cleanupMigrationDestination for a half-made guest.
 * - On delete (the agent reports the instance deleted: endMovesOf): every
 *   move under way goes to error and frees its claims, then every move of
 *   the instance in error is cleaned at once.
 * - The sweep (cleanup step): moves under way of instances deleted without
 *   the conductor hearing of it (the API's local delete when the host is
 *   down) are ended the same way; moves in error whose instance is deleted,
 *   or settled on another host than the source after the destination made
 *   its guest (staleKeptDisks), whose source is up and which nobody asked
 *   about for scheduler.build_timeout, are asked again. So a lost cast, a
 *   source that was down, or an agent that failed to drop them is retried
 *   until the source acknowledges.
 * - A resize the sweep confirms without its source (move-sweep.ts) has the
 *   source asked once, best effort (the migration is confirmed either way).
 * No agent-start listing of `_resize` directories is needed: an agent that
 * comes back is up again, and the next sweep asks it about every migration
 * still in error; kept disks with no such row (a confirm whose cast was
 * lost and that the sweep confirmed) are the one case left to that
 * best-effort cast.
 */
import { randomUUID } from 'node:crypto';
import { computeClient, VmState } from '../../compute-driver/rpc.ts';
import { ago, type ConductorContext } from './context.ts';
import { instanceName } from './messages.ts';
import * as migrations from './migration-store.ts';
import type { MigrationRow } from './migration-store.ts';
import { migrationInfoOf } from './move-messages.ts';
import * as store from './store.ts';

/**
 * Casts cleanup_migration to the move's source, and to its destination when
 * that is another host than the instance's (or the instance is deleted).
 * Returns whether the source was asked.
 */
export async function askToCleanUp(ctx: ConductorContext, m: MigrationRow, row?: store.InstanceRow): Promise<boolean> {
  if (!m.source_compute) return false;
  row ??= await store.getInstance(ctx.db, m.instance_uuid);
  const gone = !row || !!row.deleted_at || row.vm_state === VmState.DELETED;
  const instance = { uuid: m.instance_uuid, name: row ? instanceName(row) : `instance-${m.instance_uuid}` };
  const msg = { request_id: `req-${randomUUID()}`, instance, migration: migrationInfoOf(m) };
  const dest = m.dest_compute;
  if (dest && dest !== m.source_compute && (gone || row?.host !== dest)) {
    await computeClient(ctx.bus, dest)
      .cast('cleanup_migration', { ...msg, destination: true })
      .catch((e) => ctx.log.warn({ err: e, migration: m.uuid, host: dest }, 'could not ask the destination to clean up after a move'));
  }
  try {
    await computeClient(ctx.bus, m.source_compute).cast('cleanup_migration', { ...msg, destination: false });
  } catch (e) {
    ctx.log.warn({ err: e, migration: m.uuid, host: m.source_compute }, 'could not ask the source to drop what a move kept; the sweep asks again');
    return false;
  }
  ctx.log.info({ uuid: m.instance_uuid, migration: m.uuid, source: m.source_compute, status: m.status }, 'asked the source to drop what a move kept');
  return true;
}

/** Every move of the instance in error that may keep disks: asked now (and the ask recorded, so the sweep waits before asking again). */
async function cleanUpMovesOf(ctx: ConductorContext, instanceUuid: string): Promise<void> {
  const row = await store.getInstance(ctx.db, instanceUuid);
  for (const m of await migrations.erroredMovesOf(ctx.db, instanceUuid)) {
    if (await migrations.touchMigration(ctx.db, m.uuid, 'error')) await askToCleanUp(ctx, m, row);
  }
}

/**
 * An instance that was deleted ends its moves: each one under way goes to
 * error and frees what it holds; then the sources of all its moves in error
 * are asked to drop what they kept.
 */
export async function endMovesOf(ctx: ConductorContext, instanceUuid: string): Promise<void> {
  for (let m = await migrations.inProgressOf(ctx.db, instanceUuid); m; m = await migrations.inProgressOf(ctx.db, instanceUuid)) {
    await migrations.updateMigration(ctx.db, m.uuid, { status: 'error' }, [m.status]);
    await ctx.placement.release(m.uuid);
  }
  await cleanUpMovesOf(ctx, instanceUuid);
}

/** migration_cleaned: the source dropped what the move kept; error → failed (a late or repeated one changes nothing). */
export async function migrationCleaned(ctx: ConductorContext, msg: { migration_uuid: string; host: string }): Promise<void> {
  const m = await migrations.getMigration(ctx.db, msg.migration_uuid);
  if (!m || m.source_compute !== msg.host) return;
  if (await migrations.updateMigration(ctx.db, m.uuid, { status: 'failed' }, ['error'])) {
    ctx.log.info({ uuid: m.instance_uuid, migration: m.uuid, host: msg.host }, 'the source dropped what the move kept; migration failed');
  }
}

/** The sweep's step (see above); how many moves it ended or asked about. */
export async function sweepUnfinishedMoves(ctx: ConductorContext, limit: number): Promise<number> {
  let done = 0;
  for (const m of await migrations.inProgressOfDeleted(ctx.db, limit)) {
    try {
      ctx.log.warn({ uuid: m.instance_uuid, migration: m.uuid, status: m.status }, 'ending the move of a deleted server');
      await endMovesOf(ctx, m.instance_uuid);
      done++;
    } catch (e) {
      ctx.log.error({ err: e, migration: m.uuid }, 'ending the move of a deleted server failed');
    }
  }
  const stale = await migrations.staleKeptDisks(ctx.db, ago(ctx, ctx.buildTimeoutMs), ago(ctx, ctx.options.serviceDownTimeMs), limit);
  for (const m of stale) {
    try {
      if (!(await migrations.touchMigration(ctx.db, m.uuid, 'error'))) continue;
      if (await askToCleanUp(ctx, m)) done++;
    } catch (e) {
      ctx.log.error({ err: e, migration: m.uuid }, 'asking to clean up after a move failed');
    }
  }
  return done;
}
