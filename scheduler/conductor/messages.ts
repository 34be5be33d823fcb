/**
 * What the conductor makes of an instance row: the scheduler's RequestSpec
 * and the build_and_run_instance message (compute-driver/rpc.ts). The row
 * carries copies of the flavor, image metadata and request taken when the
 * server was created, so both can be made from the row alone, by any
 * conductor, as often as reschedules need.
 */
import { emptyBlockDeviceInfo } from '../../compute-driver/driver.ts';
import {
  type BlockDeviceInfo,
  type BuildAndRunInstance,
  type Flavor,
  type HostNode,
  type ImageMeta,
  type InstanceSpec,
  type RequestedNetwork,
  type TaskState,
  type VmState,
} from '../../compute-driver/rpc.ts';
import { defaultFilters, type HostFilter } from '../filters/index.ts';
import type { GroupPolicy, RequestSpec } from '../state.ts';
import type { GroupOfInstance, InstanceRow, RetryState } from './store.ts';

const num = (v: unknown, fallback = 0): number => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
};
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const record = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * The name of the guest on the hypervisor: system_metadata.instance_name
 * when the API set one, else Nova's instance_name_template
 * `instance-%(uuid)s` (unique without an integer id).
 */
export const instanceName = (row: Pick<InstanceRow, 'uuid' | 'system_metadata'>) => str(row.system_metadata?.instance_name) ?? `instance-${row.uuid}`;

/**
 * The instance's flavor as the driver takes it. The row's copy may use the
 * API's names (ram, disk, ephemeral, id) or Nova's object names (memory_mb,
 * root_gb, ephemeral_gb, flavorid); the denormalised vcpus, memory_mb and
 * root_gb columns win.
 */
export function flavorOf(row: Pick<InstanceRow, 'flavor' | 'vcpus' | 'memory_mb' | 'root_gb'>): Flavor {
  const f = record(row.flavor);
  const specs = record(f.extra_specs);
  return {
    flavorid: String(f.flavorid ?? f.id ?? f.original_name ?? f.name ?? ''),
    name: String(f.name ?? f.original_name ?? ''),
    vcpus: row.vcpus,
    memory_mb: row.memory_mb,
    root_gb: row.root_gb,
    ephemeral_gb: num(f.ephemeral_gb ?? f.ephemeral ?? f['OS-FLV-EXT-DATA:ephemeral']),
    swap: num(f.swap),
    extra_specs: Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, String(v)])),
  };
}

const GROUP_POLICIES: readonly string[] = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

type Hints = NonNullable<RequestSpec['schedulerHints']>;

function hintsOf(spec: Record<string, unknown>): Hints {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(record(spec.scheduler_hints ?? spec['os:scheduler_hints']))) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map(String);
  }
  return out;
}

/**
 * Whether the create asked for a server group (hint `group`): the API puts
 * an instance in a group only then (Nova's request_spec.instance_group), so
 * an instance without it needs no look for its group.
 */
export const asksForGroup = (row: Pick<InstanceRow, 'request_spec'>): boolean => typeof hintsOf(record(row.request_spec)).group === 'string';

/** Whether the instance boots from a volume (its root disk takes nothing from the host). */
function bootsFromVolume(row: Pick<InstanceRow, 'image_ref' | 'block_device_mapping' | 'request_spec'>): boolean {
  const spec = record(row.request_spec);
  if (typeof spec.is_bfv === 'boolean') return spec.is_bfv;
  if (typeof spec.boot_from_volume === 'boolean') return spec.boot_from_volume;
  const bdms = Array.isArray(row.block_device_mapping) ? row.block_device_mapping.map(record) : [];
  return bdms.some((b) => num(b.boot_index, -1) === 0 && b.destination_type === 'volume');
}

/**
 * The scheduler's view of the request (Nova's RequestSpec): flavor, image
 * properties, zone, hints and server group from the row of the first
 * instance of the request; `instanceUuids` the instances to place together;
 * `ignoreHosts` the hosts already tried.
 */
export function requestSpecOf(
  row: InstanceRow,
  group: GroupOfInstance | undefined,
  instanceUuids: readonly string[],
  ignoreHosts: readonly string[] = [],
): RequestSpec & { instanceUuids: readonly string[] } {
  const spec = record(row.request_spec);
  const flavor = flavorOf(row);
  const ignore = [...(Array.isArray(spec.ignore_hosts) ? spec.ignore_hosts.map(String) : []), ...ignoreHosts];
  return {
    flavor: { vcpus: flavor.vcpus, memoryMb: flavor.memory_mb, rootGb: flavor.root_gb, ephemeralGb: flavor.ephemeral_gb, swap: flavor.swap },
    bootFromVolume: bootsFromVolume(row),
    imageProperties: record(record(row.image_meta).properties),
    availabilityZone: row.availability_zone ?? str(spec.availability_zone),
    schedulerHints: hintsOf(spec),
    group:
      group && GROUP_POLICIES.includes(group.policy)
        ? { uuid: group.uuid, policy: group.policy as GroupPolicy, rules: group.rules, members: group.members }
        : null,
    instanceUuids,
    ignoreHosts: [...new Set(ignore)],
  };
}

const names = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

/**
 * The filters the request is placed with: the default ones, plus only the
 * host (and node) of a requested destination (microversion 2.74's host and
 * hypervisor_hostname); or, for hosts forced by an admin (the zone's
 * `zone:host:node` form, Nova's force_hosts/force_nodes), those hosts and
 * no other filter, as Nova skips the filters for them (the claim still
 * checks capacity). Undefined: the defaults.
 */
