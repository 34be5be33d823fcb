import type { Knex } from 'knex';
import type { Db } from '../../lib/db/index.ts';
import { isPostgresForeignKeyViolation, isPostgresUniqueViolation } from '../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../lib/errors.ts';
import { misfit, requested, RESOURCE_CLASSES, type Inventories, type Inventory, type ResourceClass, type Resources } from './resources.ts';
import * as store from './store.ts';

/**
 * Placement as Nova uses it: resource providers (one per compute node), their
 * inventories, and the allocations consumers (instances, migrations) hold.
 *
 * Every write to a provider runs in one transaction that first locks the
 * provider's row (SELECT … FOR UPDATE), then reads inventory and usage,
 * checks, writes, and bumps the provider's generation. Two schedulers
 * claiming on the same provider therefore run one after the other: the
 * second reads usage only once the first has committed, in a statement whose
 * snapshot includes the first claim (READ COMMITTED takes one per
 * statement), so a provider is never over-committed whichever process wins.
 * A caller holding a provider's generation may pass it, and the write fails
 * with 409 if the provider changed since (Placement's
 * ConcurrentUpdateDetected).
 */

export interface Provider {
  uuid: string;
  name: string;
  generation: number;
  inventories: Inventories;
}

export interface WriteOptions {
  /** The generation the caller last saw; the write fails with Conflict if the provider changed since. */
  generation?: number;
}

const generationConflict = (uuid: string) =>
  conflict(`resource provider generation conflict: resource provider ${uuid} was updated by another process, refresh and retry`);

const providerNotFound = (uuid: string) => notFound(`No resource provider with uuid ${uuid} found`);

function validateInventory(rc: string, inv: Inventory): void {
  const ints = [inv.total, inv.reserved, inv.minUnit, inv.maxUnit, inv.stepSize];
  if (!ints.every(Number.isInteger)) throw badRequest(`Inventory of ${rc}: total, reserved, min_unit, max_unit and step_size must be integers`);
  if (inv.total < 1 || inv.reserved < 0 || inv.reserved > inv.total) throw badRequest(`Inventory of ${rc}: need total >= 1 and 0 <= reserved <= total`);
  if (inv.minUnit < 1 || inv.maxUnit < inv.minUnit || inv.stepSize < 1) throw badRequest(`Inventory of ${rc}: need 1 <= min_unit <= max_unit and step_size >= 1`);
  if (!(inv.allocationRatio > 0)) throw badRequest(`Inventory of ${rc}: allocation_ratio must be greater than 0`);
}

const sameInventory = (a: Inventories, b: Inventories) =>
  RESOURCE_CLASSES.every((rc) => {
    const x = a[rc];
    const y = b[rc];
    return (!x && !y) || (!!x && !!y && (Object.keys(x) as (keyof Inventory)[]).every((k) => x[k] === y[k]));
  });

/** Throws Placement's errors when `want` does not fit the locked provider beside what others than `consumer` hold. */
async function assertFits(
  trx: Knex.Transaction,
  p: store.ProviderRow,
  consumer: string,
  want: [ResourceClass, number][],
): Promise<Partial<Record<ResourceClass, store.InventoryUsage>>> {
  const usage = await store.inventoryUsage(trx, p.id, consumer);
  for (const [rc, amount] of want) {
    const u = usage[rc];
    switch (misfit(u?.inventory, u?.used ?? 0, amount)) {
      case 'no-inventory':
        throw conflict(`Unable to allocate inventory: resource provider ${p.uuid} has no inventory of ${rc}.`);
      case 'unit':
        throw badRequest(`Unable to allocate inventory: allocation of ${amount} ${rc} on resource provider ${p.uuid} violates min_unit, max_unit, or step_size.`);
      case 'capacity':
        throw conflict(
          `Unable to allocate inventory: Unable to create allocation for '${rc}' on resource provider '${p.uuid}'. The requested amount would exceed the capacity.`,
        );
    }
  }
  return usage;
}

/**
 * Each statement after the provider lock must see what the previous lock
 * holder committed: READ COMMITTED (PostgreSQL's default, set explicitly in
 * case a server defaults to stricter) takes a snapshot per statement.
 */
const readCommitted = { isolationLevel: 'read committed' } as const;

