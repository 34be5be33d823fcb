import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { COMPUTE_BINARY } from '../../../compute-driver/rpc.ts';
import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { getService } from '../../../scheduler/compute-nodes/store.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { instancesOnHosts } from '../hypervisors/store.ts';
import { validateInteger } from '../query.ts';
import * as store from './store.ts';
import { ZONE_KEY, type AggregateRecord } from './store.ts';

/**
 * os-aggregates (Nova's AggregateAPI): admin-only groups of compute hosts
 * with metadata. An aggregate's `availability_zone` metadata puts its hosts
 * in that zone (every reader of a host's zone sees it through
 * hostZoneColumn), so a host may be in several aggregates but in one zone
 * only. Every change that could move a host between zones runs under one
 * lock (store.lockZones).
 */

const rule = (action: string) => `os_compute_api:os-aggregates:${action}`;

const aggregateNotFound = (id: number | string) => notFound(`Aggregate ${id} could not be found.`);
const nameExists = (name: string) => conflict(`Aggregate ${name} already exists.`);

/** Nova's aggregate ids are integers: anything else is a 400 (utils.validate_integer). */
const aggregateId = (id: string) => validateInteger(id, 'id');

/** Nova's common.normalize_name: the name without leading and trailing whitespace. */
const normalizeName = (name: string) => name.trim();

/** The aggregate's zone: its availability_zone metadata, else none. */
export const zoneOfAggregate = (a: Pick<AggregateRecord, 'metadata'>): string | null => a.metadata[ZONE_KEY] ?? null;

async function findAggregate(conn: Knex | Knex.Transaction, id: number): Promise<AggregateRecord> {
  const aggregate = await store.getAggregate(conn, id);
  if (!aggregate) throw aggregateNotFound(id);
  return aggregate;
}

/** Whether `host` has a compute service (Nova's ComputeHostNotFound otherwise). */
async function isComputeHost(conn: Knex | Knex.Transaction, host: string): Promise<boolean> {
  return (await getService(conn, host, COMPUTE_BINARY)) !== undefined;
}

/** Python's repr of a list of strings, as Nova's messages print one. */
const pyList = (items: string[]) => `[${items.map((s) => `'${s}'`).join(', ')}]`;

/**
 * Nova's is_safe_to_update_az: when `metadata` sets a zone, it must be named,
 * no host (`hosts`, else the aggregate's) may be in another aggregate of
 * another zone, and (`checkInstances`, when the zone changes) none may hold
 * instances. Returns the reason it is not safe, or undefined.
 */
async function unsafeZoneChange(
  conn: Knex.Transaction,
  aggregate: AggregateRecord,
  metadata: Record<string, string | null>,
  opts: { hosts?: string[]; checkInstances?: boolean } = {},
): Promise<string | undefined> {
  if (!(ZONE_KEY in metadata)) return undefined;
  const zone = metadata[ZONE_KEY];
  if (!zone) return `Aggregate ${aggregate.name} does not support empty named availability zone`;
  const hosts = opts.hosts ?? aggregate.hosts;
  const conflicting = (await store.zonedAggregatesOf(conn, hosts)).filter((a) => a.id !== aggregate.id && a.zone !== zone).map((a) => a.zone);
  if (conflicting.length) return `One or more hosts already in availability zone(s) ${pyList([...new Set(conflicting)].sort())}`;
  if (opts.checkInstances && zoneOfAggregate(aggregate) !== zone && (await instancesOnHosts(conn, hosts)).length) {
    return 'One or more hosts contain instances in this zone';
  }
  return undefined;
}

/** GET /os-aggregates */
export async function listAggregates(ctx: ComputeContext, caller: ComputeCaller): Promise<AggregateRecord[]> {
  authorizeCompute(ctx, caller, rule('index'), {});
  return store.listAggregates(ctx.db);
}

/** GET /os-aggregates/{id} */
export async function showAggregate(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('show'), {});
  return findAggregate(ctx.db, aggregateId(id));
}

/** POST /os-aggregates: 409 for a name another aggregate has. */
export async function createAggregate(ctx: ComputeContext, caller: ComputeCaller, input: { name: string; availabilityZone?: string | null }): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('create'), {});
  const name = normalizeName(input.name);
  const zone = input.availabilityZone ? normalizeName(input.availabilityZone) : undefined;
  const metadata: Record<string, string> = zone ? { [ZONE_KEY]: zone } : {};
  try {
    const row = await ctx.db.transaction(async (trx) => {
      if (await store.nameTaken(trx, name)) throw nameExists(name);
      return store.insertAggregate(trx, { uuid: randomUUID(), name }, metadata);
    });
    return { ...row, hosts: [], metadata };
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw nameExists(name);
    throw e;
  }
}

/**
 * PUT /os-aggregates/{id}: a new name (409 when taken) and/or zone (400 when
 * unsafe: empty, a host in another zone's aggregate, or hosts with instances
 * moving zone).
 */
