/**
 * Resize and cold migration as the agents run them (rpc.ts ResizeInstance …
 * FinishRevertResize; Nova's resize_instance, finish_resize, confirm_resize,
 * revert_resize, finish_revert_resize). Each update names the migration, so
 * the conductor accepts it from either host of the move and moves the
 * migration's status (and the flavor, and the allocations) with it. The
 * source hands the instance to the destination (host/node) when its disks
 * have moved, the destination hands it back on a revert.
 */
import { DriverError, NotSupported } from '../driver.ts';
import type {
  ConfirmResize,
  FinishResize,
  FinishRevertResize,
  InstanceActionName,
  InstanceOnHost,
  MigrationInfo,
  MigrationStatus,
  ResizeInstance,
  RevertResize,
} from '../rpc.ts';
import { TaskState, VmState } from '../states.ts';
import { instanceAction, powerStateOf, ReportedFailure, type FlowContext } from './flows.ts';
import { AgentStopping, Preempted, faultFrom, type UpdateFields } from './reporter.ts';

const actionOf = (m: MigrationInfo): InstanceActionName => (m.migration_type === 'migration' ? 'migrate' : 'resize');
/** Where a move that ended leaves the instance: stopped if it was, else active. */
const settledState = (m: MigrationInfo) => (m.old_vm_state === VmState.STOPPED ? VmState.STOPPED : VmState.ACTIVE);

interface MoveStep {
  instance: { uuid: string; name: string };
  request_id: string;
  migration: MigrationInfo;
}

/**
 * Runs one step of a move as an instance action event; a failure sets
 * `onError` (with the fault) and the migration to error. A refused update
 * (the task was preempted: deleted, reset, ended by the sweep) changes
 * nothing more; the conductor settles the migration.
 */
function moveStep(ctx: FlowContext, msg: MoveStep, event: string, action: InstanceActionName, body: (save: (f: UpdateFields, status?: MigrationStatus) => Promise<void>) => Promise<void>, onError: (m: MigrationInfo) => UpdateFields) {
  const { instance, request_id, migration } = msg;
  const save = (fields: UpdateFields, status?: MigrationStatus) =>
    ctx.report.save(instance.uuid, request_id, { ...fields, ...(status ? { migration: { uuid: migration.uuid, status } } : {}) });
  return instanceAction(ctx, { instance, requestId: request_id, action, event }, async () => {
    try {
      await body(save);
    } catch (e) {
      if (e instanceof ReportedFailure || e instanceof Preempted || e instanceof AgentStopping) throw e;
      ctx.log.warn({ err: e, uuid: instance.uuid, migration: migration.uuid, event }, 'move step failed');
      await save({ ...onError(migration), task_state: null, fault: faultFrom(e, ctx.host) }, 'error').catch(() => undefined);
      throw new ReportedFailure(e);
    }
  });
}

/** On the source: power off and move the disks, hand the instance to the destination, cast finish_resize there. */
export function resizeInstance(ctx: FlowContext, msg: ResizeInstance): Promise<void> {
  const m = msg.migration;
  // Nothing moved when this fails: the instance goes back to how it was (Nova's InstanceFaultRollback).
  return moveStep(ctx, msg, 'compute_resize_instance', actionOf(m), async (save) => {
    const { driver } = ctx;
    await save({ task_state: TaskState.RESIZE_MIGRATING, expected_task_state: [TaskState.RESIZE_PREP] }, 'migrating');
    if (!driver.migrateDiskAndPowerOff || !driver.finishMigration) throw new NotSupported('resize');
    const timeout = msg.clean_shutdown ? ctx.shutdownTimeoutSec : 0;
    const diskInfo = await driver.migrateDiskAndPowerOff(msg.instance, m, msg.network_info, msg.block_device_info, timeout, ctx.shutdownRetryIntervalSec);
    await save(
      {
        task_state: TaskState.RESIZE_MIGRATED,
        host: m.dest_compute,
        node: m.dest_node,
        power_state: await powerStateOf(driver, msg.instance),
        expected_task_state: [TaskState.RESIZE_MIGRATING],
      },
      'post-migrating',
    );
    await ctx.peer(m.dest_compute).cast('finish_resize', {
      request_id: msg.request_id,
      instance: { ...msg.instance, flavor: m.new_flavor, task_state: TaskState.RESIZE_MIGRATED },
      migration: m,
      image: msg.image,
      disk_info: diskInfo,
      network_info: msg.network_info,
      block_device_info: msg.new_block_device_info,
    });
  }, (mig) => ({ vm_state: mig.old_vm_state as VmState }));
}

