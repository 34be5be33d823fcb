/**
 * A server's `status` from its vm_state and task_state, exactly as Nova's
 * nova/api/openstack/common.py _STATE_MAP: what clients poll for (BUILD →
 * ACTIVE, SHUTOFF, ERROR…). `default` is the status of the vm_state whatever
 * its task_state, unless the task_state is listed.
 */
const REBOOT = ['rebooting', 'reboot_pending', 'reboot_started'];
const HARD_REBOOT = ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'];
const REBUILD = ['rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning'];
const RESIZE = ['resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish'];

const each = (tasks: string[], status: string) => Object.fromEntries(tasks.map((t) => [t, status]));

const STATE_MAP: Record<string, Record<string, string>> = {
  active: {
    default: 'ACTIVE',
    ...each(REBOOT, 'REBOOT'),
    ...each(HARD_REBOOT, 'HARD_REBOOT'),
    updating_password: 'PASSWORD',
    ...each(REBUILD, 'REBUILD'),
    migrating: 'MIGRATING',
    ...each(RESIZE, 'RESIZE'),
  },
  building: { default: 'BUILD' },
  stopped: { default: 'SHUTOFF', ...each(RESIZE, 'RESIZE'), ...each(REBUILD, 'REBUILD') },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', ...each(REBUILD, 'REBUILD') },
  deleted: { default: 'DELETED' },
  'soft-delete': { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

/** Nova's status_from_state (UNKNOWN for a vm_state it does not know). */
export function statusOf(vmState: string, taskState: string | null): string {
  const map = STATE_MAP[vmState];
  if (!map) return 'UNKNOWN';
  return (taskState !== null && map[taskState]) || map.default;
}

/**
 * Nova's task_and_vm_state_from_status: the vm_states and task_states whose
 * status is one of `statuses` (any case). `anyTask` when a vm_state's
 * default matched, i.e. the task_state does not narrow the search.
 */
export function statesOfStatuses(statuses: string[]): { vmStates: string[]; taskStates: string[]; anyTask: boolean } {
  const wanted = new Set(statuses.map((s) => s.toLowerCase()));
  const vmStates = new Set<string>();
  const taskStates = new Set<string>();
  let anyTask = false;
  for (const [vm, map] of Object.entries(STATE_MAP)) {
    for (const [task, status] of Object.entries(map)) {
      if (!wanted.has(status.toLowerCase())) continue;
      vmStates.add(vm);
      if (task === 'default') anyTask = true;
      else taskStates.add(task);
    }
  }
  return { vmStates: [...vmStates].sort(), taskStates: [...taskStates].sort(), anyTask };
}
