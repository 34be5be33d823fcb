import type { FastifyRequest } from 'fastify';
import { COMPUTE_BINARY, type InstanceTarget, type TaskState, type VmState } from '../../../compute-driver/rpc.ts';
import { conflict, notFound } from '../../../lib/errors.ts';
import { allowsCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUp, isUuidLike } from '../services/state.ts';
import { computeServicesOf, getInstance, groupOfInstance, type HostService, type InstanceRow } from './store.ts';
import { instanceNameOf, type ServerViewOptions } from './view.ts';

export const serverNotFound = (id: string) => notFound(`Instance ${id} could not be found.`);

/**
 * The server `id` as the caller may see it (Nova's compute_api.get with a
 * project-only query): another project's server is a 404 unless the caller
 * is an admin, and so is a deleted one unless `readDeleted` (instance
 * actions from 2.21).
 */
export async function findServer(ctx: ComputeContext, caller: ComputeCaller, id: string, opts: { readDeleted?: boolean } = {}): Promise<InstanceRow> {
  const row = isUuidLike(id) ? await getInstance(ctx.db, id) : undefined;
  if (!row || (row.deleted_at && !opts.readDeleted)) throw serverNotFound(id);
  if (!caller.isAdmin && row.project_id !== caller.projectId) throw serverNotFound(id);
  return row;
}

/** The instance as a message to its agent names it: identity and current states. */
export const instanceTarget = (row: InstanceRow): InstanceTarget => ({
  uuid: row.uuid,
  name: instanceNameOf(row),
  vm_state: row.vm_state as VmState,
  task_state: row.task_state as TaskState | null,
});

/** Nova's policy target of a server: its project (and user). */
export const serverTarget = (row: Pick<InstanceRow, 'project_id' | 'user_id'>) => ({ project_id: row.project_id, user_id: row.user_id });

/** Nova's check_instance_lock: a locked server refuses changes but from admins (409). */
export function assertNotLocked(caller: ComputeCaller, row: InstanceRow): void {
  if (row.locked && !caller.isAdmin) throw conflict(`Instance ${row.uuid} is locked`);
}

/** Nova's raise_http_conflict_for_instance_invalid_state. */
export const invalidState = (action: string, id: string, attr: string, state: unknown) =>
  conflict(`Cannot '${action}' instance ${id} while it is in ${attr} ${state === null || state === undefined ? 'None' : String(state)}`);

export interface StateCheck {
  /** vm_state must be one of these (any when absent). */
  vmStates?: readonly string[];
  /** task_state must be one of these (null: none); Nova's default is [None]; `any` skips the check. */
  taskStates?: readonly (string | null)[] | 'any';
  /** launched_at must be set (Nova's must_have_launched; default true). */
  mustHaveLaunched?: boolean;
}

/** Nova's check_instance_state decorator: a 409 naming the first state at fault. */
export function assertState(action: string, row: InstanceRow, check: StateCheck): void {
  if (check.vmStates && !check.vmStates.includes(row.vm_state)) throw invalidState(action, row.uuid, 'vm_state', row.vm_state);
  const tasks = check.taskStates ?? [null];
  if (tasks !== 'any' && !tasks.includes(row.task_state)) throw invalidState(action, row.uuid, 'task_state', row.task_state);
  if ((check.mustHaveLaunched ?? true) && !row.launched_at) throw invalidState(action, row.uuid, 'launched_at', null);
}

/** Nova's HostStatus of an instance's host: UP, DOWN (forced), MAINTENANCE (disabled), UNKNOWN (no heartbeat), "" (no host/service). */
export function hostStatusOf(ctx: ComputeContext, host: string | null, services: Map<string, HostService>, now = Date.now()): string {
  const service = host ? services.get(host) : undefined;
  if (!service) return '';
  if (service.forced_down) return 'DOWN';
  if (service.disabled) return 'MAINTENANCE';
  return isUp(service, ctx.config, now) ? 'UP' : 'UNKNOWN';
}

/**
 * Which host status the caller may see (Nova's _get_host_status_unknown_only):
 * 'all', 'unknown' (only an UNKNOWN one), or 'none'.
 */
function hostStatusPolicy(ctx: ComputeContext, caller: ComputeCaller, projectId: string): 'all' | 'unknown' | 'none' {
  if (allowsCompute(ctx, caller, 'os_compute_api:servers:show:host_status', { project_id: projectId })) return 'all';
  if (allowsCompute(ctx, caller, 'os_compute_api:servers:show:host_status:unknown-only', { project_id: projectId })) return 'unknown';
  return 'none';
}

export interface ViewFlags {
  /** PUT and rebuild before 2.75. */
  basicOnly?: boolean;
  showKeypair?: boolean;
  showUserData?: boolean;
  /** GET /servers/{id}, PUT and rebuild show server_groups from 2.71. */
  withGroups?: boolean;
}

/**
 * The view options of each row, as Nova's view builder works them out:
 * what the policies let the caller see (extended attributes, flavor extra
 * specs, host status) and the zone and status of each host.
 */
export async function viewOptionsOf(
  ctx: ComputeContext,
  caller: ComputeCaller,
  request: FastifyRequest,
  rows: InstanceRow[],
  flags: ViewFlags = {},
): Promise<ServerViewOptions[]> {
  const hosts = rows.map((r) => r.host).filter((h): h is string => !!h);
  const services = await computeServicesOf(ctx.db, hosts, COMPUTE_BINARY);
  const now = Date.now();
  const v = request.microversion;
  const out: ServerViewOptions[] = [];
  // The policies' answers depend on the row's project only: a list (mostly one project's) asks once per project.
  const allowed = new Map<string, { extendedAttr: boolean; extraSpecs: boolean; hostStatus: 'all' | 'unknown' | 'none' }>();
  const allowedFor = (projectId: string) => {
    let a = allowed.get(projectId);
    if (!a) {
      const target = { project_id: projectId };
      a = {
        extendedAttr: allowsCompute(ctx, caller, 'os_compute_api:os-extended-server-attributes', target),
        extraSpecs: v.atLeast('2.47') && allowsCompute(ctx, caller, 'os_compute_api:servers:show:flavor-extra-specs', target),
        hostStatus: v.atLeast('2.16') && !flags.basicOnly ? hostStatusPolicy(ctx, caller, projectId) : 'none',
      };
      allowed.set(projectId, a);
    }
    return a;
  };
  for (const row of rows) {
    const may = allowedFor(row.project_id);
    const o: ServerViewOptions = {
      isAdmin: caller.isAdmin,
      showExtendedAttr: may.extendedAttr,
      showExtraSpecs: may.extraSpecs,
      zone: (row.host ? services.get(row.host)?.availability_zone : undefined) ?? row.availability_zone,
      basicOnly: flags.basicOnly,
      showKeypair: flags.showKeypair,
      showUserData: flags.showUserData,
    };
    if (v.atLeast('2.16') && !flags.basicOnly) {
      const seen = may.hostStatus;
      const status = hostStatusOf(ctx, row.host, services, now);
      if (seen === 'all' || (seen === 'unknown' && status === 'UNKNOWN')) o.hostStatus = status;
    }
    if (flags.withGroups && v.atLeast('2.71')) {
      const group = await groupOfInstance(ctx.db, row.uuid);
      o.serverGroups = group ? [group] : [];
    }
    out.push(o);
  }
  return out;
}