export function hostFiltersOf(row: Pick<InstanceRow, 'request_spec'>): HostFilter[] | undefined {
  const spec = record(row.request_spec);
  const forceHosts = names(spec.force_hosts).map((h) => h.toLowerCase());
  const forceNodes = names(spec.force_nodes).map((n) => n.toLowerCase());
  if (forceHosts.length || forceNodes.length) {
    return [
      {
        name: 'ForcedHosts',
        passes: (h) => (!forceHosts.length || forceHosts.includes(h.host.toLowerCase())) && (!forceNodes.length || forceNodes.includes(h.nodename.toLowerCase())),
      },
    ];
  }
  const dest = record(spec.requested_destination);
  const host = str(dest.host);
  const node = str(dest.node);
  if (!host && !node) return undefined;
  return [...defaultFilters, { name: 'RequestedDestination', passes: (h) => (!host || h.host === host) && (!node || h.nodename === node) }];
}

/** The retry state recorded on the row (none before the first placement). */
export const retryOf = (row: Pick<InstanceRow, 'request_spec'>): RetryState => {
  const r = record(row.request_spec?.retry);
  return { num_attempts: num(r.num_attempts), hosts: Array.isArray(r.hosts) ? (r.hosts as HostNode[]) : [] };
};

/** The image as the agent gets it: the row's metadata copy, and where to download it (the catalog's image service) with which token. */
export function imageMetaOf(row: Pick<InstanceRow, 'image_ref' | 'image_meta'>, imageUrl: string | null, token?: string): ImageMeta {
  const m = record(row.image_meta);
  const id = row.image_ref ?? str(m.id) ?? '';
  const meta: ImageMeta = {
    id,
    name: str(m.name),
    disk_format: str(m.disk_format),
    container_format: str(m.container_format),
    size: typeof m.size === 'number' ? m.size : null,
    min_disk: num(m.min_disk),
    min_ram: num(m.min_ram),
    checksum: str(m.checksum),
    os_hash_algo: str(m.os_hash_algo),
    os_hash_value: str(m.os_hash_value),
    properties: record(m.properties),
  };
  if (id && imageUrl) meta.download = { url: `${imageUrl.replace(/\/+$/, '')}/v2/images/${encodeURIComponent(id)}/file`, ...(token ? { token } : {}) };
  return meta;
}

/** The flavor's ephemeral disk and swap as Nova's driver block_device_info lays them out (vda root, then vdb, vdc). */
export function blockDeviceInfoOf(flavor: Flavor): BlockDeviceInfo {
  const info = emptyBlockDeviceInfo();
  info.root_device_name = '/dev/vda';
  let next = 'b'.charCodeAt(0);
  if (flavor.ephemeral_gb > 0) info.ephemerals.push({ device_name: `/dev/vd${String.fromCharCode(next++)}`, size: flavor.ephemeral_gb });
  if (flavor.swap > 0) info.swap = { device_name: `/dev/vd${String.fromCharCode(next)}`, swap_size: flavor.swap };
  return info;
}

export function instanceSpecOf(row: InstanceRow): InstanceSpec {
  return {
    uuid: row.uuid,
    name: instanceName(row),
    display_name: row.display_name,
    hostname: row.hostname ?? row.display_name,
    project_id: row.project_id,
    user_id: row.user_id,
    flavor: flavorOf(row),
    metadata: Object.fromEntries(Object.entries(record(row.metadata)).map(([k, v]) => [k, String(v)])),
    user_data: row.user_data,
    key_name: row.key_name,
    key_data: row.key_data,
    config_drive: row.config_drive,
    launch_index: row.launch_index,
    availability_zone: row.availability_zone,
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** The networks as the user asked, in the API's names (uuid, port, fixed_ip) or Nova's (network_id, port_id, address). */
const requestedNetworksOf = (row: Pick<InstanceRow, 'requested_networks'>): RequestedNetwork[] =>
  (Array.isArray(row.requested_networks) ? row.requested_networks : []).map(record).map((n) => ({
    network_id: str(n.network_id ?? n.uuid),
    port_id: str(n.port_id ?? n.port),
    fixed_ip: str(n.fixed_ip ?? n.address),
    tag: str(n.tag),
  }));

export interface BuildTarget {
  host: HostNode;
  retry: RetryState | null;
  alternates: HostNode[];
}

/**
 * build_and_run_instance for the row placed on `target.host`. Secrets the
 * API left in request_spec for the build (admin_password, injected_files)
 * are passed on.
 */
export function buildMessage(row: InstanceRow, requestId: string, target: BuildTarget, image: ImageMeta): BuildAndRunInstance {
  const spec = record(row.request_spec);
  const instance = instanceSpecOf(row);
  const files = Array.isArray(spec.injected_files) ? (spec.injected_files as { path: string; contents: string }[]) : [];
  return {
    request_id: requestId,
    instance: { ...instance, vm_state: row.vm_state as VmState, task_state: row.task_state as TaskState | null },
    image,
    requested_networks: requestedNetworksOf(row),
    network_info: [],
    block_device_info: blockDeviceInfoOf(instance.flavor),
    admin_password: str(spec.admin_password),
    injected_files: files,
    host: target.host.host,
    node: target.host.node,
    retry: target.retry,
    host_list: target.alternates,
  };
}