/** On the destination: make the guest with the new flavor; vm_state resized (VERIFY_RESIZE). */
export function finishResize(ctx: FlowContext, msg: FinishResize): Promise<void> {
  const m = msg.migration;
  return moveStep(ctx, msg, 'compute_finish_resize', actionOf(m), async (save) => {
    const { driver } = ctx;
    await save({ task_state: TaskState.RESIZE_FINISH, expected_task_state: [TaskState.RESIZE_MIGRATED] });
    if (!driver.finishMigration) throw new NotSupported('resize');
    const resized = m.old_flavor.flavorid !== m.new_flavor.flavorid;
    await driver.finishMigration(msg.instance, m, msg.disk_info, msg.image, msg.network_info, msg.block_device_info, resized, m.old_vm_state !== VmState.STOPPED);
    await save(
      { vm_state: VmState.RESIZED, task_state: null, power_state: await powerStateOf(driver, msg.instance), expected_task_state: [TaskState.RESIZE_FINISH] },
      'finished',
    );
  }, () => ({ vm_state: VmState.ERROR }));
}

/** On the source: delete what was kept for a revert; the instance is active (or stopped) on the destination. */
export function confirmResize(ctx: FlowContext, msg: ConfirmResize): Promise<void> {
  const m = msg.migration;
  return moveStep(ctx, msg, 'compute_confirm_resize', 'confirmResize', async (save) => {
    if (!ctx.driver.confirmMigration) throw new NotSupported('confirming a resize');
    await ctx.driver.confirmMigration(msg.instance, m, msg.network_info);
    await save({ vm_state: settledState(m), task_state: null, expected_vm_state: [VmState.RESIZED] }, 'confirmed');
  }, () => ({ vm_state: VmState.ERROR }));
}

/** On the destination: destroy the resized guest, hand the instance back to the source, cast finish_revert_resize there. */
export function revertResize(ctx: FlowContext, msg: RevertResize): Promise<void> {
  const m = msg.migration;
  return moveStep(ctx, msg, 'compute_revert_resize', 'revertResize', async (save) => {
    await ctx.driver.destroy(msg.instance, msg.network_info, msg.block_device_info, true);
    await save({ host: m.source_compute, node: m.source_node, expected_task_state: [TaskState.RESIZE_REVERTING] }, 'reverting');
    await ctx.peer(m.source_compute).cast('finish_revert_resize', {
      request_id: msg.request_id,
      instance: { ...msg.instance, flavor: m.old_flavor },
      migration: m,
      network_info: msg.network_info,
      block_device_info: msg.old_block_device_info,
    });
  }, () => ({ vm_state: VmState.ERROR }));
}

/** On the source: bring the old guest back; the instance is active (or stopped) with its old flavor. */
export function finishRevertResize(ctx: FlowContext, msg: FinishRevertResize): Promise<void> {
  const m = msg.migration;
  return moveStep(ctx, msg, 'compute_finish_revert_resize', 'revertResize', async (save) => {
    const { driver } = ctx;
    if (!driver.finishRevertMigration) throw new NotSupported('reverting a resize');
    await driver.finishRevertMigration(msg.instance, m, msg.network_info, msg.block_device_info, m.old_vm_state !== VmState.STOPPED);
    await save(
      { vm_state: settledState(m), task_state: null, power_state: await powerStateOf(driver, msg.instance), expected_task_state: [TaskState.RESIZE_REVERTING] },
      'reverted',
    );
  }, () => ({ vm_state: VmState.ERROR }));
}

/**
 * A move this agent was part of when it stopped (Nova's _init_instance for
 * the resize task states): one that had not reached the hosts (resize_prep)
 * goes back as it was; one half way is put in error, its disks possibly half
 * moved. Either way the migration goes to error, and the conductor settles
 * its claims by where the instance is.
 */
export async function endMoveAtStart(ctx: FlowContext, inst: InstanceOnHost & { migration: MigrationInfo }, requestId: string): Promise<void> {
  const m = inst.migration;
  const prep = inst.task_state === TaskState.RESIZE_PREP;
  const why = prep ? 'The compute agent restarted before the resize started.' : `The compute agent restarted during the resize (${inst.task_state}).`;
  ctx.log.warn({ uuid: inst.uuid, migration: m.uuid, task_state: inst.task_state }, 'ending a move left by the previous run of the agent');
  await ctx.report
    .save(inst.uuid, requestId, {
      vm_state: prep ? (m.old_vm_state as VmState) : VmState.ERROR,
      task_state: null,
      fault: faultFrom(new DriverError(why, { reschedule: false }), ctx.host),
      expected_task_state: [inst.task_state],
      migration: { uuid: m.uuid, status: 'error' },
    })
    .catch((e) => {
      if (!(e instanceof Preempted)) throw e;
    });
}
