import { notFound, notImplemented } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { describe } from '../hypervisors/service.ts';
import { listNodes } from '../hypervisors/store.ts';
import { isCompute, novaBinary, zoneOf } from '../services/state.ts';
import { listServices } from '../services/store.ts';
import { usageOnHost } from './store.ts';

/** One host of GET /os-hosts: the host of a service, its topic (compute, scheduler…) and zone. */
export interface HostEntry {
  host_name: string;
  service: string;
  zone: string;
}

/** One row of GET /os-hosts/{host}: a total, what is used, or one project's use. */
export interface HostResource {
  host: string;
  project: string;
  cpu: number;
  memory_mb: number;
  disk_gb: number;
}

/** Nova's hosts index: the enabled services (in `zone`, when one is named), each as its host and topic. */
export async function listHosts(ctx: ComputeContext, caller: ComputeCaller, zone: string | undefined): Promise<HostEntry[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hosts:list', {});
  return (await listServices(ctx.db))
    .filter((s) => !s.disabled && (!zone || zoneOf(s) === zone))
    .map((s) => ({ host_name: s.host, service: novaBinary(s.binary).replace(/^nova-/, ''), zone: zoneOf(s) }));
}

/** Whether `host` runs a compute service (Nova's _assert_host_exists). */
async function computeHostExists(ctx: ComputeContext, host: string): Promise<boolean> {
  return (await listServices(ctx.db)).some((s) => isCompute(s) && s.host === host);
}

/**
 * Nova's hosts show: the first node of the host's (total) and (used_now)
 * figures (as os-hypervisors counts them), then what its instances use in
 * all, (used_max), and by project.
 */
export async function showHost(ctx: ComputeContext, caller: ComputeCaller, host: string): Promise<HostResource[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hosts:show', {});
  const nodes = (await listNodes(ctx.db)).filter((n) => n.host === host);
  const [first] = await describe(ctx, nodes, false);
  if (!first) throw notFound(`Host '${host}' is not mapped to any cell`);
  const row = (project: string, cpu: number, memory_mb: number, disk_gb: number): HostResource => ({ host, project, cpu, memory_mb, disk_gb });
  const out = [row('(total)', first.node.vcpus, first.node.memory_mb, first.node.local_gb), row('(used_now)', first.vcpusUsed, first.memoryMbUsed, first.localGbUsed)];
  const usage = await usageOnHost(ctx.db, host);
  const sum = (project: string, of: typeof usage) =>
    row(project, of.reduce((n, u) => n + u.vcpus, 0), of.reduce((n, u) => n + u.memory_mb, 0), of.reduce((n, u) => n + u.disk_gb, 0));
  out.push(sum('(used_max)', usage));
  for (const project of new Set(usage.map((u) => u.project_id))) out.push(sum(project, usage.filter((u) => u.project_id === project)));
  return out;
}

const hostNotFound = (host: string) => notFound(`Compute host ${host} could not be found.`);

/**
 * Nova's hosts update: maintenance mode and enabled status are asked of the
 * host's driver, and neither Nubo driver has them (the compute RPC contract
 * has no such call): 501 for a compute host, as Nova for such a driver; 404
 * for another name.
 */
export async function updateHost(ctx: ComputeContext, caller: ComputeCaller, host: string, change: { status?: string; maintenance_mode?: string }): Promise<never> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-hosts:update', {});
  if (!(await computeHostExists(ctx, host))) throw hostNotFound(host);
  if (change.maintenance_mode !== undefined) throw notImplemented('Virt driver does not implement host maintenance mode.');
  throw notImplemented('Virt driver does not implement host disabled status.');
}

/** GET /os-hosts/{host}/{startup,shutdown,reboot}: host power management, which no Nubo driver has (501); 404 for an unknown host. */
export async function hostPowerAction(ctx: ComputeContext, caller: ComputeCaller, host: string, action: 'startup' | 'shutdown' | 'reboot'): Promise<never> {
  authorizeCompute(ctx, caller, `os_compute_api:os-hosts:${action === 'startup' ? 'start' : action}`, {});
  if (!(await computeHostExists(ctx, host))) throw hostNotFound(host);
  throw notImplemented('Virt driver does not implement host power management.');
}