export interface PlacementOptions {
  /**
   * Test knob (fault tests only): how long each claim waits inside its
   * transaction, provider locked and allocations written but not committed,
   * so that a test can kill the process mid-claim. `onClaimPause` is told
   * when it starts. 0 (the default) in every real deployment.
   */
  claimPauseMs?: number;
  onClaimPause?: (consumer: string, providerUuid: string) => void;
}

export function createPlacement(db: Db, placementOptions: PlacementOptions = {}) {
  const { claimPauseMs = 0, onClaimPause } = placementOptions;
  /** Runs `write` on the locked provider, checking the caller's generation first. */
  const onLockedProvider = <T>(uuid: string, opts: WriteOptions, write: (trx: Knex.Transaction, p: store.ProviderRow) => Promise<T>) =>
    db.transaction(async (trx) => {
      const p = await store.lockProvider(trx, uuid);
      if (!p) throw providerNotFound(uuid);
      if (opts.generation !== undefined && opts.generation !== p.generation) throw generationConflict(uuid);
      return write(trx, p);
    }, readCommitted);

  /** Writes, bumps the generation (compared against the locked one) and returns the new one. */
  const bump = async (trx: Knex.Transaction, p: store.ProviderRow) => {
    const generation = await store.bumpGeneration(trx, p.id, p.generation);
    if (generation === undefined) throw generationConflict(p.uuid);
    return generation;
  };

  return {
    /** Creates the provider, or renames it if its name changed; returns it. */
    async ensureProvider(uuid: string, name: string): Promise<Provider> {
      try {
        let p = await store.insertProvider(db, uuid, name);
        if (p.name !== name) {
          await store.renameProvider(db, p.id, name);
          p = (await store.getProvider(db, uuid))!;
        }
        return { uuid: p.uuid, name: p.name, generation: p.generation, inventories: await store.readInventories(db, p.id) };
      } catch (e) {
        if (isPostgresUniqueViolation(e)) throw conflict(`Conflicting resource provider name: ${name} already exists.`);
        throw e;
      }
    },

    async getProvider(uuid: string): Promise<Provider> {
      const p = await store.getProvider(db, uuid);
      if (!p) throw providerNotFound(uuid);
      return { uuid: p.uuid, name: p.name, generation: p.generation, inventories: await store.readInventories(db, p.id) };
    },

    /**
     * Replaces the provider's inventory; returns the new generation. An
     * unchanged inventory writes nothing (the generation stays). Removing a
     * class that is allocated from fails with Conflict (InventoryInUse).
     */
    async setInventory(uuid: string, inventories: Inventories, opts: WriteOptions = {}): Promise<number> {
      for (const [rc, inv] of Object.entries(inventories)) validateInventory(rc, inv);
      try {
        return await onLockedProvider(uuid, opts, async (trx, p) => {
          if (sameInventory(await store.readInventories(trx, p.id), inventories)) return p.generation;
          await store.replaceInventories(trx, p.id, inventories);
          return bump(trx, p);
        });
      } catch (e) {
        if (isPostgresForeignKeyViolation(e)) throw conflict(`Inventory for resource provider ${uuid} is in use and cannot be removed.`);
        throw e;
      }
    },

    /**
     * Claims `resources` of the provider for `consumer` (replacing what the
     * consumer already holds of this provider), all or nothing; returns the
     * provider's new generation. Fails with Conflict when a class would
     * exceed capacity ((total − reserved) × allocation_ratio − used) or the
     * generation given changed, BadRequest when an amount breaks
     * min_unit/max_unit/step_size, NotFound for an unknown provider.
     */
    async claim(consumer: string, providerUuid: string, resources: Resources, opts: WriteOptions = {}): Promise<number> {
      const want = requested(resources);
      if (want.length === 0) throw badRequest('A claim needs at least one resource class with an amount above 0.');
      return onLockedProvider(providerUuid, opts, async (trx, p) => {
        const usage = await assertFits(trx, p, consumer, want);
        const generation = await store.allocateAndBump(trx, p, consumer, want, Object.values(usage).some((u) => u!.held > 0));
        if (generation === undefined) throw generationConflict(p.uuid);
        if (claimPauseMs > 0) {
          onClaimPause?.(consumer, providerUuid);
          await new Promise((r) => setTimeout(r, claimPauseMs));
        }
        return generation;
      });
    },

    /**
     * The claim of a move (Nova's move_allocations then the destination
     * claim, in one transaction): what `instance` holds (the old flavor on
     * the source) goes to `migration`, then `resources` (the new flavor) are
     * claimed for `instance` on `providerUuid` with the capacity checks of
     * claim. All or nothing: when the destination has no room, the instance
     * keeps what it held and the migration holds nothing.
     */
    async claimMove(instance: string, migration: string, providerUuid: string, resources: Resources): Promise<void> {
      const want = requested(resources);
      if (want.length === 0) throw badRequest('A claim needs at least one resource class with an amount above 0.');
      await db.transaction(async (trx) => {
        const held = await store.lockProvidersOfConsumers(trx, [instance, migration]);
        const p = await store.lockProvider(trx, providerUuid);
        if (!p) throw providerNotFound(providerUuid);
        await store.deleteAllocations(trx, migration);
        await store.reassignAllocations(trx, instance, migration);
        await assertFits(trx, p, instance, want);
        await store.replaceAllocations(trx, p.id, instance, want);
        await store.bumpGenerations(trx, [...new Set([...held, p.id])]);
      }, readCommitted);
    },

    /** Frees everything `consumer` holds (each of them, given several, in one transaction); returns whether anything was held. */
    async release(consumer: string | readonly string[]): Promise<boolean> {
      const consumers = typeof consumer === 'string' ? [consumer] : [...consumer];
      // Most releases (each build's first scheduling) find nothing: one read, no transaction. Whatever is
      // claimed after it was free to be claimed after the transaction too.
      if (consumers.length === 0 || !(await store.holdsAny(db, consumers))) return false;
      return db.transaction(async (trx) => {
        const ids = await store.lockProvidersOfConsumers(trx, consumers);
        if (ids.length === 0) return false;
        await store.deleteAllocations(trx, consumers);
        await store.bumpGenerations(trx, ids);
        return true;
      }, readCommitted);
    },

    /**
     * Frees what `consumer` holds of one provider only (a failed build's
     * claim on its host), leaving its claims elsewhere; returns whether it
     * held anything there.
     */
    async releaseOn(consumer: string, providerUuid: string): Promise<boolean> {
      return db.transaction(async (trx) => {
        const p = await store.lockProvider(trx, providerUuid);
        if (!p) return false;
        const held = await store.allocationsOf(trx, consumer);
        if (!held.some((a) => a.providerUuid === providerUuid)) return false;
        await store.deleteAllocations(trx, consumer, p.id);
        await store.bumpGenerations(trx, [p.id]);
        return true;
      }, readCommitted);
    },

    /**
     * Gives every allocation of `source` to `target`, replacing what `target`
     * held (Nova's move_allocations: during a resize or migration the
     * migration record holds the source host's resources while the instance
     * claims on the destination). Usage only shrinks, so no capacity check.
     * Returns whether `source` held anything.
     */
    async moveAllocations(source: string, target: string): Promise<boolean> {
      if (source === target) throw badRequest('Source and target consumer are the same.');
      return db.transaction(async (trx) => {
        const ids = await store.lockProvidersOfConsumers(trx, [source, target]);
        await store.deleteAllocations(trx, target);
        const moved = await store.reassignAllocations(trx, source, target);
        await store.bumpGenerations(trx, ids);
        return moved > 0;
      }, readCommitted);
    },

    /** What `consumer` holds, per provider. */
    allocations: (consumer: string) => store.allocationsOf(db, consumer),

    /** What is allocated of the provider, per class (0 for classes it has inventory of but nothing allocated). */
    async usages(providerUuid: string): Promise<Resources> {
      const p = await store.getProvider(db, providerUuid);
      if (!p) throw providerNotFound(providerUuid);
      const [inv, used] = await Promise.all([store.readInventories(db, p.id), store.usagesOf(db, p.id)]);
      const out: Resources = {};
      for (const rc of RESOURCE_CLASSES) if (inv[rc] || used[rc]) out[rc] = used[rc] ?? 0;
      return out;
    },

    /** Deletes the provider and its inventory; Conflict while anything is allocated from it. */
    async deleteProvider(uuid: string): Promise<void> {
      await onLockedProvider(uuid, {}, async (trx, p) => {
        if (!(await store.deleteUnusedProvider(trx, p.id))) throw conflict(`Unable to delete resource provider ${uuid}: Resource provider has allocations.`);
      });
    },
  };
}

export type Placement = ReturnType<typeof createPlacement>;
