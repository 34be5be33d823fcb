/**
 * THE message contract between the API/conductor and the compute agents
 * (after nova/compute/rpcapi.py and the conductor's side of
 * nova/compute/manager.py). Two topics:
 *
 * - `compute.<host>` (computeTopic), served by the agent of that host. The API
 *   and conductor send it what to do to an instance. Every action is a cast:
 *   the agent accepts it at once and runs it in the background, one action at
 *   a time per instance (Nova's instance lock), in the order they arrived.
 *   Before casting, the API sets the instance's task_state as Nova's API does
 *   (reboot → rebooting / rebooting_hard, stop → powering-off, start →
 *   powering-on, pause → pausing, unpause → unpausing, suspend → suspending,
 *   resume → resuming, rebuild → rebuilding, delete → deleting, createImage →
 *   image_snapshot, resize/migrate → resize_prep (cast by the conductor once
 *   it has a destination), revertResize → resize_reverting) and records
 *   the instance action under the request id. Only get_console_output,
 *   get_host_uptime and get_console_target are calls; cleanup_migration
 *   (rpc-moves.ts) is no instance action: no event, no instance_update.
 *   Whatever the action, the agent casts instance_action_event
 *   compute_<method> at its start and finish; when it fails, the agent
 *   records a fault and sets task_state back to null (Nova's
 *   reverts_task_state), unless a conditional update was refused (the task
 *   was preempted: nothing more is changed).
 *
 * - `conductor` (CONDUCTOR_TOPIC), served by the conductor; the agent tells it
 *   what happened. The agent has no database: instance_update and
 *   instances_on_host are calls, so that one instance's updates are applied in
 *   the order they were made and the agent learns when a conditional update
 *   was refused (as Nova's instance.save(expected_task_state=…) raises); the
 *   rest are casts.
 *
 * All states are Nova's strings and numbers (states.ts). Times are ISO 8601
 * strings. A field that is absent means "unchanged"; null means "set to null".
 */
import type { Bus } from '../lib/bus/bus.ts';
import type {
  BlockDeviceInfo,
  ConsoleKind,
  DriverCapabilities,
  HostResources,
  ImageMeta,
  InstanceRef,
  InstanceSpec,
  MigrationInfo,
  MigrationStatus,
  NetworkInfo,
  RebootType,
  SnapshotTarget,
} from './driver.ts';
import type { PowerState, TaskState, VmState } from './states.ts';

export * from './states.ts';
export type { CleanupMigration, ConfirmResize, FinishResize, FinishRevertResize, MigrationCleaned, MovingInstance, ResizeInstance, RevertResize } from './rpc-moves.ts';
import type { CleanupMigration, ConfirmResize, FinishResize, FinishRevertResize, MigrationCleaned, ResizeInstance, RevertResize } from './rpc-moves.ts';
export type {
  BlockDeviceInfo,
  CpuInfo,
  DriverCapabilities,
  Flavor,
  FixedIp,
  HostResources,
  ImageDownload,
  ImageMeta,
  InstanceRef,
  InstanceSpec,
  MigrationInfo,
  MigrationStatus,
  NetworkInfo,
  RebootType,
  SnapshotTarget,
  Subnet,
  Vif,
} from './driver.ts';

/** Bumped when a message changes incompatibly; agents report the one they speak in service_update. */
export const COMPUTE_RPC_VERSION = '1.0';
export const CONDUCTOR_TOPIC = 'conductor';
export const computeTopic = (host: string) => `compute.${host}`;
/** What service_update reports as the service's binary (Nova's nova-compute). */
export const COMPUTE_BINARY = 'nubo-compute';

// ─── compute.<host>: what the agent serves ────────────────────────────────

/** The instance as the sender knew it when it cast: identity and current states. */
export interface InstanceTarget extends InstanceRef {
  vm_state: VmState;
  task_state: TaskState | null;
}

/** What every action message carries. */
export interface InstanceAction {
  instance: InstanceTarget;
  /** The API request's id (req-…), under which the API recorded the instance action. */
  request_id: string;
}

export interface RequestedNetwork {
  network_id?: string | null;
  port_id?: string | null;
  fixed_ip?: string | null;
  tag?: string | null;
}

export interface HostNode {
  host: string;
  node: string;
}

