import type { Knex } from 'knex';
import type { Db } from '../../lib/db/index.ts';
import { isResourceClass, type Inventories, type Inventory, type ResourceClass, type Resources } from './resources.ts';

/** The SQL of resource providers, inventories and allocations. The rules are in service.ts. */

type Conn = Db | Knex.Transaction;

export interface ProviderRow {
  id: number;
  uuid: string;
  name: string;
  generation: number;
}

interface InventoryRow {
  provider_id: number;
  resource_class: string;
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
}


const toInventory = (r: InventoryRow): Inventory => ({
  total: Number(r.total),
  reserved: Number(r.reserved),
  minUnit: Number(r.min_unit),
  maxUnit: Number(r.max_unit),
  stepSize: Number(r.step_size),
  allocationRatio: Number(r.allocation_ratio),
});

const toRow = (providerId: number, rc: ResourceClass, inv: Inventory): InventoryRow => ({
  provider_id: providerId,
  resource_class: rc,
  total: inv.total,
  reserved: inv.reserved,
  min_unit: inv.minUnit,
  max_unit: inv.maxUnit,
  step_size: inv.stepSize,
  allocation_ratio: inv.allocationRatio,
});

export async function getProvider(conn: Conn, uuid: string): Promise<ProviderRow | undefined> {
  return conn<ProviderRow>('resource_providers').select('id', 'uuid', 'name', 'generation').where({ uuid }).first();
}

/** Creates the provider unless a provider with this uuid exists; returns the row either way. */
export async function insertProvider(conn: Conn, uuid: string, name: string): Promise<ProviderRow> {
  await conn('resource_providers').insert({ uuid, name }).onConflict('uuid').ignore();
  return (await getProvider(conn, uuid))!;
}

export async function renameProvider(conn: Conn, id: number, name: string): Promise<void> {
  await conn('resource_providers')
    .where({ id })
    .update({ name, generation: conn.raw('generation + 1'), updated_at: conn.fn.now() });
}

/** Deletes the provider (and its inventory) if nothing is allocated from it; false otherwise. */
export async function deleteUnusedProvider(conn: Conn, id: number): Promise<boolean> {
  const deleted = await conn('resource_providers')
    .where({ id })
    .whereNotExists(conn('allocations').select(conn.raw('1')).where('allocations.provider_id', id))
    .delete()
    .returning('id');
  return deleted.length > 0;
}

/**
 * The provider row, locked until `trx` ends: every claim, inventory change
 * or release on this provider waits here for the one before it to commit.
 */
export async function lockProvider(trx: Knex.Transaction, uuid: string): Promise<ProviderRow | undefined> {
  return trx<ProviderRow>('resource_providers').select('id', 'uuid', 'name', 'generation').where({ uuid }).forUpdate().first();
}

/** Locks the providers holding allocations of any of `consumers`, in id order (so two lockers never deadlock). */
export async function lockProvidersOfConsumers(trx: Knex.Transaction, consumers: string[]): Promise<number[]> {
  const rows = await trx('resource_providers')
    .select('id')
    .whereIn('id', trx('allocations').distinct('provider_id').whereIn('consumer_id', consumers))
    .orderBy('id')
    .forUpdate();
  return rows.map((r: { id: number }) => r.id);
}

/** Bumps the provider's generation if it is still `expected`; returns the new one, or undefined if it was not. */
export async function bumpGeneration(trx: Knex.Transaction, id: number, expected: number): Promise<number | undefined> {
  const [row] = await trx('resource_providers')
    .where({ id, generation: expected })
    .update({ generation: trx.raw('generation + 1'), updated_at: trx.fn.now() })
    .returning('generation');
  return row?.generation;
}

export async function bumpGenerations(trx: Knex.Transaction, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await trx('resource_providers')
    .whereIn('id', ids)
    .update({ generation: trx.raw('generation + 1'), updated_at: trx.fn.now() });
}

