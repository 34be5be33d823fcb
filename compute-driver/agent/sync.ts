/**
 * Keeping the conductor's view and the hypervisor aligned, with no database:
 * the view comes from the conductor (instances_on_host).
 * - initInstance: what Nova's _init_instance does for each instance when the
 *   service starts (finish or undo what a previous run left half done).
 * - syncInstance: Nova's _sync_instance_power_state, run periodically: the
 *   hypervisor's power state is reported, and a guest found off (or running)
 *   against its vm_state is stopped through the stop flow, as Nova's periodic
 *   task calls the stop API.
 */
import { randomUUID } from 'node:crypto';
import { DriverError } from '../driver.ts';
import type { InstanceOnHost, InstanceTarget } from '../rpc.ts';
import {
  BUILD_STATES,
  OFF_POWER_STATES,
  PowerState,
  REBUILD_STATES,
  RESIZE_STATES,
  SOFT_REBOOT_STATES,
  TaskState,
  VmState,
  ALLOW_HARD_REBOOT,
  ALLOW_SOFT_REBOOT,
} from '../states.ts';
import { powerStateOf, rebootInstance, startInstance, stopInstance, terminateInstance, unpauseInstance, type FlowContext } from './flows.ts';
import { Preempted, faultFrom, type UpdateFields } from './reporter.ts';
import { endMoveAtStart } from './resize.ts';

/** A request id for what the agent starts by itself (Nova's periodic tasks run under their own context). */
export const newRequestId = () => `req-${randomUUID()}`;

const targetOf = (inst: InstanceOnHost, taskState: TaskState | null = inst.task_state): InstanceTarget => ({
  uuid: inst.uuid,
  name: inst.name,
  vm_state: inst.vm_state,
  task_state: taskState,
});

/** An update that may be refused: the instance moved on meanwhile, and the next sync looks again. */
async function tryUpdate(ctx: FlowContext, inst: InstanceOnHost, fields: UpdateFields): Promise<boolean> {
  try {
    await ctx.report.save(inst.uuid, undefined, fields);
    return true;
  } catch (e) {
    if (!(e instanceof Preempted)) throw e;
    ctx.log.info({ uuid: inst.uuid, reason: e.result.reason }, 'state update refused; instance changed meanwhile');
    return false;
  }
}

const UNFINISHED_IMAGE_TASKS: readonly (TaskState | null)[] = [
  TaskState.IMAGE_SNAPSHOT_PENDING,
  TaskState.IMAGE_PENDING_UPLOAD,
  TaskState.IMAGE_UPLOADING,
  TaskState.IMAGE_SNAPSHOT,
  TaskState.RESIZE_PREP,
];

/** Whether a reboot left half done should be run again, and how (Nova's _retry_reboot and get_reboot_type). */
function retryReboot(inst: InstanceOnHost, power: PowerState): { retry: boolean; type: 'SOFT' | 'HARD' } {
  const task = inst.task_state;
  const type = power === PowerState.RUNNING && task !== null && SOFT_REBOOT_STATES.includes(task) ? 'SOFT' : 'HARD';
  const pendingSoft = task === TaskState.REBOOT_PENDING && ALLOW_SOFT_REBOOT.includes(inst.vm_state);
  const pendingHard = task === TaskState.REBOOT_PENDING_HARD && ALLOW_HARD_REBOOT.includes(inst.vm_state);
  const startedNotRunning = (task === TaskState.REBOOT_STARTED || task === TaskState.REBOOT_STARTED_HARD) && power !== PowerState.RUNNING;
  return { retry: pendingSoft || pendingHard || startedNotRunning, type };
}

