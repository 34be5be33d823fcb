/**
 * build_and_run_instance: Nova's _do_build_and_run_instance and
 * _build_and_run_instance, as the agent runs them (see rpc.ts for the states
 * reported and what build_failed asks of the conductor).
 */
import { DriverError } from '../driver.ts';
import type { BuildAndRunInstance, Fault } from '../rpc.ts';
import { TaskState, VmState } from '../states.ts';
import { instanceAction, powerStateOf, quietly, ReportedFailure, type FlowContext } from './flows.ts';
import { AgentStopping, Preempted, faultFrom, now, type UpdateFields } from './reporter.ts';

/** Tagged devices on a host whose driver cannot tag them: no host of this kind can build it. */
function checkDeviceTagging(ctx: FlowContext, msg: BuildAndRunInstance): void {
  const tagged = msg.requested_networks.some((n) => n.tag) || msg.block_device_info.block_device_mapping.some((b) => b.tag);
  if (tagged && !ctx.driver.capabilities.supports_device_tagging) {
    throw new DriverError('Attempt to boot guest with tagged devices on host that does not support tagging.', {
      code: 400,
      reschedule: false,
      name: 'BuildAbortException',
    });
  }
}

export function buildAndRunInstance(ctx: FlowContext, msg: BuildAndRunInstance): Promise<void> {
  const { instance, request_id } = msg;
  const { uuid } = instance;
  const spec = { instance, requestId: request_id, action: 'create', event: 'compute_build_and_run_instance' } as const;
  const save = (fields: UpdateFields) => ctx.report.save(uuid, request_id, fields);
  /** A final update: a refusal (the instance is gone or going) changes nothing more. */
  const settle = (fields: UpdateFields) =>
    save(fields).catch((e) => {
      if (!(e instanceof Preempted)) throw e;
    });
  const failed = (reason: string, retryable: boolean, fault: Fault) =>
    ctx.report.buildFailed({ uuid, request_id, host: ctx.host, node: msg.node, reason, retryable, fault, retry: msg.retry ?? null, host_list: msg.host_list ?? [] });
  const destroy = () => quietly(ctx, () => ctx.driver.destroy(instance, msg.network_info, msg.block_device_info));
  /** The instance was deleted (or is being deleted) under the build: release the claim and stop. */
  const disappeared = async (e: Preempted, guest: boolean) => {
    ctx.log.info({ uuid, reason: e.result.reason }, 'instance disappeared during build');
    // Gone, or now another host's: nobody else will remove the guest. (A deleting one gets terminate_instance next.)
    if (guest && (e.result.reason === 'not_found' || e.result.reason === 'not_owner')) await destroy();
    await failed(`Instance disappeared during build: ${e.result.reason}`, false, faultFrom(e, ctx.host));
    throw e;
  };

  return instanceAction(ctx, spec, async () => {
    try {
      // Nova expects task_state scheduling or null; the vm_state check also turns away a duplicate of an old build.
      await save({ vm_state: VmState.BUILDING, task_state: null, expected_task_state: [TaskState.SCHEDULING, null], expected_vm_state: [VmState.BUILDING] });
      checkDeviceTagging(ctx, msg);
      await save({ task_state: TaskState.NETWORKING, expected_task_state: [null] });
      await save({ task_state: TaskState.BLOCK_DEVICE_MAPPING, expected_task_state: [TaskState.NETWORKING] });
      await save({ task_state: TaskState.SPAWNING, expected_task_state: [TaskState.BLOCK_DEVICE_MAPPING] });
      await ctx.driver.spawn(instance, msg.image, msg.network_info, msg.block_device_info, {
        adminPassword: msg.admin_password,
        injectedFiles: msg.injected_files,
      });
    } catch (e) {
      if (e instanceof AgentStopping) throw e;
      if (e instanceof Preempted) return disappeared(e, false);
      ctx.log.warn({ err: e, uuid }, 'build failed');
      // A failed spawn leaves nothing behind (the driver should see to it; this makes sure).
      await destroy();
      const fault = faultFrom(e, ctx.host);
      const reason = e instanceof Error ? e.message : String(e);
      const reschedule = !(e instanceof DriverError) || e.reschedule;
      if (reschedule && msg.retry) {
        await settle({ task_state: TaskState.SCHEDULING, host: null, node: null });
        await failed(reason, true, fault);
      } else {
        await settle({ vm_state: VmState.ERROR, task_state: null, host: null, node: null, fault });
        await failed(reason, false, fault);
      }
      throw new ReportedFailure(e);
    }
    try {
      await save({
        power_state: await powerStateOf(ctx.driver, instance),
        vm_state: VmState.ACTIVE,
        task_state: null,
        launched_at: now(),
        expected_task_state: [TaskState.SPAWNING],
      });
    } catch (e) {
      if (e instanceof Preempted) return disappeared(e, true);
      throw e;
    }
  });
}
