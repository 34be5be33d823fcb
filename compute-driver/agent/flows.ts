/**
 * What the agent does for each action message: Nova's compute manager
 * methods (reboot_instance, stop_instance…), with the same task_state
 * transitions, each reported to the conductor. A flow runs under the
 * instance's lock (the caller holds it) and never throws: failures become a
 * fault, a reverted task_state and an Error event, as Nova's
 * reverts_task_state / wrap_instance_event / wrap_instance_fault do.
 */
import type { Logger } from '../../lib/log.ts';
import type { ComputeCalls, ComputeCasts, RpcClient } from '../rpc.ts';
import { InstanceNotFound, NotSupported, type ComputeDriver, type InstanceRef } from '../driver.ts';
import type {
  InstanceActionName,
  InstanceTarget,
  RebootInstance,
  RebuildInstance,
  StartInstance,
  StopInstance,
  TerminateInstance,
} from '../rpc.ts';
import { HARD_REBOOT_STATES, OFF_POWER_STATES, PowerState, SOFT_REBOOT_STATES, TaskState, VmState } from '../states.ts';
import { AgentStopping, Preempted, faultFrom, now, type Reporter, type UpdateFields } from './reporter.ts';

export interface FlowContext {
  driver: ComputeDriver;
  report: Reporter;
  host: string;
  node: string;
  log: Logger;
  /** Seconds a clean shutdown waits for the guest (compute.shutdown_timeout). */
  shutdownTimeoutSec: number;
  /** Seconds between shutdown requests to the guest meanwhile (Nova's shutdown_retry_interval). */
  shutdownRetryIntervalSec: number;
  /** The agent of another host (a move's other end). */
  peer(host: string): RpcClient<ComputeCasts, ComputeCalls>;
}

/** The flow has already reported this failure (state, fault, build_failed): only the event remains. */
export class ReportedFailure extends Error {
  constructor(readonly reported: unknown) {
    super(reported instanceof Error ? reported.message : String(reported));
    this.name = 'ReportedFailure';
  }
}

/** The guest's power state; NOSTATE when the hypervisor has no such guest (Nova's _get_power_state). */
export async function powerStateOf(driver: ComputeDriver, instance: InstanceRef): Promise<PowerState> {
  try {
    return (await driver.getInfo(instance)).powerState;
  } catch (e) {
    if (e instanceof InstanceNotFound) return PowerState.NOSTATE;
    throw e;
  }
}

const stackOf = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));

export interface ActionSpec {
  instance: InstanceRef;
  requestId: string;
  action: InstanceActionName;
  /** Nova's event name: compute_<method>. */
  event: string;
}

/**
 * Runs `body` as one instance action event: start and finish events, and on
 * failure a fault with task_state back to null (unless the task was
 * preempted, or the body reported the failure itself).
 */
export async function instanceAction(ctx: FlowContext, spec: ActionSpec, body: () => Promise<void>): Promise<void> {
  const { uuid } = spec.instance;
  const base = { uuid, request_id: spec.requestId, action: spec.action, event: spec.event, host: ctx.host };
  const start = now();
  await ctx.report.event({ ...base, start });
  try {
    await body();
    await ctx.report.event({ ...base, start, finish: now(), result: 'Success' });
    return;
  } catch (e) {
    if (e instanceof AgentStopping) {
      ctx.log.warn({ uuid, event: spec.event }, 'agent stopping: action abandoned');
      return;
    }
    const cause = e instanceof ReportedFailure ? e.reported : e;
    if (e instanceof Preempted) {
      ctx.log.info({ uuid, event: spec.event, reason: e.result.reason }, 'task possibly preempted');
    } else if (!(e instanceof ReportedFailure)) {
      ctx.log.error({ err: e, uuid, event: spec.event }, 'instance action failed');
      await quietly(ctx, () => ctx.report.update(uuid, spec.requestId, { task_state: null, fault: faultFrom(e, ctx.host) }));
    }
    await ctx.report.event({ ...base, start, finish: now(), result: 'Error', traceback: stackOf(cause) });
  }
}

/** Runs `fn`, logging instead of throwing (but a stopping agent still stops). */
export async function quietly(ctx: FlowContext, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof AgentStopping) throw e;
    ctx.log.warn({ err: e }, 'ignored failure');
  }
}