/**
 * cast build_and_run_instance — make and start a new guest.
 *
 * Sent by the conductor once the scheduler has claimed `host`/`node` for the
 * instance and the instance's host and node are set to them (vm_state
 * building, task_state scheduling). The agent reports:
 *   building/null (expected task_state scheduling|null, vm_state building) →
 *   networking → block_device_mapping
 *   → spawning → active/null with power_state and launched_at.
 * On failure it removes the partial guest and either
 *   - (retry given and the failure may succeed elsewhere) sets task_state
 *     scheduling, host/node null and casts build_failed retryable: true, or
 *   - sets vm_state error, task_state null, host/node null with a fault and
 *     casts build_failed retryable: false.
 * If the instance disappears or starts deleting meanwhile (an update is
 * refused), the agent stops and casts build_failed retryable: false.
 */
export interface BuildAndRunInstance {
  request_id: string;
  instance: InstanceSpec & Pick<InstanceTarget, 'vm_state' | 'task_state'>;
  /** Image metadata and `download`: where the agent fetches the data and with which token. */
  image: ImageMeta;
  /** As the user asked (networks, ports, fixed IPs, tags). */
  requested_networks: RequestedNetwork[];
  /** Ports already allocated and bound to this host; [] while there is no network service. */
  network_info: NetworkInfo;
  block_device_info: BlockDeviceInfo;
  admin_password?: string | null;
  /** Personality files: path and base64 contents. */
  injected_files?: { path: string; contents: string }[];
  host: string;
  node: string;
  /**
   * Nova's filter_properties.retry: present when the conductor is willing to
   * reschedule. Without it a failed build ends in error on the agent.
   */
  retry?: { num_attempts: number; hosts: HostNode[] } | null;
  /** Alternate hosts the scheduler picked (Nova's host_list); handed back in build_failed. */
  host_list?: HostNode[];
}

/**
 * cast reboot_instance — task_state rebooting (SOFT) or rebooting_hard (HARD).
 * Reports reboot_pending(_hard) with power_state, then reboot_started(_hard),
 * then active (rescued stays rescued)/null with power_state. A failed reboot
 * whose guest still runs only records a fault; otherwise vm_state error.
 */
export interface RebootInstance extends InstanceAction {
  reboot_type: RebootType;
  network_info?: NetworkInfo;
  block_device_info?: BlockDeviceInfo;
}

/**
 * cast stop_instance — task_state powering-off. Reports stopped/null with
 * power_state (expected powering-off, or also null when the guest was
 * already off). clean_shutdown gives the guest compute.shutdown_timeout
 * seconds to shut down before it is powered off.
 */
export interface StopInstance extends InstanceAction {
  clean_shutdown: boolean;
}

/** cast start_instance — task_state powering-on. Reports active/null with power_state. */
export interface StartInstance extends InstanceAction {
  network_info?: NetworkInfo;
  block_device_info?: BlockDeviceInfo;
}

/**
 * cast pause_instance (pausing → paused), unpause_instance (unpausing →
 * active), suspend_instance (suspending → suspended), each with the new
 * power_state. A failed pause/unpause keeps the vm_state; a failed suspend
 * (or resume) sets error, or keeps the vm_state when the driver cannot
 * suspend at all. Either way task_state goes back to null with a fault.
 */
export type PauseInstance = InstanceAction;
export type UnpauseInstance = InstanceAction;
export type SuspendInstance = InstanceAction;

/** cast resume_instance — resuming → active/null. */
export interface ResumeInstance extends InstanceAction {
  network_info?: NetworkInfo;
  block_device_info?: BlockDeviceInfo;
}

/**
 * cast rebuild_instance — task_state rebuilding. The guest is re-made from
 * `image` (which may be new) keeping its uuid, name and ports. Reports
 * rebuilding with power_state → rebuild_block_device_mapping →
 * rebuild_spawning → active/null with launched_at; an instance that was
 * stopped is then stopped again (powering-off → stopped). Failure: error.
 */
export interface RebuildInstance {
  request_id: string;
  /** The instance as it is to be (new image, metadata, key, user_data…), with its current states. */
  instance: InstanceSpec & Pick<InstanceTarget, 'vm_state' | 'task_state'>;
  image: ImageMeta;
  orig_image_ref: string;
  network_info: NetworkInfo;
  block_device_info: BlockDeviceInfo;
  admin_password?: string | null;
  injected_files?: { path: string; contents: string }[];
  preserve_ephemeral?: boolean;
}

