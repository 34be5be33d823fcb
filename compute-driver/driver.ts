/**
 * The compute driver interface, after Nova's ComputeDriver
 * (nova/virt/driver.py). A driver runs guests on one hypervisor host and knows
 * nothing of HTTP, SQL or the bus: the agent (agent/) calls it and reports
 * what happened. Drivers: drivers/fake (in memory), drivers/qemu (KVM through
 * QEMU + QMP, next).
 *
 * Rules every driver keeps (as Nova's do):
 * - spawn leaves the guest RUNNING (SHUTDOWN with powerOn false); when it
 *   fails it removes whatever it made, so the host is as it was.
 * - destroy of a guest that does not exist succeeds.
 * - getInfo of a guest that does not exist throws InstanceNotFound.
 * - reboot leaves the guest RUNNING whatever state it was in.
 * - An operation the driver cannot do throws NotSupported.
 * - Guests outlive the agent: a restarted agent finds them with listInstances.
 */
import { PowerState } from './states.ts';

export { PowerState };

/** What identifies a guest: the instance uuid and its name on the hypervisor (`instance-0000002a`). */
export interface InstanceRef {
  uuid: string;
  name: string;
}

/** A flavor as the instance carries it (Nova's instance.flavor). swap is MiB, disks GiB. */
export interface Flavor {
  flavorid: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  extra_specs: Record<string, string>;
}

/** Where the agent gets an image's bits: Glance v2 `GET /v2/images/{id}/file`. */
export interface ImageDownload {
  url: string;
  /** Sent as X-Auth-Token: a token scoped to the instance's project, valid long enough for the download. */
  token?: string;
}

/** Image metadata (Nova's ImageMeta) plus how to fetch the data. */
export interface ImageMeta {
  id: string;
  name?: string | null;
  disk_format?: string | null;
  container_format?: string | null;
  size?: number | null;
  min_disk?: number;
  min_ram?: number;
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  /** Image properties (hw_disk_bus, os_type, hw_qemu_guest_agent…). */
  properties: Record<string, unknown>;
  download?: ImageDownload;
}

/**
 * Everything a driver needs to make a guest, including what goes on its
 * config drive (meta_data.json, user_data, public keys).
 */
export interface InstanceSpec extends InstanceRef {
  display_name: string;
  hostname: string;
  project_id: string;
  user_id: string;
  flavor: Flavor;
  /** The server's metadata (key/value pairs of the API). */
  metadata: Record<string, string>;
  /** base64, as the API received it. */
  user_data: string | null;
  key_name: string | null;
  /** The keypair's public key. */
  key_data: string | null;
  config_drive: boolean;
  launch_index: number;
  availability_zone: string | null;
  created_at?: string;
}

export interface FixedIp {
  address: string;
  version: 4 | 6;
  type: 'fixed';
  floating_ips: string[];
}

export interface Subnet {
  cidr: string;
  gateway: string | null;
  dns: string[];
  routes: { cidr: string; gateway: string }[];
  ips: FixedIp[];
  dhcp_server?: string | null;
}

/** One virtual interface of a guest (Nova's network model VIF), bound to a Neutron port. */
export interface Vif {
  /** The port id. */
  id: string;
  /** MAC address. */
  address: string;
  /** bridge, ovs, tap… */
  type: string;
  devname?: string | null;
  vnic_type?: string;
  network: { id: string; label: string; bridge?: string | null; mtu?: number | null; subnets: Subnet[] };
  details?: Record<string, unknown>;
  active?: boolean;
  preserve_on_delete?: boolean;
  tag?: string | null;
}

export type NetworkInfo = Vif[];

/** Disks other than the image's root disk (Nova's block_device_info). Sizes: ephemeral GiB, swap MiB. */
export interface BlockDeviceInfo {
  root_device_name: string | null;
  ephemerals: { device_name: string; size: number; guest_format?: string | null; disk_bus?: string | null }[];
  swap: { device_name: string; swap_size: number } | null;
  /** Volumes (later, with the block storage service). */
  block_device_mapping: {
    volume_id: string;
    mount_device: string;
    connection_info: Record<string, unknown>;
    boot_index?: number | null;
    delete_on_termination?: boolean;
    tag?: string | null;
  }[];
}

export const emptyBlockDeviceInfo = (): BlockDeviceInfo => ({ root_device_name: null, ephemerals: [], swap: null, block_device_mapping: [] });

export interface SpawnOptions {
  adminPassword?: string | null;
  /** Files to put on the config drive: path and base64 contents (the API's personality). */
  injectedFiles?: { path: string; contents: string }[];
  /** Default true; false leaves the guest SHUTDOWN. */
  powerOn?: boolean;
}

