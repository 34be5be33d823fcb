/**
 * Resize and cold migration, the conductor's side (Nova's
 * ComputeTaskManager.migrate_server / MigrationTask, and what the conductor
 * does with the agents' updates of a move).
 *
 * Placement, as Nova's move allocations: when a destination is chosen, the
 * instance's claim (the old flavor, on the source) passes to the migration's
 * uuid and the instance claims the new flavor on the destination, in one
 * transaction (placement.claimMove); the source may be the destination
 * (compute.allow_resize_to_same_host) and then holds both. When the move
 * ends:
 * - confirmed: the migration's claim is freed;
 * - reverted: it goes back to the instance (replacing the destination's);
 * - error: back to the instance if the instance is still on the source,
 *   else freed (the instance keeps what it holds where it now is).
 * The instance's flavor columns switch with the migration's status in the
 * same transaction as the agent's update: new at finished, old at reverted.
 */
import { computeClient, type InstanceUpdate, type InstanceUpdateResult, type MigrationStatus } from '../../compute-driver/rpc.ts';
import { TaskState, VmState } from '../../compute-driver/states.ts';
import { scheduleInstances } from '../schedule.ts';
import { NoValidHost } from '../select.ts';
import type { ConductorContext } from './context.ts';
import { refusal } from './handlers.ts';
import { blockDeviceInfoOf, imageMetaOf, requestSpecOf } from './messages.ts';
import * as migrations from './migration-store.ts';
import type { MigrationRow } from './migration-store.ts';
import { flavorColumns, migrationFlavor, migrationInfoOf, movingInstanceOf } from './move-messages.ts';
import * as store from './store.ts';
import type { ResizeInstanceRequest } from '../rpc.ts';

/** Nova's event of the conductor's part of a move. */
const MIGRATE_EVENT = 'conductor_migrate_server';
const stackOf = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));
const actionOf = (m: MigrationRow) => (m.migration_type === 'migration' ? 'migrate' : 'resize');

/** Records the conductor's event of the move: its start (no outcome), then its finish with the result. */
async function event(ctx: ConductorContext, m: MigrationRow, name: string, outcome?: { error?: unknown }): Promise<void> {
  const now = ctx.now();
  await store
    .upsertActionEvent(ctx.db, {
      uuid: m.instance_uuid,
      requestId: m.request_id,
      action: actionOf(m),
      event: name,
      host: ctx.host,
      start: now,
      ...(outcome
        ? { finish: now, result: outcome.error === undefined ? 'Success' : 'Error', traceback: outcome.error === undefined ? null : stackOf(outcome.error) }
        : {}),
    })
    .catch((e) => ctx.log.warn({ err: e, uuid: m.instance_uuid }, 'could not record the instance action event'));
}

/** Frees or returns what the migration holds once the move is over (see above). */
export async function settleAllocations(ctx: ConductorContext, m: MigrationRow, status: MigrationStatus, instanceHost: string | null): Promise<void> {
  const ended = status === 'error' || status === 'failed';
  const giveBack = status === 'reverted' || (ended && instanceHost === m.source_compute);
  if (giveBack) {
    if ((await ctx.placement.allocations(m.uuid)).length) await ctx.placement.moveAllocations(m.uuid, m.instance_uuid);
  } else if (status === 'confirmed' || ended) {
    await ctx.placement.release(m.uuid);
  }
}

/**
 * Puts an instance whose move never reached its hosts back as it was:
 * migration error, task_state null, vm_state as before, a fault; the claims
 * back to the instance. Only while the instance is still in resize_prep
 * under this migration.
 */
export async function abortMove(ctx: ConductorContext, m: MigrationRow, reason: string, cause: unknown): Promise<boolean> {
  const now = ctx.now();
  const fault: store.StoredFault = { code: 500, message: reason.slice(0, 255), details: stackOf(cause), created: now.toISOString(), host: null };
  const aborted = await ctx.db.transaction(async (trx) => {
    const mig = await migrations.updateMigration(trx, m.uuid, { status: 'error' }, ['pre-migrating']);
    if (!mig) return false;
    await store.revertMoveTask(trx, m.instance_uuid, m.old_vm_state, fault, now);
    return true;
  });
  if (aborted) {
    const row = await store.getInstance(ctx.db, m.instance_uuid);
    await settleAllocations(ctx, m, 'error', row?.host ?? m.source_compute);
  }
  return aborted;
}