/**
 * cast terminate_instance — task_state deleting. The guest is destroyed
 * (a missing guest is fine) and the agent reports vm_state deleted,
 * task_state null, power_state NOSTATE, terminated_at; the conductor then
 * finishes the deletion (allocations, the row). Failure: error with a fault.
 */
export interface TerminateInstance extends InstanceAction {
  network_info?: NetworkInfo;
  block_device_info?: BlockDeviceInfo;
}

/**
 * call get_console_output → the guest's console log as text, its last
 * tail_length lines when given. Throws (BusRemoteError, remoteName
 * InstanceNotFound) when the hypervisor has no such guest.
 */
export interface GetConsoleOutput {
  instance: InstanceRef;
  tail_length?: number | null;
}

/**
 * cast snapshot_instance — task_state image_snapshot (createImage). The API
 * created the image (queued, its formats set); the agent uploads the guest's
 * disk into it: image_snapshot_pending → image_pending_upload →
 * image_uploading (the driver moves these) → task_state null, vm_state
 * unchanged, and the image is active. On failure the agent deletes the image
 * (Nova's delete_image_on_error), records a fault and sets task_state null;
 * a driver without snapshot fails with NotSupported the same way.
 */
export interface SnapshotInstance extends InstanceAction {
  image: SnapshotTarget;
}

/**
 * call get_console_target → ConsoleTarget — where the console proxy connects
 * to reach the guest's `kind` console: the agent's console listener
 * (agent/console-listener.ts). The proxy opens a TCP connection to host:port,
 * writes `secret` and a newline, and from then on the bytes are the
 * console's (RFB for vnc, the serial line for serial). The secret works once,
 * for compute.console_secret_ttl seconds. Throws (BusRemoteError) NotSupported when
 * the driver has no consoles, ConsoleTypeUnavailable, InstanceNotFound.
 */
export interface GetConsoleTarget {
  instance: InstanceRef;
  kind: ConsoleKind;
}

export interface ConsoleTarget {
  host: string;
  port: number;
  secret: string;
}

export interface ComputeCasts {
  build_and_run_instance: BuildAndRunInstance;
  reboot_instance: RebootInstance;
  stop_instance: StopInstance;
  start_instance: StartInstance;
  pause_instance: PauseInstance;
  unpause_instance: UnpauseInstance;
  suspend_instance: SuspendInstance;
  resume_instance: ResumeInstance;
  rebuild_instance: RebuildInstance;
  terminate_instance: TerminateInstance;
  snapshot_instance: SnapshotInstance;
  resize_instance: ResizeInstance;
  finish_resize: FinishResize;
  confirm_resize: ConfirmResize;
  revert_resize: RevertResize;
  finish_revert_resize: FinishRevertResize;
  cleanup_migration: CleanupMigration;
}

/**
 * call get_host_uptime → the host's uptime as `uptime` prints it
 * (" 08:32:11 up 3 days,  2:04,  1 user,  load average: 0.00, 0.01, 0.05").
 * Throws (BusRemoteError, remoteName NotSupported) when the driver cannot tell.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GetHostUptime {}

export interface ComputeCalls {
  get_console_output: { args: GetConsoleOutput; result: string };
  get_host_uptime: { args: GetHostUptime; result: string };
  get_console_target: { args: GetConsoleTarget; result: ConsoleTarget };
}

// ─── conductor: what the agent reports ────────────────────────────────────

/** An instance fault (Nova's instance_faults row). details (the traceback) is for admins only. */
export interface Fault {
  code: number;
  /** At most 255 characters. */
  message: string;
  details?: string;
  host: string;
  created_at: string;
}

/**
 * cast service_update — the agent's registration and heartbeat: `start` once
 * when it comes up, `heartbeat` every compute.report_interval seconds, `stop`
 * when it shuts down cleanly.
 *
 * The conductor upserts the compute service (host, binary) and its compute
 * node (hypervisor_hostname = node) with the resources, counts the service up
 * while heartbeats arrive (down after a few report_intervals without one, as
 * Nova's service_down_time), and hands the inventory (vcpus, memory_mb,
 * local_gb) to placement as the node's resource provider.
 */
