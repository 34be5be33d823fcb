import { computeClient, type ComputeCalls, type RpcClient, type ComputeCasts } from '../../../compute-driver/rpc.ts';
import { BusRemoteError, BusTimeoutError } from '../../../lib/bus/bus.ts';
import { conflict, notFound, notImplemented } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { assertNotLocked, assertState, instanceTarget, invalidState, serverTarget, type StateCheck } from '../servers/access.ts';
import * as store from '../servers/store.ts';
import type { InstanceRow } from '../servers/store.ts';

type Compute = RpcClient<ComputeCasts, ComputeCalls>;

/** Nova's InstanceNotReady: the instance has no host yet (409). */
export const notReady = (row: InstanceRow) => conflict(`Instance ${row.uuid} is not ready`);

/** vm_states (vm_states.ALLOW_HARD_REBOOT) and task_states (task_states.ALLOW_REBOOT) a hard reboot starts from. */
const ALLOW_HARD_REBOOT = ['active', 'stopped', 'paused', 'suspended', 'error'];
const ALLOW_REBOOT = [null, 'rebooting', 'reboot_pending', 'reboot_started', 'resuming', 'rebooting_hard', 'unpausing', 'pausing', 'suspending'];

/**
 * An action the agent of the instance's host carries out (Nova's compute
 * API methods that set a task_state and cast to the compute host).
 */
export interface TaskAction {
  /** The name in Nova's 409 ("Cannot 'reboot' instance …"). */
  name: string;
  policy: string;
  /** Policy target: the project (and the user, for the rules Nova checks with both). */
  withUser?: boolean;
  /** The instance action recorded (instance_actions.action). */
  record: string;
  check: StateCheck;
  /** Nova's check_instance_host before the state check (start, stop). */
  hostFirst?: boolean;
  taskState: string;
  /** Other fields the conditional update sets. */
  changes?: Partial<InstanceRow>;
  cast(compute: Compute, row: InstanceRow, requestId: string): Promise<void>;
}

const target = (row: InstanceRow, withUser?: boolean) => (withUser ? serverTarget(row) : { project_id: row.project_id });

/**
 * Runs a TaskAction as Nova's compute API does: policy, lock (409 unless
 * admin), host and state checks (409), task_state set by a conditional
 * update on the expected task_state (a request that lost a race gets the
 * 409 of the state it found), the instance action recorded under the
 * request id, then the cast to compute.<host>.
 */
export async function runTaskAction(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, a: TaskAction, requestId: string): Promise<void> {
  authorizeCompute(ctx, caller, a.policy, target(row, a.withUser));
  assertNotLocked(caller, row);
  if (a.hostFirst && !row.host) throw notReady(row);
  assertState(a.name, row, a.check);
  if (!row.host) throw notReady(row);
  const expected = a.check.taskStates === 'any' ? undefined : (a.check.taskStates ?? [null]);
  const updated = await store.updateInstance(ctx.db, row.uuid, { ...a.changes, task_state: a.taskState }, { taskStates: expected, vmStates: a.check.vmStates });
  if (!updated) {
    const now = await store.getInstance(ctx.db, row.uuid);
    if (!now || now.deleted_at) throw notFound(`Instance ${row.uuid} could not be found.`);
    throw invalidState(a.name, row.uuid, 'task_state', now.task_state);
  }
  await store.recordAction(ctx.db, { uuid: row.uuid, action: a.record, requestId, userId: caller.userId, projectId: caller.projectId });
  await a.cast(computeClient(ctx.bus, updated.host!), updated, requestId);
}

const message = (row: InstanceRow, requestId: string) => ({ instance: instanceTarget(row), request_id: requestId });

/** reboot SOFT (active, no task) or HARD (ALLOW_HARD_REBOOT, ALLOW_REBOOT task_states). */
export const rebootAction = (type: 'SOFT' | 'HARD'): TaskAction => ({
  name: 'reboot',
  policy: 'os_compute_api:servers:reboot',
  record: 'reboot',
  check: type === 'SOFT' ? { vmStates: ['active'] } : { vmStates: ALLOW_HARD_REBOOT, taskStates: ALLOW_REBOOT },
  taskState: type === 'SOFT' ? 'rebooting' : 'rebooting_hard',
  cast: (c, row, id) => c.cast('reboot_instance', { ...message(row, id), reboot_type: type }),
});

/** An action from one vm_state, whose message is just the instance (pause, unpause, suspend, resume). */
const plainAction = (
  name: string,
  policy: string,
  vmState: string,
  taskState: string,
  method: 'pause_instance' | 'unpause_instance' | 'suspend_instance' | 'resume_instance',
): TaskAction => ({
  name,
  policy,
  withUser: true,
  record: name,
  check: { vmStates: [vmState] },
  taskState,
  cast: (c, row, id) => c.cast(method, message(row, id)),
});

