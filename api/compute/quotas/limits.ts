import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorizeCompute, callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, queryOf, rejectUnknownQuery } from '../query.ts';
import type { QuotaResource } from './resources.ts';
import { quotaDetails, type QuotaDetails } from './service.ts';

/** The absolute limits each quota shows as (nova/api/openstack/compute/views/limits.py). */
const LIMIT_NAMES: [QuotaResource, string[]][] = [
  ['ram', ['maxTotalRAMSize']],
  ['instances', ['maxTotalInstances']],
  ['cores', ['maxTotalCores']],
  ['key_pairs', ['maxTotalKeypairs']],
  ['floating_ips', ['maxTotalFloatingIps']],
  ['metadata_items', ['maxServerMeta', 'maxImageMeta']],
  ['injected_files', ['maxPersonality']],
  ['injected_file_content_bytes', ['maxPersonalitySize']],
  ['security_groups', ['maxSecurityGroups']],
  ['security_group_rules', ['maxSecurityGroupRules']],
  ['server_groups', ['maxServerGroups']],
  ['server_group_members', ['maxServerGroupMembers']],
];

/** The usage each counted quota shows as. */
const USED_NAMES: [string, QuotaResource][] = [
  ['totalRAMUsed', 'ram'],
  ['totalCoresUsed', 'cores'],
  ['totalInstancesUsed', 'instances'],
  ['totalFloatingIpsUsed', 'floating_ips'],
  ['totalSecurityGroupsUsed', 'security_groups'],
  ['totalServerGroupsUsed', 'server_groups'],
];

/** Limits a microversion leaves out: nova-network's from 2.36, maxImageMeta from 2.39, personality files' from 2.57. */
function hiddenLimits(request: FastifyRequest): Set<QuotaResource> {
  const v = request.microversion;
  const hidden = new Set<QuotaResource>();
  if (v.atLeast('2.36')) for (const r of ['floating_ips', 'security_groups', 'security_group_rules'] as const) hidden.add(r);
  if (v.atLeast('2.57')) for (const r of ['injected_files', 'injected_file_content_bytes'] as const) hidden.add(r);
  return hidden;
}

/** `{limits: {rate: [], absolute: {...}}}` (Nubo has no rate limits, as Nova since Newton). */
function limitsView(request: FastifyRequest, quotas: QuotaDetails) {
  const hidden = hiddenLimits(request);
  const absolute: Record<string, number> = {};
  for (const [resource, names] of LIMIT_NAMES) {
    if (hidden.has(resource)) continue;
    for (const name of names) {
      if (name === 'maxImageMeta' && request.microversion.atLeast('2.39')) continue;
      absolute[name] = quotas[resource].limit;
    }
  }
  for (const [name, resource] of USED_NAMES) if (!hidden.has(resource)) absolute[name] = quotas[resource].in_use;
  return { limits: { rate: [], absolute } };
}

/** GET /limits[?tenant_id=…]: the caller's project's limits and use; another project's for admins. */
export function registerLimitsRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/limits', async (request) => {
    const caller = callerOf(request, ctx);
    rejectUnknownQuery(request, ['tenant_id']);
    authorizeCompute(ctx, caller, 'os_compute_api:limits', {});
    let projectId = caller.projectId ?? '';
    const asked = lastValue(queryOf(request), 'tenant_id');
    if (asked !== undefined) {
      projectId = asked;
      authorizeCompute(ctx, caller, 'os_compute_api:limits:other_project');
    }
    return limitsView(request, await quotaDetails(ctx, projectId));
  });
}
