import type { components } from '../../../spec/compute.d.ts';
import { computeClient } from '../../../compute-driver/rpc.ts';
import { BusRemoteError, BusTimeoutError } from '../../../lib/bus/bus.ts';
import { badRequest, notFound, notImplemented } from '../../../lib/errors.ts';
import type { ComputeNodeRow, ComputeServiceRow } from '../../../scheduler/compute-nodes/store.ts';
import { allInventories, allUsages } from '../../../scheduler/placement/store.ts';
import type { ResourceClass } from '../../../scheduler/placement/resources.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUp, isUuidLike } from '../services/state.ts';
import { listServices } from '../services/store.ts';
import * as store from './store.ts';
import type { HostedInstance } from './store.ts';

/**
 * A compute node as os-hypervisors shows it: the node as its agent reported
 * it (vcpus, memory_mb, local_gb, hypervisor type and version), its service,
 * and what is used of it as Nova's resource tracker counts: the host's
 * reserved amount (the provider's inventory `reserved`) plus what instances
 * hold in placement, and the instances on it.
 */
export interface Hypervisor {
  node: ComputeNodeRow;
  service: ComputeServiceRow;
  up: boolean;
  vcpusUsed: number;
  memoryMbUsed: number;
  localGbUsed: number;
  runningVms: number;
  /** Instances on the node with a task under way (Nova's current_workload). */
  currentWorkload: number;
  /** The instances on the node's host, when asked for (with_servers). */
  servers?: HostedInstance[];
  /** The host's uptime as its agent tells it (2.88 detail), null when it cannot. */
  uptime?: string | null;
}

/** How a call names a node: its integer id before 2.53, its uuid from 2.53. */
export type NodeRef = { id: number } | { uuid: string };

const hypervisorNotFound = (id: string) => notFound(`Hypervisor with ID '${id}' could not be found.`);

/**
 * Nova's _validate_id: from 2.53 an id that is not a uuid is a 400; before,
 * one that is not an integer is simply not found.
 */
export function nodeRef(id: string, uuidIds: boolean): NodeRef {
  if (uuidIds) {
    if (!isUuidLike(id)) throw badRequest(`Invalid uuid ${id}`);
    return { uuid: id };
  }
  if (!/^\s*\d+\s*$/.test(id) || Number(id) > 2147483647) throw hypervisorNotFound(id);
  return { id: Number(id) };
}

/** Figures for `nodes` (those whose service is gone are left out, as Nova does), optionally with the instances on their hosts. */
export async function describe(ctx: ComputeContext, nodes: ComputeNodeRow[], withServers: boolean): Promise<Hypervisor[]> {
  if (!nodes.length) return [];
  const hosts = [...new Set(nodes.map((n) => n.host))];
  const [services, inventories, usages, instances] = await Promise.all([
    listServices(ctx.db),
    allInventories(ctx.db),
    allUsages(ctx.db),
    store.instancesOnHosts(ctx.db, hosts),
  ]);
  const serviceById = new Map(services.map((s) => [s.id, s]));
  const now = Date.now();
  const out: Hypervisor[] = [];
  for (const node of nodes) {
    const service = serviceById.get(node.service_id);
    if (!service) continue;
    const used = (rc: ResourceClass) => (inventories.get(node.uuid)?.[rc]?.reserved ?? 0) + (usages.get(node.uuid)?.used[rc] ?? 0);
    const onNode = instances.filter((i) => i.host === node.host && i.node === node.hypervisor_hostname);
    out.push({
      node,
      service,
      up: isUp(service, ctx.config, now),
      vcpusUsed: used('VCPU'),
      memoryMbUsed: used('MEMORY_MB'),
      localGbUsed: used('DISK_GB'),
      runningVms: onNode.length,
      currentWorkload: onNode.filter((i) => i.task_state !== null).length,
      ...(withServers ? { servers: instances.filter((i) => i.host === node.host) } : {}),
    });
  }
  return out;
}

export interface ListOptions {
  detail: boolean;
  limit?: number;
  marker?: string;
  /** hypervisor_hostname_pattern (2.53 on): nodes whose name contains it; none is a 404. */
  pattern?: string;
  withServers?: boolean;
}

/** Nodes whose hypervisor_hostname contains `pattern` (Nova's LIKE %pattern%); none is a 404. */
async function nodesMatching(ctx: ComputeContext, pattern: string): Promise<ComputeNodeRow[]> {
  const needle = pattern.toLowerCase();
  const found = (await store.listNodes(ctx.db)).filter((n) => n.hypervisor_hostname.toLowerCase().includes(needle));
  if (!found.length) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
  return found;
}

/** The id of the node a marker names (its uuid, or its id before 2.53); an unknown one is a 400. */
async function markerId(ctx: ComputeContext, marker: string): Promise<number> {
  const node = isUuidLike(marker)
    ? await store.getNode(ctx.db, { uuid: marker })
    : /^\d+$/.test(marker) && Number(marker) <= 2147483647
      ? await store.getNode(ctx.db, { id: Number(marker) })
      : undefined;
  if (!node) throw badRequest(`marker [${marker}] not found`);
  return node.id;
}