/** One instance of this host at agent start (the caller holds its lock). */
export async function initInstance(ctx: FlowContext, inst: InstanceOnHost): Promise<void> {
  const { vm_state: vm, task_state: task } = inst;
  if (vm === VmState.SOFT_DELETED || (vm === VmState.ERROR && task !== TaskState.DELETING)) return;
  if (vm === VmState.DELETED) {
    await ctx.driver.destroy(inst);
    return;
  }
  if (inst.migration && task !== null && RESIZE_STATES.includes(task)) {
    await endMoveAtStart(ctx, { ...inst, migration: inst.migration }, newRequestId());
    return;
  }
  if (vm === VmState.BUILDING || (task !== null && BUILD_STATES.includes(task))) {
    ctx.log.warn({ uuid: inst.uuid }, 'instance was building when the agent stopped; setting it to error');
    const fault = faultFrom(new DriverError('The compute agent restarted while the instance was being built.', { reschedule: false }), ctx.host);
    await tryUpdate(ctx, inst, { vm_state: VmState.ERROR, task_state: null, fault });
    return;
  }
  if ((vm === VmState.ACTIVE || vm === VmState.STOPPED) && task !== null && REBUILD_STATES.includes(task)) {
    await tryUpdate(ctx, inst, { vm_state: VmState.ERROR, task_state: null });
    return;
  }
  if (vm !== VmState.ERROR && UNFINISHED_IMAGE_TASKS.includes(task)) {
    await tryUpdate(ctx, inst, { task_state: null });
    inst = { ...inst, task_state: null };
  }
  if (task === TaskState.DELETING) {
    await terminateInstance(ctx, { instance: targetOf(inst), request_id: newRequestId() });
    return;
  }

  const power = await powerStateOf(ctx.driver, inst);
  const reboot = retryReboot(inst, power);
  if (reboot.retry) {
    let taskState = inst.task_state;
    // A soft reboot that got as far as shutting the guest down has become a hard one.
    if (taskState !== null && SOFT_REBOOT_STATES.includes(taskState) && reboot.type === 'HARD') {
      taskState = TaskState.REBOOT_PENDING_HARD;
      if (!(await tryUpdate(ctx, inst, { task_state: taskState }))) return;
    }
    await rebootInstance(ctx, { instance: targetOf(inst, taskState), request_id: newRequestId(), reboot_type: reboot.type });
    return;
  }
  const clearable: (TaskState | null)[] = [TaskState.REBOOT_STARTED, TaskState.REBOOT_STARTED_HARD, TaskState.PAUSING, TaskState.UNPAUSING];
  if (power === PowerState.RUNNING && clearable.includes(inst.task_state)) {
    await tryUpdate(ctx, inst, { task_state: null, vm_state: VmState.ACTIVE, power_state: power });
    return;
  }
  if (power === PowerState.PAUSED && inst.task_state === TaskState.UNPAUSING) {
    await unpauseInstance(ctx, { instance: targetOf(inst), request_id: newRequestId() });
    return;
  }
  if (inst.task_state === TaskState.POWERING_OFF) {
    await stopInstance(ctx, { instance: targetOf(inst), request_id: newRequestId(), clean_shutdown: true });
    return;
  }
  if (inst.task_state === TaskState.POWERING_ON) {
    await startInstance(ctx, { instance: targetOf(inst), request_id: newRequestId() });
    return;
  }
  if (power !== inst.power_state) await tryUpdate(ctx, inst, { power_state: power });
}

/**
 * Stops an instance whose guest is not in the state its vm_state says, as
 * Nova's sync calls compute_api.stop / force_stop: task_state powering-off
 * (only if nothing else started meanwhile), then the stop flow.
 */
async function stopFromSync(ctx: FlowContext, inst: InstanceOnHost): Promise<void> {
  const requestId = newRequestId();
  try {
    await ctx.report.save(inst.uuid, requestId, {
      task_state: TaskState.POWERING_OFF,
      expected_task_state: [null],
      expected_vm_state: [inst.vm_state],
    });
  } catch (e) {
    if (!(e instanceof Preempted)) throw e;
    ctx.log.info({ uuid: inst.uuid, reason: e.result.reason }, 'not stopping: instance changed meanwhile');
    return;
  }
  await stopInstance(ctx, { instance: targetOf(inst, TaskState.POWERING_OFF), request_id: requestId, clean_shutdown: true });
}

const isOff = (p: PowerState) => p === PowerState.SHUTDOWN || p === PowerState.CRASHED;

/** One instance in a power-state sync (the caller holds its lock). */
export async function syncInstance(ctx: FlowContext, inst: InstanceOnHost): Promise<void> {
  if (inst.task_state !== null) return; // a task is under way: the next sync looks again
  const { uuid } = inst;
  const power = await powerStateOf(ctx.driver, inst);
  if (power !== inst.power_state) {
    ctx.log.info({ uuid, db_power_state: inst.power_state, vm_power_state: power }, 'power state differs from the hypervisor; updating');
    if (!(await tryUpdate(ctx, inst, { power_state: power }))) return;
  }
  switch (inst.vm_state) {
    case VmState.ACTIVE:
      if (isOff(power)) {
        // Look again before slamming through a stop.
        if (!isOff(await powerStateOf(ctx.driver, inst))) return;
        ctx.log.warn({ uuid, vm_power_state: power }, 'instance shut down by itself; stopping it');
        await stopFromSync(ctx, inst);
      } else if (power === PowerState.SUSPENDED) {
        ctx.log.warn({ uuid }, 'instance is suspended unexpectedly; stopping it');
        await stopFromSync(ctx, inst);
      } else if (power === PowerState.PAUSED) {
        ctx.log.warn({ uuid }, 'instance is paused unexpectedly; ignored');
      } else if (power === PowerState.NOSTATE) {
        ctx.log.warn({ uuid }, 'instance is unexpectedly not found on the hypervisor; ignored');
      }
      return;
    case VmState.STOPPED:
      if (!OFF_POWER_STATES.includes(power)) {
        ctx.log.warn({ uuid, vm_power_state: power }, 'stopped instance is running; stopping it');
        await stopFromSync(ctx, inst);
      }
      return;
    case VmState.PAUSED:
      if (isOff(power)) {
        ctx.log.warn({ uuid }, 'paused instance shut down by itself; stopping it');
        await stopFromSync(ctx, inst);
      }
      return;
    case VmState.SOFT_DELETED:
    case VmState.DELETED:
      if (power !== PowerState.NOSTATE && power !== PowerState.SHUTDOWN) ctx.log.warn({ uuid }, 'instance is not (soft-)deleted on the hypervisor');
      return;
    default:
      // building, rescued, resized, suspended, error: left alone, as Nova does.
      return;
  }
}
