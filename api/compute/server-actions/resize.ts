/**
 * resize, migrate, confirmResize, revertResize (Nova's compute API resize,
 * confirm_resize, revert_resize): the checks Nova makes, the migration row
 * and the task_state in one transaction (with the quota check of a resize
 * that grows, under the project's quota lock, as create counts), then the
 * cast: resize_instance to the conductor (which picks the destination),
 * confirm_resize to the source, revert_resize to the destination.
 */
import { randomUUID } from 'node:crypto';
import { computeClient, TaskState } from '../../../compute-driver/rpc.ts';
import { badRequest } from '../../../lib/errors.ts';
import { blockDeviceInfoOf } from '../../../scheduler/conductor/messages.ts';
import * as migrations from '../../../scheduler/conductor/migration-store.ts';
import { migrationFlavor, migrationInfoOf, movingInstanceOf } from '../../../scheduler/conductor/move-messages.ts';
import type { InstanceRow as ConductorRow } from '../../../scheduler/conductor/store.ts';
import { schedulerClient } from '../../../scheduler/rpc.ts';
import type { ImageRow } from '../../image/images/store.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { getFlavor } from '../flavors/store.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import { flavorCopy } from '../servers/create.ts';
import { assertNotLocked, assertState, instanceTarget, invalidState, serverTarget } from '../servers/access.ts';
import { assertImageFitsFlavor } from '../servers/image.ts';
import { instancesWithinQuota } from '../servers/quota.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow, StoredFlavor } from '../servers/store.ts';
import { notReady } from './service.ts';

const MOVABLE = { vmStates: ['active', 'stopped'] };

/** The image the server was built from, as the flavor checks read it (the row's metadata copy). */
const bootImage = (row: InstanceRow): ImageRow =>
  ({ id: row.image_ref ?? '', status: 'active', min_ram: row.image_meta?.min_ram ?? 0, min_disk: row.image_meta?.min_disk ?? 0, size: row.image_meta?.size ?? 0 }) as unknown as ImageRow;

