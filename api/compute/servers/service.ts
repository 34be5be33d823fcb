import { COMPUTE_BINARY, computeClient } from '../../../compute-driver/rpc.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { assertNotLocked, hostStatusOf, instanceTarget, serverTarget } from './access.ts';
import * as store from './store.ts';
import type { InstanceRow } from './store.ts';
import { canonicalIpv6 } from './access-ip.ts';

/** PUT /servers/{id} `server`, as the spec validated it. */
export interface ServerUpdateInput {
  name?: string;
  description?: string | null;
  hostname?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  'OS-DCF:diskConfig'?: 'AUTO' | 'MANUAL';
}

/** PUT /servers/{id}: name, description (2.19), hostname (2.90), access IPs, disk config. Nova does not check the lock here. */
export async function updateServer(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, input: ServerUpdateInput): Promise<InstanceRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:servers:update', serverTarget(row));
  const changes: Partial<InstanceRow> = {};
  if (input.name !== undefined) changes.display_name = input.name.trim();
  if ('description' in input) changes.display_description = input.description ?? null;
  if (input.hostname !== undefined) changes.hostname = input.hostname;
  if (input.accessIPv4 !== undefined) changes.access_ip_v4 = input.accessIPv4;
  if (input.accessIPv6 !== undefined) changes.access_ip_v6 = canonicalIpv6(input.accessIPv6);
  if (input['OS-DCF:diskConfig'] !== undefined) changes.auto_disk_config = input['OS-DCF:diskConfig'] === 'AUTO';
  return (await store.updateInstance(ctx.db, row.uuid, changes)) ?? row;
}

/**
 * Nova's compute API _delete, for DELETE /servers/{id} and forceDelete. A
 * server no host has taken yet is deleted at once (its quota is free at
 * commit), and so is one whose host's compute service is down or gone
 * (Nova's local delete; the conductor has the agent terminate the guest if
 * the host comes back). Otherwise task_state becomes deleting, the `delete`
 * action is recorded and terminate_instance is cast to the host, whose agent
 * reports the instance deleted. A server already deleting is left alone.
 */
export async function deleteServer(ctx: ComputeContext, caller: ComputeCaller, row: InstanceRow, policy: string, requestId: string): Promise<void> {
  authorizeCompute(ctx, caller, policy, serverTarget(row));
  assertNotLocked(caller, row);
  if (!row.host) {
    if (await store.destroyInstance(ctx.db, row.uuid, { noHost: true })) return;
    // A host took it meanwhile: delete it there.
    const now = await store.getInstance(ctx.db, row.uuid);
    if (!now || now.deleted_at) return;
    row = now;
  }
  const original = row.task_state;
  const services = await store.computeServicesOf(ctx.db, [row.host!], COMPUTE_BINARY);
  const status = hostStatusOf(ctx, row.host, services);
  if (status !== 'UP' && status !== 'MAINTENANCE') {
    await store.destroyInstance(ctx.db, row.uuid);
    return;
  }
  if (original === 'deleting' || original === 'soft-deleting') return;
  const updated = await store.updateInstance(ctx.db, row.uuid, { task_state: 'deleting', progress: 0 });
  if (!updated) return;
  await store.recordAction(ctx.db, { uuid: row.uuid, action: 'delete', requestId, userId: caller.userId, projectId: caller.projectId });
  await computeClient(ctx.bus, updated.host!).cast('terminate_instance', {
    instance: instanceTarget(updated),
    request_id: requestId,
  });
}