export async function readInventories(conn: Conn, providerId: number): Promise<Inventories> {
  const rows: InventoryRow[] = await conn('inventories').where({ provider_id: providerId });
  const out: Inventories = {};
  for (const r of rows) if (isResourceClass(r.resource_class)) out[r.resource_class] = toInventory(r);
  return out;
}

/** Writes the provider's inventory: upserts the given classes, deletes the others (a class in use fails on its foreign key). */
export async function replaceInventories(trx: Knex.Transaction, providerId: number, inventories: Inventories): Promise<void> {
  const rows = Object.entries(inventories).map(([rc, inv]) => toRow(providerId, rc as ResourceClass, inv));
  await trx('inventories')
    .where({ provider_id: providerId })
    .whereNotIn('resource_class', rows.map((r) => r.resource_class))
    .delete();
  if (rows.length) await trx('inventories').insert(rows).onConflict(['provider_id', 'resource_class']).merge();
}

export interface InventoryUsage {
  inventory: Inventory;
  /** Allocated of the class, but for the consumer's own allocations. */
  used: number;
  /** What the consumer itself holds of the class. */
  held: number;
}

/** The provider's inventory with what is allocated of each class, apart from what `consumer` holds (given on its own). */
export async function inventoryUsage(conn: Conn, providerId: number, consumer: string): Promise<Partial<Record<ResourceClass, InventoryUsage>>> {
  const sum = (op: string) =>
    `coalesce((select sum(a.used) from allocations a where a.provider_id = i.provider_id and a.resource_class = i.resource_class and a.consumer_id ${op} ?), 0)`;
  const rows: (InventoryRow & { used: string | number; held: string | number })[] = await conn('inventories as i')
    .select('i.*', conn.raw(`${sum('<>')} as used, ${sum('=')} as held`, [consumer, consumer]))
    .where('i.provider_id', providerId);
  const out: Partial<Record<ResourceClass, InventoryUsage>> = {};
  for (const r of rows) {
    if (isResourceClass(r.resource_class)) out[r.resource_class] = { inventory: toInventory(r), used: Number(r.used), held: Number(r.held) };
  }
  return out;
}

/**
 * Replaces what `consumer` holds of the locked provider `p` with
 * `resources` (deleting first only when it `holds` some) and bumps the
 * generation if it is still p's, the insert and the bump in one statement;
 * returns the new generation, or undefined if it was not (the caller's
 * transaction must then roll the insert back).
 */
export async function allocateAndBump(
  trx: Knex.Transaction,
  p: ProviderRow,
  consumer: string,
  resources: [ResourceClass, number][],
  holds: boolean,
): Promise<number | undefined> {
  if (holds) await trx('allocations').where({ provider_id: p.id, consumer_id: consumer }).delete();
  const rows = resources.map(([rc, used]) => ({ provider_id: p.id, resource_class: rc, consumer_id: consumer, used }));
  const [row] = await trx
    .with('added', trx('allocations').insert(rows))
    .table('resource_providers')
    .where({ id: p.id, generation: p.generation })
    .update({ generation: trx.raw('generation + 1'), updated_at: trx.fn.now() })
    .returning('generation');
  return row?.generation;
}

/** Replaces what `consumer` holds of the provider with `resources` (the caller bumps the generation). */
export async function replaceAllocations(trx: Knex.Transaction, providerId: number, consumer: string, resources: [ResourceClass, number][]): Promise<void> {
  await trx('allocations').where({ provider_id: providerId, consumer_id: consumer }).delete();
  await trx('allocations').insert(resources.map(([rc, used]) => ({ provider_id: providerId, resource_class: rc, consumer_id: consumer, used })));
}

/** Whether any of `consumers` holds anything anywhere. */
export async function holdsAny(conn: Conn, consumers: string[]): Promise<boolean> {
  return !!(await conn('allocations').select(conn.raw('1')).whereIn('consumer_id', consumers).first());
}