/** The new flavor of a resize, checked as Nova does (400s). */
async function resizeFlavor(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, flavorRef: string): Promise<StoredFlavor> {
  const id = flavorRef.split('/').pop()!;
  const found = await getFlavor(ctx.db, id, { isAdmin: caller.isAdmin, projectId: caller.projectId });
  if (!found || found.disabled) throw badRequest('Unable to locate requested flavor.');
  if (found.flavorid === row.flavor.flavorid) throw badRequest('When resizing, instances must change flavor!');
  const flavor = await flavorCopy(ctx, found);
  if (flavor.root_gb === 0 && row.root_gb !== 0) throw badRequest('Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
  assertImageFitsFlavor(ctx, caller, bootImage(row), flavor);
  return flavor;
}

/**
 * resize (`flavorRef` given) or migrate (null: same flavor, another host):
 * the server must be active or stopped with no task, on a host, and not
 * locked (but for admins). A resize that grows is checked against the
 * cores and ram quotas counting the moves under way (403 over quota).
 */
export async function moveServer(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  flavorRef: string | null,
  diskConfig: 'AUTO' | 'MANUAL' | undefined,
  requestId: string,
): Promise<void> {
  const action = flavorRef === null ? 'migrate' : 'resize';
  if (action === 'resize') authorizeCompute(ctx, caller, 'os_compute_api:servers:resize', serverTarget(row));
  else authorizeCompute(ctx, caller, 'os_compute_api:os-migrate-server:migrate', { project_id: row.project_id });
  assertNotLocked(caller, row);
  assertState(action, row, MOVABLE);
  if (!row.host) throw notReady(row);
  const newFlavor = flavorRef === null ? row.flavor : await resizeFlavor(ctx, caller, row, flavorRef);

  const migration = await ctx.db.transaction(async (trx) => {
    const grows = { cores: Math.max(0, newFlavor.vcpus - row.vcpus), ram: Math.max(0, newFlavor.memory_mb - row.memory_mb) };
    if (grows.cores || grows.ram) {
      await store.lockProjectQuota(trx, row.project_id);
      const limits = { ...(await effectiveQuotas({ ...ctx, db: trx }, row.project_id)), instances: -1 };
      instancesWithinQuota(limits, await store.instanceUsage(trx, row.project_id), grows.cores, grows.ram, 1, 1);
    }
    const changes: Partial<InstanceRow> = { task_state: TaskState.RESIZE_PREP, progress: 0 };
    if (diskConfig) changes.auto_disk_config = diskConfig === 'AUTO';
    const updated = await store.updateInstance(trx, row.uuid, changes, { taskStates: [null], vmStates: MOVABLE.vmStates });
    if (!updated) throw invalidState(action, row.uuid, 'task_state', (await store.getInstance(trx, row.uuid))?.task_state ?? null);
    await store.recordAction(trx, { uuid: row.uuid, action, requestId, userId: caller.userId, projectId: caller.projectId });
    return migrations.insertMigration(trx, {
      uuid: randomUUID(),
      instance_uuid: row.uuid,
      project_id: row.project_id,
      user_id: row.user_id,
      migration_type: action === 'migrate' ? 'migration' : 'resize',
      status: 'pre-migrating',
      source_compute: row.host,
      source_node: row.node,
      old_flavor: row.flavor as unknown as Record<string, unknown>,
      new_flavor: newFlavor as unknown as Record<string, unknown>,
      old_vcpus: row.vcpus,
      new_vcpus: newFlavor.vcpus,
      old_memory_mb: row.memory_mb,
      new_memory_mb: newFlavor.memory_mb,
      old_vm_state: row.vm_state,
      request_id: requestId,
    });
  });
  await schedulerClient(ctx.bus).cast('resize_instance', { instance_uuid: row.uuid, migration_uuid: migration.uuid, request_id: requestId, clean_shutdown: true });
}

/** The resize waiting for confirm or revert: vm_state resized and a finished migration (Nova's MigrationNotFoundByStatus is a 400). */
async function finishedMove(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, action: 'confirmResize' | 'revertResize') {
  const policy = action === 'confirmResize' ? 'confirm_resize' : 'revert_resize';
  authorizeCompute(ctx, caller, `os_compute_api:servers:${policy}`, { project_id: row.project_id });
  assertNotLocked(caller, row);
  assertState(action, row, { vmStates: ['resized'] });
  const m = await migrations.latestInStatus(ctx.db, row.uuid, 'finished');
  if (!m) throw badRequest(`Instance has not been resized.`);
  return m;
}

/** confirmResize: the migration confirming, the action recorded; the source deletes what it kept (204). */
export async function confirmResize(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, requestId: string): Promise<void> {
  const m = await finishedMove(ctx, caller, row, 'confirmResize');
  const confirming = await ctx.db.transaction(async (trx) => {
    const mig = await migrations.updateMigration(trx, m.uuid, { status: 'confirming' }, ['finished']);
    if (!mig) throw badRequest('Instance has not been resized.');
    await store.recordAction(trx, { uuid: row.uuid, action: 'confirmResize', requestId, userId: caller.userId, projectId: caller.projectId });
    return mig;
  });
  await computeClient(ctx.bus, m.source_compute!).cast('confirm_resize', {
    instance: instanceTarget(row),
    request_id: requestId,
    migration: migrationInfoOf(confirming),
    network_info: [],
  });
}

/** revertResize: task_state resize_reverting, the migration reverting; the destination destroys its guest and hands back to the source (202). */
export async function revertResize(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, requestId: string): Promise<void> {
  const m = await finishedMove(ctx, caller, row, 'revertResize');
  const { reverting, updated } = await ctx.db.transaction(async (trx) => {
    const now = await store.updateInstance(trx, row.uuid, { task_state: TaskState.RESIZE_REVERTING }, { taskStates: [null], vmStates: ['resized'] });
    if (!now) throw invalidState('revertResize', row.uuid, 'task_state', (await store.getInstance(trx, row.uuid))?.task_state ?? null);
    const mig = await migrations.updateMigration(trx, m.uuid, { status: 'reverting' }, ['finished']);
    if (!mig) throw badRequest('Instance has not been resized.');
    await store.recordAction(trx, { uuid: row.uuid, action: 'revertResize', requestId, userId: caller.userId, projectId: caller.projectId });
    return { reverting: mig, updated: now };
  });
  const newFlavor = migrationFlavor(m, 'new');
  await computeClient(ctx.bus, m.dest_compute!).cast('revert_resize', {
    instance: movingInstanceOf(updated as unknown as ConductorRow, newFlavor),
    request_id: requestId,
    migration: migrationInfoOf(reverting),
    network_info: [],
    block_device_info: blockDeviceInfoOf(newFlavor),
    old_block_device_info: blockDeviceInfoOf(migrationFlavor(m, 'old')),
  });
}
