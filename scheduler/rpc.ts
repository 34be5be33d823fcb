/**
 * THE message contract between the API and the conductor/scheduler (after
 * nova/conductor/rpcapi.py ComputeTaskAPI.schedule_and_build_instances).
 *
 * Topic `scheduler` (SCHEDULER_TOPIC), served by the conductor. The API sends
 * it one cast per `POST /servers`, after the transaction that inserted the
 * instance rows (vm_state building, task_state scheduling, power_state 0, no
 * host) and recorded their `create` instance action under `request_id` has
 * committed. Everything the conductor needs (flavor, image metadata,
 * requested networks, block device mapping, scheduler hints, server group,
 * availability zone, key data, user data…) is read from the instance rows
 * (lib/db/migrations/009_compute_instances.ts), so the message carries only
 * which instances and under which request.
 *
 * A cast, at least once: the conductor schedules each instance at most once
 * (its scheduling lease) and ignores instances that are gone or deleting.
 */
import type { Bus } from '../lib/bus/bus.ts';
import type { RpcClient, RpcServer } from '../compute-driver/rpc.ts';

export const SCHEDULER_TOPIC = 'scheduler';

/**
 * cast build_instances — schedule and build the instances of one create
 * request (a multi-create sends all its uuids in one message, so that they
 * are placed together: server group policies, anti-affinity among them).
 */
export interface BuildInstances {
  instance_uuids: string[];
  /** The API request's id (req-…), under which the `create` instance actions were recorded. */
  request_id: string;
}

/**
 * cast resize_instance — a resize or cold migration the API accepted: the
 * instance is in task_state resize_prep and its migration (created by the
 * API with the quota check) pre-migrating. The conductor claims the new
 * flavor on a destination (moving the old claim to the migration) and casts
 * resize_instance to the source host, or puts the instance back with a
 * fault when no host fits (scheduler/conductor/resize.ts). At least once: a
 * migration no longer pre-migrating is left alone.
 */
export interface ResizeInstanceRequest {
  instance_uuid: string;
  migration_uuid: string;
  request_id: string;
  clean_shutdown: boolean;
}

export interface SchedulerCasts {
  build_instances: BuildInstances;
  resize_instance: ResizeInstanceRequest;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SchedulerCalls {}

/** What the conductor serves on `scheduler`. */
export type SchedulerServer = RpcServer<SchedulerCasts, SchedulerCalls>;

/** For the API: send to the scheduler/conductor. */
export function schedulerClient(bus: Bus): RpcClient<SchedulerCasts, SchedulerCalls> {
  return {
    cast: (method, args) => bus.cast(SCHEDULER_TOPIC, method, args),
    call: (method, args, opts) => bus.call(SCHEDULER_TOPIC, method, args, opts),
  };
}