export interface RebuildOptions extends SpawnOptions {
  preserveEphemeral?: boolean;
}

export type RebootType = 'SOFT' | 'HARD';

/** What getInfo says about a guest (Nova's InstanceInfo). */
export interface InstanceInfo {
  powerState: PowerState;
  /** CPU time the guest has used, when the driver knows it. */
  cpuTimeNs?: number;
}

export interface CpuInfo {
  arch: string;
  model: string;
  vendor: string;
  features: string[];
  topology: { sockets: number; cores: number; threads: number };
}

/**
 * The host's inventory and usage (Nova's get_available_resource), as the
 * agent reports it in service_update. Memory MiB, disk GiB.
 */
export interface HostResources {
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  vcpus_used: number;
  memory_mb_used: number;
  local_gb_used: number;
  disk_available_least: number;
  hypervisor_type: string;
  /** As Nova encodes it: major * 1000000 + minor * 1000 + patch. */
  hypervisor_version: number;
  hypervisor_hostname: string;
  cpu_info: CpuInfo;
  /** [architecture, hypervisor type, vm mode] triples, e.g. ['x86_64', 'qemu', 'hvm']. */
  supported_instances: [string, string, string][];
}

/**
 * What a driver can do, under Nova's capability names (the scheduler turns
 * the image-type and other flags into COMPUTE_* traits).
 */
export interface DriverCapabilities {
  has_imagecache: boolean;
  supports_evacuate: boolean;
  supports_migrate_to_same_host: boolean;
  supports_attach_interface: boolean;
  supports_device_tagging: boolean;
  supports_tagged_attach_interface: boolean;
  supports_tagged_attach_volume: boolean;
  supports_extend_volume: boolean;
  supports_multiattach: boolean;
  supports_trusted_certs: boolean;
  supports_image_type_raw: boolean;
  supports_image_type_qcow2: boolean;
  supports_image_type_iso: boolean;
  supports_image_type_vmdk: boolean;
  supports_image_type_vdi: boolean;
  supports_image_type_vhd: boolean;
  supports_image_type_vhdx: boolean;
  supports_image_type_ploop: boolean;
  supports_image_type_aki: boolean;
  supports_image_type_ami: boolean;
  supports_image_type_ari: boolean;
}

/** All false: a driver spreads this and sets what it supports. */
export const noCapabilities: DriverCapabilities = {
  has_imagecache: false,
  supports_evacuate: false,
  supports_migrate_to_same_host: false,
  supports_attach_interface: false,
  supports_device_tagging: false,
  supports_tagged_attach_interface: false,
  supports_tagged_attach_volume: false,
  supports_extend_volume: false,
  supports_multiattach: false,
  supports_trusted_certs: false,
  supports_image_type_raw: false,
  supports_image_type_qcow2: false,
  supports_image_type_iso: false,
  supports_image_type_vmdk: false,
  supports_image_type_vdi: false,
  supports_image_type_vhd: false,
  supports_image_type_vhdx: false,
  supports_image_type_ploop: false,
  supports_image_type_aki: false,
  supports_image_type_ami: false,
  supports_image_type_ari: false,
};

/** The remote consoles a driver may offer (consoleSocket). */
export type ConsoleKind = 'vnc' | 'serial';

/** A guest's power changed without the agent asking (it shut down from inside, crashed…). */
export interface LifecycleEvent {
  uuid: string;
  powerState: PowerState;
}

/** Where a snapshot's data goes: Glance v2 `PUT /v2/images/{id}/file` of an image the API created. */
export interface SnapshotTarget {
  image_id: string;
  url: string;
  token?: string;
}

/** Nova's migration statuses, in the order a resize goes through them. */
export type MigrationStatus =
  | 'pre-migrating'
  | 'migrating'
  | 'post-migrating'
  | 'finished'
  | 'confirming'
  | 'confirmed'
  | 'reverting'
  | 'reverted'
  | 'error'
  /** error, and what the move left on its hosts removed (Nova's status after _cleanup_incomplete_migrations). */
  | 'failed';

/** A move of an instance (resize, cold migration) as drivers see it: where from, where to, which flavors. */
export interface MigrationInfo {
  uuid: string;
  migration_type: 'resize' | 'migration';
  source_compute: string;
  source_node: string;
  dest_compute: string;
  dest_node: string;
  old_flavor: Flavor;
  new_flavor: Flavor;
  /** active or stopped: whether the guest runs again at the end. */
  old_vm_state: string;
}

export interface ComputeDriver {
  /** 'fake', 'qemu': what service_update reports as the driver. */
  readonly type: string;
  readonly capabilities: DriverCapabilities;

  /** Prepares the driver for `host` and finds the guests already running (Nova's init_host). */
  init(host: string): Promise<void>;
  /** Lets go of what init took (sockets, watchers); guests keep running. */
  cleanupHost(host: string): Promise<void>;