export async function deleteAllocations(trx: Knex.Transaction, consumer: string | string[], providerId?: number): Promise<void> {
  const q = trx('allocations').whereIn('consumer_id', typeof consumer === 'string' ? [consumer] : consumer);
  if (providerId !== undefined) q.where({ provider_id: providerId });
  await q.delete();
}

/** Hands every allocation of `from` to `to`; returns how many moved (counted with returning: knex-pglite answers a row count as a result object). */
export async function reassignAllocations(trx: Knex.Transaction, from: string, to: string): Promise<number> {
  return (await trx('allocations').where({ consumer_id: from }).update({ consumer_id: to }).returning('id')).length;
}

export interface ConsumerAllocation {
  providerUuid: string;
  generation: number;
  resources: Resources;
}

export async function allocationsOf(conn: Conn, consumer: string): Promise<ConsumerAllocation[]> {
  const rows: { uuid: string; generation: number; resource_class: string; used: number }[] = await conn('allocations as a')
    .join('resource_providers as p', 'p.id', 'a.provider_id')
    .select('p.uuid', 'p.generation', 'a.resource_class', 'a.used')
    .where('a.consumer_id', consumer)
    .orderBy(['p.uuid', 'a.resource_class']);
  const byProvider = new Map<string, ConsumerAllocation>();
  for (const r of rows) {
    let a = byProvider.get(r.uuid);
    if (!a) byProvider.set(r.uuid, (a = { providerUuid: r.uuid, generation: r.generation, resources: {} }));
    if (isResourceClass(r.resource_class)) a.resources[r.resource_class] = Number(r.used);
  }
  return [...byProvider.values()];
}

/** Sums of allocations per resource class of one provider. */
export async function usagesOf(conn: Conn, providerId: number): Promise<Resources> {
  const rows: { resource_class: string; used: string | number }[] = await conn('allocations')
    .select('resource_class')
    .sum({ used: 'used' })
    .where({ provider_id: providerId })
    .groupBy('resource_class');
  const out: Resources = {};
  for (const r of rows) if (isResourceClass(r.resource_class)) out[r.resource_class] = Number(r.used);
  return out;
}

// Whole-cloud reads for the scheduler's host states: one query each.

/** Every provider's inventories, by provider uuid. */
export async function allInventories(conn: Conn): Promise<Map<string, Inventories>> {
  const rows: (InventoryRow & { uuid: string })[] = await conn('inventories as i').join('resource_providers as p', 'p.id', 'i.provider_id').select('i.*', 'p.uuid');
  const out = new Map<string, Inventories>();
  for (const r of rows) {
    if (!isResourceClass(r.resource_class)) continue;
    let inv = out.get(r.uuid);
    if (!inv) out.set(r.uuid, (inv = {}));
    inv[r.resource_class] = toInventory(r);
  }
  return out;
}

/** Every provider's usages and (unless not `withConsumers`) consumers, the instances on it, by provider uuid, in one query. */
export async function allUsages(conn: Conn, withConsumers = true): Promise<Map<string, { used: Resources; consumers: Set<string> }>> {
  const rows: { uuid: string; resource_class: string; used: string | number; consumers?: string[] }[] = await conn('allocations as a')
    .join('resource_providers as p', 'p.id', 'a.provider_id')
    .select('p.uuid', 'a.resource_class', ...(withConsumers ? [conn.raw('array_agg(a.consumer_id) as consumers')] : []))
    .sum({ used: 'a.used' })
    .groupBy('p.uuid', 'a.resource_class');
  const out = new Map<string, { used: Resources; consumers: Set<string> }>();
  for (const r of rows) {
    let u = out.get(r.uuid);
    if (!u) out.set(r.uuid, (u = { used: {}, consumers: new Set() }));
    if (isResourceClass(r.resource_class)) u.used[r.resource_class] = Number(r.used);
    for (const c of r.consumers ?? []) u.consumers.add(c);
  }
  return out;
}