/** resize_instance (topic scheduler): choose and claim a destination, then hand the move to the source host. */
export async function resizeInstance(ctx: ConductorContext, req: ResizeInstanceRequest): Promise<void> {
  const m = await migrations.getMigration(ctx.db, req.migration_uuid);
  const row = await store.getInstance(ctx.db, req.instance_uuid);
  if (!m || m.status !== 'pre-migrating' || m.dest_compute || !row || row.deleted_at || row.task_state !== TaskState.RESIZE_PREP) {
    ctx.log.info({ uuid: req.instance_uuid, migration: req.migration_uuid, status: m?.status }, 'resize not waiting for a destination; skipped');
    return;
  }
  await event(ctx, m, MIGRATE_EVENT);
  const newFlavor = migrationFlavor(m, 'new');
  const sameHostOk = m.migration_type === 'resize' && ctx.allowResizeToSameHost;
  const spec = requestSpecOf({ ...row, ...flavorColumns(m, 'new') }, await store.groupOf(ctx.db, row.uuid), [row.uuid], sameHostOk || !row.host ? [] : [row.host]);
  let dest;
  try {
    const claimMove = (consumer: string, provider: string, resources: Parameters<typeof ctx.placement.claimMove>[3]) =>
      ctx.placement.claimMove(consumer, m.uuid, provider, resources);
    dest = (await scheduleInstances(ctx.db, ctx.placement, spec, ctx.options, ctx.select, claimMove))[0][0];
  } catch (e) {
    const message = e instanceof NoValidHost ? e.message : `The resize could not be scheduled: ${e instanceof Error ? e.name : String(e)}`;
    ctx.log.warn({ uuid: row.uuid, migration: m.uuid, reason: message }, 'resize not scheduled');
    await abortMove(ctx, m, message, e);
    await event(ctx, m, MIGRATE_EVENT, { error: e });
    return;
  }
  const placed = await migrations.updateMigration(ctx.db, m.uuid, { dest_compute: dest.host, dest_node: dest.nodename }, ['pre-migrating']);
  if (!placed) {
    // The sweep (or a delete) ended the move meanwhile and settled the claims of the migration; the instance's new claim goes with it.
    await ctx.placement.releaseOn(row.uuid, dest.providerUuid);
    await event(ctx, m, MIGRATE_EVENT, { error: new Error('The move was ended while it was scheduled.') });
    return;
  }
  const image = imageMetaOf(row, await ctx.imageEndpoint(), await ctx.imageToken?.(row));
  try {
    await computeClient(ctx.bus, m.source_compute!).cast('resize_instance', {
      request_id: m.request_id,
      instance: movingInstanceOf(row, migrationFlavor(m, 'old')),
      migration: migrationInfoOf(placed),
      image,
      network_info: [],
      block_device_info: blockDeviceInfoOf(migrationFlavor(m, 'old')),
      new_block_device_info: blockDeviceInfoOf(newFlavor),
      clean_shutdown: req.clean_shutdown,
    });
  } catch (e) {
    ctx.log.error({ err: e, uuid: row.uuid, host: m.source_compute }, 'could not cast resize_instance; the sweep will end the move');
    await event(ctx, m, MIGRATE_EVENT, { error: e });
    return;
  }
  ctx.log.info({ uuid: row.uuid, migration: m.uuid, source: m.source_compute, dest: dest.host }, 'resize cast to the source host');
  await event(ctx, m, MIGRATE_EVENT, {});
}

/**
 * instance_update of a move's step: accepted from the migration's source or
 * destination; the update, the migration's status and (at finished or
 * reverted) the instance's flavor in one transaction; then the claims.
 */
export async function moveUpdate(ctx: ConductorContext, u: InstanceUpdate & { migration: NonNullable<InstanceUpdate['migration']> }): Promise<InstanceUpdateResult> {
  const m = await migrations.getMigration(ctx.db, u.migration.uuid);
  const current = await store.getInstance(ctx.db, u.uuid);
  if (!m || m.instance_uuid !== u.uuid) return refusal(current, u) ?? { applied: false, reason: 'not_owner' };
  const owners = [m.source_compute, m.dest_compute].filter((h): h is string => !!h);
  if (!owners.includes(u.from_host)) return { applied: false, reason: 'not_owner', vm_state: current?.vm_state as VmState, task_state: current?.task_state as TaskState | null };
  const status = u.migration.status;
  const row = await ctx.db.transaction(async (trx) => {
    const applied = await store.applyInstanceUpdate(trx, u, ctx.now(), owners);
    if (!applied) return undefined;
    await migrations.updateMigration(trx, m.uuid, { status });
    if (status === 'finished' || status === 'reverted') await store.setFlavor(trx, u.uuid, flavorColumns(m, status === 'finished' ? 'new' : 'old'));
    return applied;
  });
  if (!row) return refusal(await store.getInstance(ctx.db, u.uuid), u, owners) ?? { applied: false, reason: 'unexpected_task_state' };
  await settleAllocations(ctx, m, status, row.host);
  ctx.log.info({ uuid: u.uuid, migration: m.uuid, status, host: u.from_host }, 'move step');
  return { applied: true };
}
