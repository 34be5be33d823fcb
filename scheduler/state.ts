import type { Config } from '../lib/config/index.ts';
import type { Inventories, InventoryPolicy, Resources } from './placement/resources.ts';

/**
 * What the scheduler knows of one compute node when it decides (Nova's
 * HostState): its service, its hypervisor, its provider's inventory and
 * usage, and the instances on it (the consumers of its provider).
 */
export interface HostState {
  host: string;
  nodename: string;
  /** The compute node's uuid, which is its resource provider's uuid. */
  providerUuid: string;
  service: ServiceState;
  hypervisorType: string;
  hypervisorVersion: number;
  hostIp: string | null;
  /** [architecture, hypervisor type, vm mode] triples the node runs. */
  supportedInstances: readonly (readonly [string, string, string])[];
  inventory: Inventories;
  used: Resources;
  /** Uuids of the instances (consumers) on the node. */
  instances: ReadonlySet<string>;
}

export interface ServiceState {
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** Last heartbeat, ms since the epoch; null when never heard from. */
  lastSeenUp: number | null;
  availabilityZone: string;
}

export interface Flavor {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  /** Swap in MB, as flavors have it. */
  swap: number;
}

export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

/** The server group the instances join (Nova's InstanceGroup as the request spec carries it). */
export interface ServerGroup {
  uuid: string;
  policy: GroupPolicy;
  /** max_server_per_host for anti-affinity (default 1). */
  rules?: { max_server_per_host?: number };
  /** Uuids of the group's instances. */
  members: readonly string[];
  /** Hosts the members are on; derived from the host states' instances when absent. */
  hosts?: readonly string[];
}

/** What is being scheduled (Nova's RequestSpec, the parts the filters and weighers read). */
export interface RequestSpec {
  flavor: Flavor;
  /** A boot-from-volume instance takes no root disk from the host. */
  bootFromVolume?: boolean;
  /** Image properties (hw_architecture, img_hv_type, hw_vm_mode…). */
  imageProperties?: Readonly<Record<string, unknown>>;
  availabilityZone?: string | null;
  /** os:scheduler_hints as the API received them (same_host, different_host, group…). */
  schedulerHints?: Readonly<Record<string, string | readonly string[]>>;
  group?: ServerGroup | null;
  /** The uuid of each instance to place (one per instance), when known. */
  instanceUuids?: readonly string[];
  /** Hosts not to use: those a build already failed on (reschedules) or the source of a move. */
  ignoreHosts?: readonly string[];
}

/** The Placement resources one instance of the request takes, as Nova's resources_from_flavor. */
export function requestResources(spec: RequestSpec): Resources {
  const f = spec.flavor;
  const swapGb = Math.ceil((f.swap || 0) / 1024);
  return { VCPU: f.vcpus, MEMORY_MB: f.memoryMb, DISK_GB: (spec.bootFromVolume ? 0 : f.rootGb) + f.ephemeralGb + swapGb };
}

/** The scheduler's tunables (scheduler.* options). */
export interface SchedulerOptions {
  ramWeightMultiplier: number;
  cpuWeightMultiplier: number;
  softAffinityWeightMultiplier: number;
  softAntiAffinityWeightMultiplier: number;
  maxAttempts: number;
  hostSubsetSize: number;
  serviceDownTimeMs: number;
}

export function schedulerOptions(config: Config): SchedulerOptions {
  return {
    ramWeightMultiplier: config['scheduler.ram_weight_multiplier'],
    cpuWeightMultiplier: config['scheduler.cpu_weight_multiplier'],
    softAffinityWeightMultiplier: config['scheduler.soft_affinity_weight_multiplier'],
    softAntiAffinityWeightMultiplier: config['scheduler.soft_anti_affinity_weight_multiplier'],
    maxAttempts: config['scheduler.max_attempts'],
    hostSubsetSize: config['scheduler.host_subset_size'],
    serviceDownTimeMs: config['scheduler.service_down_time'] * 1000,
  };
}

/** The inventory policy (allocation ratios, reservations) from the compute.* options. */
export function inventoryPolicy(config: Config): InventoryPolicy {
  return {
    cpuAllocationRatio: config['compute.cpu_allocation_ratio'],
    ramAllocationRatio: config['compute.ram_allocation_ratio'],
    diskAllocationRatio: config['compute.disk_allocation_ratio'],
    reservedHostCpus: config['compute.reserved_host_cpus'],
    reservedHostMemoryMb: config['compute.reserved_host_memory_mb'],
    reservedHostDiskMb: config['compute.reserved_host_disk_mb'],
  };
}