export interface ServiceUpdate {
  host: string;
  node: string;
  binary: typeof COMPUTE_BINARY;
  topic: string;
  event: 'start' | 'heartbeat' | 'stop';
  /** 1 at start, then +1 per report (Nova's report_count). */
  report_count: number;
  /** Seconds between heartbeats. */
  report_interval: number;
  started_at: string;
  sent_at: string;
  rpc_version: string;
  /** The driver: fake or qemu. */
  driver: string;
  resources: HostResources;
  capabilities: DriverCapabilities;
  /** Guests the hypervisor has. */
  instance_count: number;
}

/**
 * call instance_update → InstanceUpdateResult — one change of one instance
 * (Nova's instance.save()). The conductor, in one transaction:
 * 1. refuses with `not_found` when the instance does not exist or is deleted
 *    (vm_state deleted), and with `not_owner` when its host is set and is not
 *    from_host (nor, for an update naming a migration, a host of that move),
 *    or when it has no host and waits for one (building,
 *    scheduling: a conductor is placing it, so a build delivered late to a
 *    host it was taken from stops there);
 * 2. answers applied: true without changing anything when the same from_host
 *    already had an update with this seq or a later one applied (a retried
 *    call whose reply was lost);
 * 3. when expected_task_state is given and the instance's task_state is not
 *    in it, refuses with `deleting` if that task_state is deleting, else with
 *    `unexpected_task_state`; likewise expected_vm_state →
 *    `unexpected_vm_state`;
 * 4. sets the fields given, records the fault (if any) as an instance fault,
 *    and remembers (from_host, seq).
 * A refusal carries the instance's current vm_state and task_state.
 */
export interface InstanceUpdate {
  uuid: string;
  /** The agent that reports. */
  from_host: string;
  /** Strictly increasing per agent, also across its restarts (microseconds since the epoch). */
  seq: number;
  request_id?: string;
  vm_state?: VmState;
  task_state?: TaskState | null;
  power_state?: PowerState;
  expected_task_state?: (TaskState | null)[];
  expected_vm_state?: VmState[];
  /** The instance's host and node: null when the agent gives the instance up (failed build, reschedule). */
  host?: string | null;
  node?: string | null;
  launched_at?: string;
  terminated_at?: string;
  fault?: Fault;
  /**
   * The move this update is a step of: the conductor accepts the update from
   * the move's source or destination host (whichever the instance's host
   * is), and sets the migration's status in the same transaction.
   */
  migration?: { uuid: string; status: MigrationStatus };
}

export type InstanceUpdateRefusal = 'not_found' | 'not_owner' | 'deleting' | 'unexpected_task_state' | 'unexpected_vm_state';

export interface InstanceUpdateResult {
  applied: boolean;
  reason?: InstanceUpdateRefusal;
  vm_state?: VmState;
  task_state?: TaskState | null;
}

/** Nova's instance action names (instance_actions.action). */
export type InstanceActionName =
  | 'create'
  | 'delete'
  | 'reboot'
  | 'stop'
  | 'start'
  | 'pause'
  | 'unpause'
  | 'suspend'
  | 'resume'
  | 'rebuild'
  | 'createImage'
  | 'resize'
  | 'migrate'
  | 'confirmResize'
  | 'revertResize';

/**
 * cast instance_action_event — an event of an instance action
 * (instance_actions_events), twice per action the agent runs: once with
 * `start` only, once with `finish` and `result` (Success or Error, with the
 * traceback on Error). Event names are Nova's: compute_<message name>
 * (compute_build_and_run_instance, compute_reboot_instance…).
 *
 * The conductor upserts the event by (uuid, request_id, event), so the two
 * casts may arrive in either order, and creates the action (`action`, no
 * user) when the API did not record one: actions the agent starts itself, such
 * as stopping a guest that shut down from inside.
 */
export interface InstanceActionEvent {
  uuid: string;
  request_id: string;
  action: InstanceActionName;
  event: string;
  host: string;
  start: string;
  finish?: string;
  result?: 'Success' | 'Error';
  traceback?: string;
}

