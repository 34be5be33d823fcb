/**
 * The conductor's side of the agents' messages (topic `conductor`,
 * ConductorServer in compute-driver/rpc.ts): what the compute hosts report
 * goes into the database here, and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import {
  computeClient,
  VmState,
  type BuildFailed,
  type ConductorServer,
  type InstanceActionEvent,
  type InstanceOnHost,
  type InstanceUpdate,
  type InstanceUpdateResult,
  type ReconcileReport,
  type ServiceUpdate,
  type TaskState,
  RESIZE_STATES,
} from '../../compute-driver/rpc.ts';
import { isPostgresForeignKeyViolation } from '../../lib/db/index.ts';
import { recordNodeReport } from '../compute-nodes/service.ts';
import { getNode, heartbeat } from '../compute-nodes/store.ts';
import { reschedule } from './build.ts';
import { inProgressOf } from './migration-store.ts';
import { migrationInfoOf } from './move-messages.ts';
import { endMovesOf, migrationCleaned } from './move-cleanup.ts';
import { moveUpdate } from './resize.ts';
import { ago, type ConductorContext } from './context.ts';
import { instanceName } from './messages.ts';
import * as store from './store.ts';

/**
 * service_update: the service's heartbeat (its row is created on the first),
 * then its node, resource provider and inventory from the resources
 * reported. A clean stop records nothing: the service counts as down once
 * service_down_time has passed without a heartbeat.
 */
export async function serviceUpdate(ctx: ConductorContext, s: ServiceUpdate): Promise<void> {
  if (s.event === 'stop') {
    ctx.log.info({ host: s.host }, 'compute service stopped');
    return;
  }
  await heartbeat(ctx.db, s.host, s.binary, ctx.now());
  const r = s.resources;
  await recordNodeReport(
    ctx.db,
    ctx.placement,
    {
      host: s.host,
      binary: s.binary,
      hypervisorHostname: s.node,
      hypervisorType: r.hypervisor_type,
      hypervisorVersion: r.hypervisor_version,
      vcpus: r.vcpus,
      memoryMb: r.memory_mb,
      localGb: r.local_gb,
      cpuInfo: r.cpu_info as unknown as Record<string, unknown>,
      supportedInstances: r.supported_instances,
    },
    ctx.policy,
  );
  if (s.event === 'start') ctx.log.info({ host: s.host, node: s.node, driver: s.driver, rpc_version: s.rpc_version }, 'compute service started');
}

/** Why an update that changed nothing was refused (rpc.ts InstanceUpdate, in its order); null when nothing refuses it any more. */
export function refusal(row: store.InstanceRow | undefined, u: InstanceUpdate, owners: readonly string[] = []): InstanceUpdateResult | null {
  const states = { vm_state: row?.vm_state as VmState | undefined, task_state: (row?.task_state ?? null) as TaskState | null };
  if (!row || row.deleted_at || row.vm_state === VmState.DELETED) return { applied: false, reason: 'not_found', ...states };
  if (row.host ? row.host !== u.from_host && !owners.includes(row.host) : store.isWaitingForHost(row)) return { applied: false, reason: 'not_owner', ...states };
  if (store.alreadyApplied(row, u.from_host, u.seq)) return { applied: true };
  if (u.expected_task_state && !u.expected_task_state.includes(states.task_state)) {
    return { applied: false, reason: states.task_state === 'deleting' ? 'deleting' : 'unexpected_task_state', ...states };
  }
  if (u.expected_vm_state && !u.expected_vm_state.includes(states.vm_state!)) return { applied: false, reason: 'unexpected_vm_state', ...states };
  return null;
}

/**
 * instance_update: one conditional UPDATE (store.applyInstanceUpdate). When
 * it changes nothing, the row read afterwards says why; should the row have
 * changed in between so that nothing refuses any more, the update is tried
 * again. An instance that became deleted releases its allocations (and
 * ends its moves). The update of a move's step goes to resize.ts.
 */
export async function instanceUpdate(ctx: ConductorContext, u: InstanceUpdate): Promise<InstanceUpdateResult> {
  if (u.migration) return moveUpdate(ctx, { ...u, migration: u.migration });
  for (let attempt = 0; ; attempt++) {
    const row = await store.applyInstanceUpdate(ctx.db, u, ctx.now());
    if (row) {
      if (row.vm_state === VmState.DELETED) {
        await ctx.placement.release(row.uuid);
        await endMovesOf(ctx, row.uuid);
        ctx.log.info({ uuid: row.uuid, host: u.from_host }, 'instance deleted');
      }
      return { applied: true };
    }
    const current = await store.getInstance(ctx.db, u.uuid);
    const refused = refusal(current, u);
    if (refused) return refused;
    if (attempt >= 2) return { applied: false, reason: 'unexpected_task_state', vm_state: current?.vm_state as VmState, task_state: current?.task_state as TaskState | null };
  }
}