export const TASK_ACTIONS: Record<string, TaskAction> = {
  'os-start': {
    name: 'start',
    policy: 'os_compute_api:servers:start',
    withUser: true,
    record: 'start',
    check: { vmStates: ['stopped'] },
    hostFirst: true,
    taskState: 'powering-on',
    cast: (c, row, id) => c.cast('start_instance', message(row, id)),
  },
  'os-stop': {
    name: 'stop',
    policy: 'os_compute_api:servers:stop',
    withUser: true,
    record: 'stop',
    check: { vmStates: ['active', 'error'] },
    hostFirst: true,
    taskState: 'powering-off',
    changes: { progress: 0 },
    cast: (c, row, id) => c.cast('stop_instance', { ...message(row, id), clean_shutdown: true }),
  },
  pause: plainAction('pause', 'os_compute_api:os-pause-server:pause', 'active', 'pausing', 'pause_instance'),
  unpause: plainAction('unpause', 'os_compute_api:os-pause-server:unpause', 'paused', 'unpausing', 'unpause_instance'),
  suspend: plainAction('suspend', 'os_compute_api:os-suspend-server:suspend', 'active', 'suspending', 'suspend_instance'),
  resume: plainAction('resume', 'os_compute_api:os-suspend-server:resume', 'suspended', 'resuming', 'resume_instance'),
};

/**
 * An action the API completes itself (lock, unlock, resetState): the
 * instance changed and the action recorded as finished, with its api_<event>
 * (Nova's wrap_instance_event(prefix='api')) when given, in one transaction.
 */
async function apiAction(
  ctx: ComputeContext,
  caller: ComputeCaller,
  row: InstanceRow,
  requestId: string,
  action: string,
  changes: Partial<InstanceRow>,
  event?: string,
): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const actionId = await store.recordAction(trx, { uuid: row.uuid, action, requestId, userId: caller.userId, projectId: caller.projectId, finished: true });
    await store.updateInstance(trx, row.uuid, changes);
    if (event) await store.recordApiEvent(trx, actionId, event);
  });
}

/**
 * lock (Nova's compute API lock): the owner's lock of a server they already
 * locked changes nothing; otherwise the server is locked by `owner` or
 * `admin` (whoever is not of its project) with the reason given (2.73).
 */
export async function lockServer(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, reason: string | null, requestId: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-lock-server:lock', serverTarget(row));
  const isOwner = row.project_id === caller.projectId;
  if (row.locked && isOwner) return;
  const changes = { locked: true, locked_by: isOwner ? 'owner' : 'admin', ...(reason ? { locked_reason: reason } : {}) };
  await apiAction(ctx, caller, row, requestId, 'lock', changes, 'api_lock');
}

/** unlock: a lock by someone else (an admin's, for the owner) needs the unlock_override rule (admins). */
export async function unlockServer(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, requestId: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-lock-server:unlock', { project_id: row.project_id });
  const expectedBy = row.project_id === caller.projectId ? 'owner' : 'admin';
  if (row.locked_by && row.locked_by !== expectedBy) {
    authorizeCompute(ctx, caller, 'os_compute_api:os-lock-server:unlock:unlock_override', { project_id: row.project_id });
  }
  await apiAction(ctx, caller, row, requestId, 'unlock', { locked: false, locked_by: null, locked_reason: null }, 'api_unlock');
}

/** os-resetState (admins): vm_state active or error, no task, whatever the instance was doing. */
export async function resetState(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, state: 'active' | 'error', requestId: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-admin-actions:reset_state', { project_id: row.project_id });
  await apiAction(ctx, caller, row, requestId, 'resetState', { vm_state: state, task_state: null });
}

/** How long os-getConsoleOutput waits for the agent. */
const CONSOLE_TIMEOUT_MS = 30_000;

/**
 * os-getConsoleOutput: the last `length` lines of the guest's console (all
 * of it for -1 or none), asked of the host's agent; control characters
 * other than tab, newline and carriage return are removed, as Nova does.
 */
export async function consoleOutput(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, length: number | null): Promise<string> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-console-output', { project_id: row.project_id });
  if (!row.host) throw notReady(row);
  let output: string;
  try {
    output = await computeClient(ctx.bus, row.host).call(
      'get_console_output',
      { instance: { uuid: row.uuid, name: instanceTarget(row).name }, tail_length: length === null || length < 0 ? null : length },
      { timeoutMs: CONSOLE_TIMEOUT_MS },
    );
  } catch (e) {
    if (e instanceof BusRemoteError && (e.remoteName === 'InstanceNotFound' || e.remoteName === 'ConsoleNotAvailable')) {
      throw notFound(e.remoteName === 'InstanceNotFound' ? `Instance ${row.uuid} could not be found.` : 'Guest does not have a console available.');
    }
    if (e instanceof BusRemoteError && e.remoteName === 'NotSupported') throw notImplemented('The requested functionality is not supported.');
    if (e instanceof BusTimeoutError) throw conflict(`Instance ${row.uuid} is not ready`);
    throw e;
  }
  return String(output).replace(/[\x00-\x08\x0B-\x1F]/g, '');
}

/** restore (deferred delete): only soft-deleted servers, which Nubo never has (reclaim_instance_interval 0): 409 otherwise. */
export function restoreServer(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow): void {
  authorizeCompute(ctx, caller, 'os_compute_api:os-deferred-delete:restore', { project_id: row.project_id });
  assertNotLocked(caller, row);
  assertState('restore', row, { vmStates: ['soft-delete'] });
}