export async function updateAggregate(ctx: ComputeContext, caller: ComputeCaller, id: string, input: { name?: string; availabilityZone?: string | null }): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('update'), {});
  const aggregateIdN = aggregateId(id);
  const name = input.name === undefined ? undefined : normalizeName(input.name);
  try {
    return await ctx.db.transaction(async (trx) => {
      await store.lockZones(trx);
      const aggregate = await findAggregate(trx, aggregateIdN);
      if (name !== undefined && (await store.nameTaken(trx, name, aggregate.id))) throw nameExists(name);
      const metadata: Record<string, string | null> = input.availabilityZone === undefined ? {} : { [ZONE_KEY]: input.availabilityZone };
      const unsafe = await unsafeZoneChange(trx, aggregate, metadata, { checkInstances: true });
      if (unsafe) throw badRequest(`Cannot update aggregate ${aggregate.id}. Reason: ${unsafe}.`);
      await store.touchAggregate(trx, aggregate.id, name);
      await store.updateMetadata(trx, aggregate.id, metadata);
      return findAggregate(trx, aggregate.id);
    });
  } catch (e) {
    if (isPostgresUniqueViolation(e) && name !== undefined) throw nameExists(name);
    throw e;
  }
}

/** DELETE /os-aggregates/{id}: 400 while the aggregate has hosts. */
export async function deleteAggregate(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<void> {
  authorizeCompute(ctx, caller, rule('delete'), {});
  const aggregateIdN = aggregateId(id);
  await ctx.db.transaction(async (trx) => {
    await store.lockZones(trx);
    const aggregate = await findAggregate(trx, aggregateIdN);
    if (aggregate.hosts.length) throw badRequest(`Cannot remove host from aggregate ${aggregate.id}. Reason: Host aggregate is not empty.`);
    if (!(await store.deleteAggregate(trx, aggregate.id))) throw aggregateNotFound(aggregate.id);
  });
}

/**
 * add_host: 404 for a host without a compute service or an unknown
 * aggregate; 409 when the host is in another aggregate of another zone, or
 * in this one already.
 */
export async function addHost(ctx: ComputeContext, caller: ComputeCaller, id: string, host: string): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('add_host'), {});
  const aggregateIdN = aggregateId(id);
  return ctx.db.transaction(async (trx) => {
    await store.lockZones(trx);
    if (!(await isComputeHost(trx, host))) throw notFound(`Compute host ${host} could not be found.`);
    const aggregate = await findAggregate(trx, aggregateIdN);
    const unsafe = await unsafeZoneChange(trx, aggregate, aggregate.metadata, { hosts: [host] });
    if (unsafe) throw conflict(`Cannot add host to aggregate ${aggregate.id}. Reason: ${unsafe}.`);
    if (!(await store.addHost(trx, aggregate.id, host))) throw conflict(`Aggregate ${aggregate.id} already has host ${host}.`);
    return findAggregate(trx, aggregate.id);
  });
}

/** remove_host: 404 (one message, as Nova) for an unknown host or aggregate, or a host the aggregate does not have. */
export async function removeHost(ctx: ComputeContext, caller: ComputeCaller, id: string, host: string): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('remove_host'), {});
  const aggregateIdN = aggregateId(id);
  const cannot = () => notFound(`Cannot remove host ${host} in aggregate ${id}`);
  return ctx.db.transaction(async (trx) => {
    await store.lockZones(trx);
    if (!(await isComputeHost(trx, host))) throw cannot();
    if (!(await store.getAggregate(trx, aggregateIdN))) throw cannot();
    if (!(await store.removeHost(trx, aggregateIdN, host))) throw cannot();
    return findAggregate(trx, aggregateIdN);
  });
}

/** set_metadata: each key set, a null value removing its key; an `availability_zone` key is checked as an update's (400). */
export async function setMetadata(ctx: ComputeContext, caller: ComputeCaller, id: string, metadata: Record<string, string | null>): Promise<AggregateRecord> {
  authorizeCompute(ctx, caller, rule('set_metadata'), {});
  const aggregateIdN = aggregateId(id);
  return ctx.db.transaction(async (trx) => {
    await store.lockZones(trx);
    const aggregate = await findAggregate(trx, aggregateIdN);
    const unsafe = await unsafeZoneChange(trx, aggregate, metadata, { checkInstances: true });
    if (unsafe) throw badRequest(`Cannot update metadata of aggregate ${aggregate.id}. Reason: ${unsafe}.`);
    await store.updateMetadata(trx, aggregate.id, metadata);
    await store.touchAggregate(trx, aggregate.id);
    return findAggregate(trx, aggregate.id);
  });
}

/** For deleting a compute service: its host leaves every aggregate (Nova's os-services delete does the same). */
export async function removeHostFromAggregates(conn: Knex | Knex.Transaction, host: string): Promise<void> {
  for (const id of await store.aggregatesOfHost(conn, host)) await store.removeHost(conn, id, host);
}