/**
 * cast build_failed — a build on this host did not finish: the conductor
 * releases the instance's claim on host/node (placement allocations).
 * - retryable: the agent left the instance building/scheduling with no host;
 *   the conductor reschedules it (an alternate from host_list, or the
 *   scheduler again) with retry.num_attempts + 1 and retry.hosts + this host,
 *   or, when no host is left, sets vm_state error, task_state null and records
 *   `fault` (Nova's "Exceeded maximum number of retries").
 * - not retryable: the agent has already set the instance to error (or it is
 *   deleted/deleting); nothing more to do than the release.
 */
export interface BuildFailed {
  uuid: string;
  request_id: string;
  host: string;
  node: string;
  reason: string;
  retryable: boolean;
  fault: Fault;
  retry?: { num_attempts: number; hosts: HostNode[] } | null;
  host_list?: HostNode[];
}

/** What the conductor knows of an instance on a host: the agent's "database view". */
export interface InstanceOnHost extends InstanceTarget {
  power_state: PowerState;
  host: string | null;
  node: string | null;
  /** The move under way, for an instance in a resize task state (what an agent that restarted needs to end it). */
  migration?: MigrationInfo;
}

/**
 * call instances_on_host → InstanceOnHost[] — every instance whose host is
 * `host` and that is not deleted (Nova's InstanceList.get_by_host). The agent
 * asks at start (to reconcile) and at each power-state sync.
 */
export interface InstancesOnHost {
  host: string;
}

/**
 * cast reconcile_report — what the agent found at start, after reconciling:
 * `adopted` instances the conductor places here and the hypervisor runs;
 * `missing` ones the conductor places here but the hypervisor lacks (their
 * power_state is reported NOSTATE); `unknown` guests the hypervisor runs that
 * the conductor does not place here (left alone: the conductor may send
 * terminate_instance for those it knows to be deleted).
 */
export interface ReconcileReport {
  host: string;
  adopted: string[];
  missing: string[];
  unknown: InstanceRef[];
}

export interface ConductorCasts {
  service_update: ServiceUpdate;
  instance_action_event: InstanceActionEvent;
  build_failed: BuildFailed;
  reconcile_report: ReconcileReport;
  migration_cleaned: MigrationCleaned;
}

export interface ConductorCalls {
  instance_update: { args: InstanceUpdate; result: InstanceUpdateResult };
  instances_on_host: { args: InstancesOnHost; result: InstanceOnHost[] };
}

// ─── typed clients and servers ────────────────────────────────────────────

/** Each call method's arguments and result. */
type CallMap<Calls> = { [M in keyof Calls]: { args: unknown; result: unknown } };

/** The handlers a server of a topic implements: bus.serve(topic, handlers). */
export type RpcServer<Casts, Calls extends CallMap<Calls>> = { [M in keyof Casts]: (args: Casts[M]) => void | Promise<void> } & {
  [M in keyof Calls]: (args: Calls[M]['args']) => Calls[M]['result'] | Promise<Calls[M]['result']>;
};

/** What the agent serves on compute.<host>. */
export type ComputeServer = RpcServer<ComputeCasts, ComputeCalls>;
/** What the conductor serves on `conductor`: implement this on the scheduler side. */
export type ConductorServer = RpcServer<ConductorCasts, ConductorCalls>;

export interface RpcClient<Casts, Calls extends CallMap<Calls>> {
  cast<M extends keyof Casts & string>(method: M, args: Casts[M], opts?: { timeoutMs?: number }): Promise<void>;
  call<M extends keyof Calls & string>(method: M, args: Calls[M]['args'], opts?: { timeoutMs?: number }): Promise<Calls[M]['result']>;
}

function rpcClient<Casts, Calls extends CallMap<Calls>>(bus: Bus, topic: string): RpcClient<Casts, Calls> {
  return {
    cast: (method, args, opts) => bus.cast(topic, method, args, opts),
    call: (method, args, opts) => bus.call(topic, method, args, opts),
  };
}

/** For the API and conductor: send to the agent of `host`. */
export const computeClient = (bus: Bus, host: string) => rpcClient<ComputeCasts, ComputeCalls>(bus, computeTopic(host));
/** For the agent: send to the conductor. */
export const conductorClient = (bus: Bus) => rpcClient<ConductorCasts, ConductorCalls>(bus, CONDUCTOR_TOPIC);