  /** Every guest the hypervisor has, running or not. */
  listInstances(): Promise<InstanceRef[]>;
  /** Throws InstanceNotFound when the hypervisor has no such guest. */
  getInfo(instance: InstanceRef): Promise<InstanceInfo>;

  spawn(instance: InstanceSpec, image: ImageMeta, networkInfo: NetworkInfo, blockDeviceInfo: BlockDeviceInfo, opts?: SpawnOptions): Promise<void>;
  /** Removes the guest (and its disks unless destroyDisks is false); succeeds when there is none. */
  destroy(instance: InstanceRef, networkInfo?: NetworkInfo, blockDeviceInfo?: BlockDeviceInfo, destroyDisks?: boolean): Promise<void>;
  /** SOFT asks the guest (ACPI) and falls back to HARD; HARD resets or recreates the guest. Either ends RUNNING. */
  reboot(instance: InstanceRef, type: RebootType, networkInfo?: NetworkInfo, blockDeviceInfo?: BlockDeviceInfo): Promise<void>;
  /** Asks the guest to shut down for up to timeoutSec (re-asking every retryIntervalSec), then pulls the plug; 0 pulls it at once. */
  powerOff(instance: InstanceRef, timeoutSec?: number, retryIntervalSec?: number): Promise<void>;
  powerOn(instance: InstanceRef, networkInfo?: NetworkInfo, blockDeviceInfo?: BlockDeviceInfo): Promise<void>;
  pause(instance: InstanceRef): Promise<void>;
  unpause(instance: InstanceRef): Promise<void>;
  suspend(instance: InstanceRef): Promise<void>;
  resume(instance: InstanceRef, networkInfo?: NetworkInfo, blockDeviceInfo?: BlockDeviceInfo): Promise<void>;
  /**
   * Re-makes the guest from `image`, keeping its identity. Optional: without
   * it the agent powers off, destroys and spawns (Nova's _rebuild_default_impl).
   */
  rebuild?(instance: InstanceSpec, image: ImageMeta, networkInfo: NetworkInfo, blockDeviceInfo: BlockDeviceInfo, opts?: RebuildOptions): Promise<void>;
  /**
   * Uploads the guest's disk (qcow2) into the image of `target` (PUT of
   * `target.url` with `target.token`, image-service.ts), calling
   * updateTaskState('image_pending_upload') once the disk is captured and
   * updateTaskState('image_uploading') before the upload. The guest is left
   * in the power state it was in. Optional: without it the agent fails the
   * snapshot with NotSupported (and deletes the image).
   */
  snapshot?(instance: InstanceRef, target: SnapshotTarget, updateTaskState: (taskState: string) => Promise<void>): Promise<void>;
  /**
   * The unix socket of the guest's graphical (vnc: RFB) or serial console,
   * which the agent's console listener pipes a proxied client to. Optional:
   * without it no remote console is offered. Throws InstanceNotFound, or
   * ConsoleTypeUnavailable when this guest has no such console.
   */
  consoleSocket?(instance: InstanceRef, kind: ConsoleKind): Promise<string>;
  // ─── resize and cold migration (Nova's names); optional: without them the agent fails the move with NotSupported ───

  /**
   * On the SOURCE: powers the guest off (asking it for up to timeoutSec
   * first) and makes its disks available to `migration.dest_compute` (copied
   * there, or left where they are when the destination is this host),
   * keeping the source's disks aside (renamed, not deleted) for a revert:
   * destroy of the instance (the destination's guest on a revert, even on
   * this same host) must leave them, only confirmMigration or
   * finishRevertMigration use them up. Leaves no running guest on the source. Refuses (InstanceFaultRollback-
   * style: a DriverError with reschedule false, nothing changed, guest
   * untouched) a root disk smaller than the current one. Returns what
   * finishMigration needs to find the disks (opaque to the agent).
   */
  migrateDiskAndPowerOff?(
    instance: InstanceSpec,
    migration: MigrationInfo,
    networkInfo: NetworkInfo,
    blockDeviceInfo: BlockDeviceInfo,
    timeoutSec?: number,
    retryIntervalSec?: number,
  ): Promise<string>;
  /**
   * On the DESTINATION: makes the guest from the migrated disks with
   * `instance.flavor` (the new one; disks grown to it when resizeInstance),
   * RUNNING when powerOn, else SHUTDOWN. When it fails it removes what it
   * made there; the source's kept disks stay.
   */
  finishMigration?(
    instance: InstanceSpec,
    migration: MigrationInfo,
    diskInfo: string,
    image: ImageMeta,
    networkInfo: NetworkInfo,
    blockDeviceInfo: BlockDeviceInfo,
    resizeInstance: boolean,
    powerOn: boolean,
  ): Promise<void>;
  /** On the SOURCE, after the user confirmed: deletes what migrateDiskAndPowerOff kept aside (the old disks). The destination's guest is untouched. */
  confirmMigration?(instance: InstanceRef, migration: MigrationInfo, networkInfo?: NetworkInfo): Promise<void>;
  /**
   * On the DESTINATION of a move that ended without confirm or revert (in
   * error, or its instance deleted) while the instance is not on this host:
   * removes a guest finishMigration left half made (an agent that died in
   * it). A complete guest is left alone; nothing there succeeds. Optional:
   * a driver whose finishMigration always cleans up after itself leaves it out.
   */
  cleanupMigrationDestination?(instance: InstanceRef, migration: MigrationInfo): Promise<void>;
  /**
   * On the SOURCE, after the destination destroyed its guest: brings back the
   * guest with the old flavor and the disks kept aside, RUNNING when powerOn,
   * else SHUTDOWN. Nothing of the move is left afterwards.
   */
  finishRevertMigration?(instance: InstanceSpec, migration: MigrationInfo, networkInfo: NetworkInfo, blockDeviceInfo: BlockDeviceInfo, powerOn: boolean): Promise<void>;