/** The update helper of one action: conditional updates throw Preempted when refused. */
const saver = (ctx: FlowContext, instance: InstanceRef, requestId: string) => (fields: UpdateFields) =>
  ctx.report.save(instance.uuid, requestId, fields);

/**
 * Runs a driver call; when it fails, the instance goes to `onError` (error,
 * or back to where it was when the driver cannot do this at all), as Nova's
 * _error_out_instance_on_exception.
 */
async function erroringOut(save: (f: UpdateFields) => Promise<void>, original: VmState, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    await save(e instanceof NotSupported ? { vm_state: original, task_state: null } : { vm_state: VmState.ERROR });
    throw e;
  }
}

export function rebootInstance(ctx: FlowContext, msg: RebootInstance): Promise<void> {
  const { instance, request_id } = msg;
  const soft = msg.reboot_type === 'SOFT';
  const spec = { instance, requestId: request_id, action: 'reboot', event: 'compute_reboot_instance' } as const;
  return instanceAction(ctx, spec, async () => {
    const save = saver(ctx, instance, request_id);
    const power = await powerStateOf(ctx.driver, instance);
    await save({
      task_state: soft ? TaskState.REBOOT_PENDING : TaskState.REBOOT_PENDING_HARD,
      power_state: power,
      expected_task_state: [...(soft ? SOFT_REBOOT_STATES : HARD_REBOOT_STATES)],
    });
    if (power !== PowerState.RUNNING) ctx.log.warn({ uuid: instance.uuid, power }, 'rebooting a guest that is not running');
    await save({
      task_state: soft ? TaskState.REBOOT_STARTED : TaskState.REBOOT_STARTED_HARD,
      expected_task_state: [soft ? TaskState.REBOOT_PENDING : TaskState.REBOOT_PENDING_HARD],
    });
    const fields: UpdateFields = { vm_state: instance.vm_state === VmState.RESCUED ? VmState.RESCUED : VmState.ACTIVE, task_state: null };
    try {
      await ctx.driver.reboot(instance, msg.reboot_type, msg.network_info, msg.block_device_info);
    } catch (e) {
      // A failed reboot of a guest that still runs only leaves a fault.
      if ((await powerStateOf(ctx.driver, instance)) !== PowerState.RUNNING) {
        await save({ vm_state: VmState.ERROR });
        throw e;
      }
      ctx.log.warn({ err: e, uuid: instance.uuid }, 'reboot failed but the guest is running');
      fields.fault = faultFrom(e, ctx.host);
    }
    await save({ ...fields, power_state: await powerStateOf(ctx.driver, instance) });
  });
}

export function stopInstance(ctx: FlowContext, msg: StopInstance): Promise<void> {
  const { instance, request_id } = msg;
  const spec = { instance, requestId: request_id, action: 'stop', event: 'compute_stop_instance' } as const;
  return instanceAction(ctx, spec, async () => {
    const expected: (TaskState | null)[] = [TaskState.POWERING_OFF];
    // Already off: something else may have cleared the task meanwhile.
    if (OFF_POWER_STATES.includes(await powerStateOf(ctx.driver, instance))) expected.push(null);
    const clean = msg.clean_shutdown;
    try {
      await ctx.driver.powerOff(instance, clean ? ctx.shutdownTimeoutSec : 0, clean ? ctx.shutdownRetryIntervalSec : 0);
    } catch (e) {
      // A guest that is gone is as stopped as it gets.
      if (!(e instanceof InstanceNotFound)) throw e;
    }
    await saver(ctx, instance, request_id)({
      power_state: await powerStateOf(ctx.driver, instance),
      vm_state: VmState.STOPPED,
      task_state: null,
      expected_task_state: expected,
    });
  });
}

/** start/pause/unpause/suspend/resume: one driver call, then the new vm_state. */
function simpleAction(
  action: 'start' | 'pause' | 'unpause' | 'suspend' | 'resume',
  expected: TaskState,
  to: VmState,
  call: (driver: ComputeDriver, msg: StartInstance) => Promise<void>,
  errorOut: boolean,
) {
  return (ctx: FlowContext, msg: StartInstance): Promise<void> => {
    const { instance, request_id } = msg;
    const spec = { instance, requestId: request_id, action, event: `compute_${action}_instance` };
    return instanceAction(ctx, spec, async () => {
      const save = saver(ctx, instance, request_id);
      const run = () => call(ctx.driver, msg);
      await (errorOut ? erroringOut(save, instance.vm_state, run) : run());
      await save({ power_state: await powerStateOf(ctx.driver, instance), vm_state: to, task_state: null, expected_task_state: [expected] });
    });
  };
}

