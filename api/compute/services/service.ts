import { createPlacement } from '../../../scheduler/placement/service.ts';
import { updateService as updateByHostBinary, type ComputeServiceRow, type ServiceChanges } from '../../../scheduler/compute-nodes/store.ts';
import { badRequest, conflict, isNuboError, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { removeHostFromAggregates } from '../aggregates/service.ts';
import { instancesOnHosts } from '../hypervisors/store.ts';
import { validateInteger } from '../query.ts';
import { isCompute, isUuidLike, novaBinary, NOVA_COMPUTE, storedBinary } from './state.ts';
import * as store from './store.ts';

/** How a DELETE names a service: an integer id before 2.53, a uuid from 2.53; anything else is a 400. */
function serviceRef(id: string, uuidIds: boolean): { id: number } | { uuid: string } {
  if (uuidIds) {
    if (!isUuidLike(id)) throw badRequest(`Invalid uuid ${id}`);
    return { uuid: id };
  }
  return { id: validateInteger(id, 'id', undefined, 2147483647) };
}

const notCompute = (binary: string) => badRequest(`Updating a ${binary} service is not supported. Only nova-compute services can be updated.`);

/** GET /os-services[?host&binary]: every service (binary as Nova names it). */
export async function listServices(ctx: ComputeContext, caller: ComputeCaller, filter: { host?: string; binary?: string }): Promise<ComputeServiceRow[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-services:list', {});
  return (await store.listServices(ctx.db)).filter((s) => (!filter.host || s.host === filter.host) && (!filter.binary || novaBinary(s.binary) === filter.binary));
}

/**
 * The actions before 2.53 (PUT /os-services/{enable,disable,disable-log-reason,force-down}):
 * the service is named by host and (Nova) binary; only nova-compute may change.
 */
export async function updateByHost(ctx: ComputeContext, caller: ComputeCaller, host: string, binary: string, changes: ServiceChanges): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-services:update', {});
  if (binary !== NOVA_COMPUTE) throw notCompute(binary);
  if (!(await updateByHostBinary(ctx.db, host, storedBinary(binary), changes))) {
    const known = (await store.listServices(ctx.db)).some((s) => s.host === host);
    throw notFound(known ? `Could not find binary ${binary} on host ${host}.` : `Host '${host}' is not mapped to any cell`);
  }
}

export interface ServiceUpdate {
  status?: 'enabled' | 'disabled';
  disabled_reason?: string;
  forced_down?: boolean;
}

/** PUT /os-services/{uuid} (2.53 on): status (with an optional reason when disabling) and/or forced_down. */
export async function updateService(ctx: ComputeContext, caller: ComputeCaller, uuid: string, update: ServiceUpdate): Promise<ComputeServiceRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-services:update', {});
  const service = await store.getService(ctx.db, { uuid });
  if (!service) throw notFound(`Service ${uuid} could not be found.`);
  if (!isCompute(service)) throw notCompute(novaBinary(service.binary));
  const changes: ServiceChanges = {};
  if (update.status === 'enabled') {
    if (update.disabled_reason) throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
    changes.disabled = false;
    changes.disabled_reason = null;
  } else if (update.status === 'disabled') {
    changes.disabled = true;
    changes.disabled_reason = update.disabled_reason ?? null;
  }
  if (update.forced_down !== undefined) changes.forced_down = update.forced_down;
  if (!Object.keys(changes).length) throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
  return (await updateByHostBinary(ctx.db, service.host, service.binary, changes)) ?? service;
}

/**
 * DELETE /os-services/{id}: a compute service hosting instances is a 409;
 * otherwise its nodes' resource providers go from placement, then the service
 * and its nodes, and its host leaves its aggregates. (A running agent
 * re-creates its row on its next heartbeat,
 * as in Nova.)
 */
export async function deleteService(ctx: ComputeContext, caller: ComputeCaller, id: string, uuidIds: boolean): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-services:delete', {});
  const service = await store.getService(ctx.db, serviceRef(id, uuidIds));
  if (!service) throw notFound(`Service ${id} not found.`);
  if (isCompute(service)) {
    if ((await instancesOnHosts(ctx.db, [service.host])).length) {
      throw conflict('Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');
    }
    const placement = createPlacement(ctx.db);
    for (const uuid of await store.nodeUuidsOf(ctx.db, service.id)) {
      try {
        await placement.deleteProvider(uuid);
      } catch (e) {
        if (isNuboError(e) && e.kind === 'NotFound') continue;
        if (isNuboError(e) && e.kind === 'Conflict') {
          throw conflict('Unable to delete compute service that has in-progress migrations. Complete the migrations or delete the instances first.');
        }
        throw e;
      }
    }
  }
  if (!(await store.deleteService(ctx.db, service.id))) throw notFound(`Service ${id} not found.`);
  if (isCompute(service)) await removeHostFromAggregates(ctx.db, service.host);
}