  /** The guest's serial console log; its last tailLength lines when given. */
  getConsoleOutput(instance: InstanceRef, tailLength?: number | null): Promise<string>;
  getAvailableResources(): Promise<HostResources>;
  /** The host's uptime as `uptime` prints it (Nova's get_host_uptime); optional: without it the agent answers NotSupported. */
  getHostUptime?(): Promise<string>;
  /** Registers the one listener of lifecycle events (null removes it); drivers that cannot tell leave this out. */
  onLifecycleEvent?(listener: ((event: LifecycleEvent) => void) | null): void;
}

/**
 * A driver failure. `code` is the fault code the instance gets (Nova's
 * default 500); `reschedule` says whether another host might succeed where
 * this one failed a build (Nova's RescheduledException vs
 * BuildAbortException). Any other Error counts as code 500, reschedulable.
 */
export class DriverError extends Error {
  readonly code: number;
  readonly reschedule: boolean;
  constructor(message: string, opts: { code?: number; reschedule?: boolean; name?: string } = {}) {
    super(message);
    this.name = opts.name ?? 'DriverError';
    this.code = opts.code ?? 500;
    this.reschedule = opts.reschedule ?? true;
  }
}

export class InstanceNotFound extends DriverError {
  constructor(uuid: string) {
    super(`Instance ${uuid} could not be found.`, { code: 404, reschedule: false, name: 'InstanceNotFound' });
  }
}

/** The driver cannot do this (Nova's NotImplementedError). */
export class NotSupported extends DriverError {
  constructor(what: string) {
    super(`${what} is not supported by this compute driver.`, { code: 501, reschedule: false, name: 'NotSupported' });
  }
}

/** The guest is in a state that does not allow the operation. */
export class InstanceInvalidState extends DriverError {
  constructor(uuid: string, what: string, state: PowerState) {
    super(`Cannot ${what} instance ${uuid} while its power state is ${state}.`, { code: 409, reschedule: false, name: 'InstanceInvalidState' });
  }
}

/** The guest has no console of this kind (Nova's ConsoleTypeUnavailable: a 400 at the API). */
export class ConsoleTypeUnavailable extends DriverError {
  constructor(kind: string) {
    super(`Unavailable console type ${kind}.`, { code: 400, reschedule: false, name: 'ConsoleTypeUnavailable' });
  }
}

/** The image cannot boot here, nor anywhere else (bad format, flavor disk too small…): no reschedule. */
export class ImageUnacceptable extends DriverError {
  constructor(imageId: string, reason: string) {
    super(`Image ${imageId} is unacceptable: ${reason}`, { code: 400, reschedule: false, name: 'ImageUnacceptable' });
  }
}

/** This host lacks what the instance needs; another host may have it. */
export class ComputeResourcesUnavailable extends DriverError {
  constructor(reason: string) {
    super(`Insufficient compute resources: ${reason}`, { code: 500, reschedule: true, name: 'ComputeResourcesUnavailable' });
  }
}

/** The last `length` lines of `text`, as Nova's get_console_output tails; null/undefined keeps all, 0 gives ''. */
export function tailLines(text: string, length?: number | null): string {
  if (length === undefined || length === null) return text;
  if (length <= 0) return '';
  return text.split('\n').slice(-length).join('\n');
}

/** Nova's version integer: '1.2.3' → 1002003. */
export function versionToInt(version: string): number {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return major * 1_000_000 + minor * 1_000 + patch;
}