export const startInstance = simpleAction('start', TaskState.POWERING_ON, VmState.ACTIVE, (d, m) => d.powerOn(m.instance, m.network_info, m.block_device_info), false);
export const pauseInstance = simpleAction('pause', TaskState.PAUSING, VmState.PAUSED, (d, m) => d.pause(m.instance), false);
export const unpauseInstance = simpleAction('unpause', TaskState.UNPAUSING, VmState.ACTIVE, (d, m) => d.unpause(m.instance), false);
export const suspendInstance = simpleAction('suspend', TaskState.SUSPENDING, VmState.SUSPENDED, (d, m) => d.suspend(m.instance), true);
// Nova restores the vm_state kept at suspend; the API only suspends active instances, so that is active.
export const resumeInstance = simpleAction('resume', TaskState.RESUMING, VmState.ACTIVE, (d, m) => d.resume(m.instance, m.network_info, m.block_device_info), true);

export function terminateInstance(ctx: FlowContext, msg: TerminateInstance): Promise<void> {
  const { instance, request_id } = msg;
  const spec = { instance, requestId: request_id, action: 'delete', event: 'compute_terminate_instance' } as const;
  return instanceAction(ctx, spec, async () => {
    const save = saver(ctx, instance, request_id);
    try {
      await ctx.driver.destroy(instance, msg.network_info, msg.block_device_info);
    } catch (e) {
      await save({ vm_state: VmState.ERROR });
      throw e;
    }
    // Whatever the task_state now: a delete that succeeded always lands.
    await save({ vm_state: VmState.DELETED, task_state: null, power_state: PowerState.NOSTATE, terminated_at: now() });
  });
}

export function rebuildInstance(ctx: FlowContext, msg: RebuildInstance): Promise<void> {
  const { instance, request_id } = msg;
  const spec = { instance, requestId: request_id, action: 'rebuild', event: 'compute_rebuild_instance' } as const;
  return instanceAction(ctx, spec, async () => {
    const save = saver(ctx, instance, request_id);
    const { driver } = ctx;
    const opts = { adminPassword: msg.admin_password, injectedFiles: msg.injected_files };
    await save({ power_state: await powerStateOf(driver, instance), task_state: TaskState.REBUILDING, expected_task_state: [TaskState.REBUILDING] });
    await erroringOut(save, instance.vm_state, async () => {
      if (!driver.rebuild) {
        // Nova's _rebuild_default_impl: power off, destroy, spawn again.
        await driver.powerOff(instance, ctx.shutdownTimeoutSec, ctx.shutdownRetryIntervalSec).catch((e) => {
          if (!(e instanceof InstanceNotFound)) throw e;
        });
        await driver.destroy(instance, msg.network_info, msg.block_device_info, !msg.preserve_ephemeral);
      }
      await save({ task_state: TaskState.REBUILD_BLOCK_DEVICE_MAPPING, expected_task_state: [TaskState.REBUILDING] });
      await save({ task_state: TaskState.REBUILD_SPAWNING, expected_task_state: [TaskState.REBUILD_BLOCK_DEVICE_MAPPING] });
      if (driver.rebuild) await driver.rebuild(instance, msg.image, msg.network_info, msg.block_device_info, { ...opts, preserveEphemeral: msg.preserve_ephemeral });
      else await driver.spawn(instance, msg.image, msg.network_info, msg.block_device_info, opts);
    });
    await save({
      power_state: await powerStateOf(driver, instance),
      vm_state: VmState.ACTIVE,
      task_state: null,
      launched_at: now(),
      expected_task_state: [TaskState.REBUILD_SPAWNING],
    });
    if (instance.vm_state === VmState.STOPPED) {
      // Back to how it was: stopped.
      await save({ vm_state: VmState.ACTIVE, task_state: TaskState.POWERING_OFF });
      const target: InstanceTarget = { uuid: instance.uuid, name: instance.name, vm_state: VmState.ACTIVE, task_state: TaskState.POWERING_OFF };
      await stopInstance(ctx, { instance: target, request_id, clean_shutdown: false });
    }
  });
}