/** GET /os-hypervisors[/detail]: every node by id, a page of them, or those matching a pattern. */
export async function listHypervisors(ctx: ComputeContext, caller: ComputeCaller, opts: ListOptions): Promise<Hypervisor[]> {
  authorizeCompute(ctx, caller, `os_compute_api:os-hypervisors:${opts.detail ? 'list-detail' : 'list'}`, {});
  let nodes: ComputeNodeRow[];
  if (opts.pattern !== undefined) {
    nodes = await nodesMatching(ctx, opts.pattern);
  } else {
    const afterId = opts.marker === undefined ? undefined : await markerId(ctx, opts.marker);
    nodes = await store.listNodes(ctx.db, { limit: opts.limit, afterId });
  }
  return describe(ctx, nodes, opts.withServers ?? false);
}

/** GET /os-hypervisors/{pattern}/search and /servers (before 2.53). */
export async function searchHypervisors(ctx: ComputeContext, caller: ComputeCaller, pattern: string, withServers: boolean): Promise<Hypervisor[]> {
  authorizeCompute(ctx, caller, `os_compute_api:os-hypervisors:${withServers ? 'servers' : 'search'}`, {});
  return describe(ctx, await nodesMatching(ctx, pattern), withServers);
}

async function oneHypervisor(ctx: ComputeContext, id: string, ref: NodeRef, withServers: boolean): Promise<Hypervisor> {
  const node = await store.getNode(ctx.db, ref);
  const [found] = node ? await describe(ctx, [node], withServers) : [];
  if (!found) throw hypervisorNotFound(id);
  return found;
}

/** GET /os-hypervisors/{id} */
export async function showHypervisor(ctx: ComputeContext, caller: ComputeCaller, id: string, uuidIds: boolean, withServers: boolean): Promise<Hypervisor> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hypervisors:show', {});
  return oneHypervisor(ctx, id, nodeRef(id, uuidIds), withServers);
}

/** How long the API waits for an agent's uptime. */
const UPTIME_TIMEOUT_MS = 5_000;

/** The uptime the agent of the node's host tells (Nova's get_host_uptime); throws the bus's errors. */
const askUptime = (ctx: ComputeContext, h: Hypervisor) => computeClient(ctx.bus, h.node.host).call('get_host_uptime', {}, { timeoutMs: UPTIME_TIMEOUT_MS });

/**
 * GET /os-hypervisors/{id}/uptime (before 2.88): the host's agent asked
 * (`uptime` as the host prints it). A host whose service is down, or whose
 * agent does not answer, is Nova's 400; a driver that cannot tell is a 501.
 */
export async function hypervisorUptime(ctx: ComputeContext, caller: ComputeCaller, id: string, uuidIds: boolean): Promise<Hypervisor> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hypervisors:uptime', {});
  const hypervisor = await oneHypervisor(ctx, id, nodeRef(id, uuidIds), false);
  const unavailable = () => badRequest(`Compute service of ${hypervisor.node.host} is unavailable at this time.`);
  if (!hypervisor.up) throw unavailable();
  try {
    return { ...hypervisor, uptime: await askUptime(ctx, hypervisor) };
  } catch (e) {
    if (e instanceof BusRemoteError && e.remoteName === 'NotSupported') throw notImplemented('The requested functionality is not supported.');
    if (e instanceof BusTimeoutError) throw unavailable();
    throw e;
  }
}

/** The 2.88 detail's uptime of each hypervisor: asked of the agents of the up ones at once, null where none answers. */
export async function withUptimes(ctx: ComputeContext, hypervisors: Hypervisor[]): Promise<Hypervisor[]> {
  return Promise.all(hypervisors.map(async (h) => ({ ...h, uptime: h.up ? await askUptime(ctx, h).catch(() => null) : null })));
}

/** Nova's hypervisor_statistics. */
export type HypervisorStatistics = components['schemas']['HypervisorStatistics']['hypervisor_statistics'];

/** GET /os-hypervisors/statistics (before 2.88): sums over the nodes of enabled compute services. */
export async function hypervisorStatistics(ctx: ComputeContext, caller: ComputeCaller): Promise<HypervisorStatistics> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hypervisors:statistics', {});
  const keys = ['count', 'vcpus', 'memory_mb', 'local_gb', 'vcpus_used', 'memory_mb_used', 'local_gb_used', 'free_ram_mb', 'free_disk_gb', 'current_workload', 'running_vms', 'disk_available_least'] as const;
  // disk_available_least stays 0: no node reports it (Nova sums its nulls to 0).
  const stats = Object.fromEntries(keys.map((k) => [k, 0])) as HypervisorStatistics;
  for (const h of await describe(ctx, await store.listNodes(ctx.db), false)) {
    if (h.service.disabled) continue;
    stats.count += 1;
    stats.vcpus += h.node.vcpus;
    stats.memory_mb += h.node.memory_mb;
    stats.local_gb += h.node.local_gb;
    stats.vcpus_used += h.vcpusUsed;
    stats.memory_mb_used += h.memoryMbUsed;
    stats.local_gb_used += h.localGbUsed;
    stats.free_ram_mb += h.node.memory_mb - h.memoryMbUsed;
    stats.free_disk_gb += h.node.local_gb - h.localGbUsed;
    stats.current_workload += h.currentWorkload;
    stats.running_vms += h.runningVms;
  }
  return stats;
}