/** instance_action_event: upserted by (instance, request id, event); an event of an unknown instance is dropped. */
export async function instanceActionEvent(ctx: ConductorContext, e: InstanceActionEvent): Promise<void> {
  try {
    await store.upsertActionEvent(ctx.db, {
      uuid: e.uuid,
      requestId: e.request_id,
      action: e.action,
      event: e.event,
      host: e.host,
      start: e.start,
      finish: e.finish ?? null,
      result: e.result ?? null,
      traceback: e.traceback ?? null,
    });
  } catch (err) {
    if (!isPostgresForeignKeyViolation(err)) throw err;
    ctx.log.warn({ uuid: e.uuid, event: e.event }, 'event of an unknown instance dropped');
  }
}

/**
 * build_failed: the claim on the failed host is released (unless the
 * instance is, after all, still placed there); a retryable failure is
 * rescheduled by whichever conductor gets the instance's lease.
 */
export async function buildFailed(ctx: ConductorContext, b: BuildFailed): Promise<void> {
  const row = await store.getInstance(ctx.db, b.uuid);
  const gone = !row || !!row.deleted_at || row.vm_state === VmState.DELETED;
  const node = await getNode(ctx.db, b.host, b.node);
  if (gone) await ctx.placement.release(b.uuid);
  else if (node && row.host !== b.host) await ctx.placement.releaseOn(b.uuid, node.uuid);
  ctx.log.info({ uuid: b.uuid, host: b.host, retryable: b.retryable, reason: b.reason }, 'build failed on its host');
  if (!b.retryable || gone) return;
  const [leased] = await store.leaseForScheduling(ctx.db, [b.uuid], ctx.owner, ctx.now(), ago(ctx, ctx.buildTimeoutMs));
  if (!leased) return;
  // The row's retry state was recorded when the build was cast; the agent's copy is the same unless the row lost it.
  if (!leased.request_spec.retry && b.retry) leased.request_spec = { ...leased.request_spec, retry: b.retry };
  await reschedule(ctx, leased, b.request_id, b.host_list ?? [], b.reason);
}

/**
 * reconcile_report: logged; a guest the hypervisor runs whose instance is
 * deleted is terminated (the agent destroys it and its report changes
 * nothing more).
 */
export async function reconcileReport(ctx: ConductorContext, r: ReconcileReport): Promise<void> {
  ctx.log.info({ host: r.host, adopted: r.adopted.length, missing: r.missing, unknown: r.unknown.map((g) => g.uuid) }, 'compute host reconciled');
  const deleted = await store.deletedAmong(ctx.db, r.unknown.map((g) => g.uuid));
  for (const row of deleted) {
    ctx.log.warn({ uuid: row.uuid, host: r.host }, 'terminating the guest of a deleted instance');
    await computeClient(ctx.bus, r.host).cast('terminate_instance', {
      instance: { uuid: row.uuid, name: r.unknown.find((g) => g.uuid === row.uuid)?.name ?? instanceName(row), vm_state: VmState.DELETED, task_state: null },
      request_id: `req-${randomUUID()}`,
    });
  }
}

/** instances_on_host, with the move under way of those in a resize task state. */
async function instancesOnHost(ctx: ConductorContext, host: string): Promise<InstanceOnHost[]> {
  const rows = await store.instancesOnHost(ctx.db, host, instanceName);
  for (const r of rows) {
    if (r.task_state === null || !RESIZE_STATES.includes(r.task_state)) continue;
    const m = await inProgressOf(ctx.db, r.uuid);
    if (m) r.migration = migrationInfoOf(m);
  }
  return rows;
}

export function conductorHandlers(ctx: ConductorContext): ConductorServer {
  return {
    service_update: (s) => serviceUpdate(ctx, s),
    instance_update: (u) => instanceUpdate(ctx, u),
    instance_action_event: (e) => instanceActionEvent(ctx, e),
    build_failed: (b) => buildFailed(ctx, b),
    instances_on_host: ({ host }) => instancesOnHost(ctx, host),
    reconcile_report: (r) => reconcileReport(ctx, r),
    migration_cleaned: (m) => migrationCleaned(ctx, m),
  };
}
