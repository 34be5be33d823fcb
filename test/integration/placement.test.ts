import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openDatabase, closeDatabase } from '../../lib/db/index.ts';
import { NuboError } from '../../lib/errors.ts';
import type { Inventories, Inventory } from '../../scheduler/placement/resources.ts';
import { createPlacement, type Placement } from '../../scheduler/placement/service.ts';
import { databaseEngines, type TestDatabase } from '../support/db.ts';

const inv = (total: number, over: Partial<Inventory> = {}): Inventory => ({
  total,
  reserved: 0,
  minUnit: 1,
  maxUnit: total,
  stepSize: 1,
  allocationRatio: 1,
  ...over,
});

/** A host that fits exactly 10 instances of 1 VCPU / 1024 MB / 10 GB (memory binds: (8192 − 512) × 1.5 = 11520 → 11, disk: 100 → 10). */
const tenSlots: Inventories = {
  VCPU: inv(4, { allocationRatio: 16 }),
  MEMORY_MB: inv(8192, { reserved: 512, allocationRatio: 1.5 }),
  DISK_GB: inv(100),
};
const small = { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 10 };

async function rejectsWith(p: Promise<unknown>, status: number, pattern?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NuboError, `expected a NuboError, got ${e}`);
    assert.equal(e.status, status, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

for (const [engine, open] of databaseEngines) {
  describe(`placement on ${engine}`, () => {
    let database: TestDatabase;
    let placement: Placement;
    let n = 0;
    /** A new provider with `inventories`; returns its uuid. */
    const provider = async (inventories: Inventories = tenSlots) => {
      const uuid = randomUUID();
      await placement.ensureProvider(uuid, `node-${++n}`);
      await placement.setInventory(uuid, inventories);
      return uuid;
    };

    before(async () => {
      database = await open();
      placement = createPlacement(database.db);
    });
    after(() => database.drop());

    test('a provider is created once, renamed with a generation bump; names are unique', async () => {
      const uuid = randomUUID();
      const a = await placement.ensureProvider(uuid, 'compute-a');
      assert.deepEqual(a, { uuid, name: 'compute-a', generation: 0, inventories: {} });
      assert.equal((await placement.ensureProvider(uuid, 'compute-a')).generation, 0);
      const renamed = await placement.ensureProvider(uuid, 'compute-b');
      assert.equal(renamed.name, 'compute-b');
      assert.equal(renamed.generation, 1);
      await rejectsWith(placement.ensureProvider(randomUUID(), 'compute-b'), 409, /compute-b already exists/);
      await rejectsWith(placement.getProvider(randomUUID()), 404);
    });

    test('setting inventory bumps the generation only when it changes, and checks a given generation', async () => {
      const uuid = randomUUID();
      await placement.ensureProvider(uuid, `inv-${uuid}`);
      assert.equal(await placement.setInventory(uuid, tenSlots), 1);
      assert.equal(await placement.setInventory(uuid, tenSlots), 1);
      assert.deepEqual((await placement.getProvider(uuid)).inventories, tenSlots);
      await rejectsWith(placement.setInventory(uuid, { VCPU: inv(8) }, { generation: 0 }), 409, /generation conflict/);
      assert.equal(await placement.setInventory(uuid, { VCPU: inv(8) }, { generation: 1 }), 2);
      assert.deepEqual((await placement.getProvider(uuid)).inventories, { VCPU: inv(8) });
      await rejectsWith(placement.setInventory(uuid, { VCPU: inv(8, { reserved: 9 }) }), 400);
      await rejectsWith(placement.setInventory(uuid, { VCPU: inv(8, { allocationRatio: 0 }) }), 400);
      await rejectsWith(placement.setInventory(uuid, { VCPU: inv(8, { minUnit: 4, maxUnit: 2 }) }), 400);
      await rejectsWith(placement.setInventory(randomUUID(), tenSlots), 404);
    });

    test('a claim takes what fits: capacity is (total − reserved) × allocation_ratio − used', async () => {
      const uuid = await provider({ MEMORY_MB: inv(2048, { reserved: 512, allocationRatio: 1.5 }) });
      const g0 = (await placement.getProvider(uuid)).generation;
      assert.equal(await placement.claim('i1', uuid, { MEMORY_MB: 2000 }), g0 + 1);
      await rejectsWith(placement.claim('i2', uuid, { MEMORY_MB: 305 }), 409, /MEMORY_MB.*exceed the capacity/);
      assert.equal(await placement.claim('i2', uuid, { MEMORY_MB: 304 }), g0 + 2);
      assert.deepEqual(await placement.usages(uuid), { MEMORY_MB: 2304 });
    });

    test('a claim is all or nothing, and refuses what breaks the inventory rules', async () => {
      const uuid = await provider();
      await rejectsWith(placement.claim('big', uuid, { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 101 }), 400, /max_unit/);
      await rejectsWith(placement.claim('gpu', uuid, { VCPU: 1, MEMORY_MB: 20000 }), 400);
      for (let i = 0; i < 10; i++) await placement.claim(`i${i}`, uuid, small);
      await rejectsWith(placement.claim('eleventh', uuid, small), 409, /DISK_GB/);
      assert.deepEqual(await placement.allocations('eleventh'), []);
      assert.deepEqual(await placement.usages(uuid), { VCPU: 10, MEMORY_MB: 10240, DISK_GB: 100 });
      const noDisk = await provider({ VCPU: inv(4) });
      await rejectsWith(placement.claim('x', noDisk, small), 409, /no inventory of MEMORY_MB/);
      await rejectsWith(placement.claim('x', randomUUID(), small), 404);
      await rejectsWith(placement.claim('x', noDisk, {}), 400);
    });

    test('a claim checks a given generation; claiming again replaces the consumer’s allocation', async () => {
      const uuid = await provider();
      const g = (await placement.getProvider(uuid)).generation;
      await rejectsWith(placement.claim('c', uuid, small, { generation: g + 1 }), 409, /generation conflict/);
      await placement.claim('c', uuid, small, { generation: g });
      await placement.claim('c', uuid, { VCPU: 2, MEMORY_MB: 2048 });
      assert.deepEqual(await placement.allocations('c'), [{ providerUuid: uuid, generation: g + 2, resources: { VCPU: 2, MEMORY_MB: 2048 } }]);
      assert.deepEqual(await placement.usages(uuid), { VCPU: 2, MEMORY_MB: 2048, DISK_GB: 0 });
    });

    test('release frees a consumer’s allocations on every provider', async () => {
      const a = await provider();
      const b = await provider();
      await placement.claim('r', a, small);
      await placement.claim('r', b, { VCPU: 1 });
      const gb = (await placement.getProvider(b)).generation;
      assert.equal(await placement.release('r'), true);
      assert.equal(await placement.release('r'), false);
      assert.deepEqual(await placement.allocations('r'), []);
      assert.deepEqual(await placement.usages(a), { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
      assert.equal((await placement.getProvider(b)).generation, gb + 1);
    });

    test('moveAllocations hands the source consumer’s allocations to the target, replacing the target’s', async () => {
      const src = await provider();
      const dst = await provider();
      await placement.claim('instance', src, small);
      await placement.claim('migration', dst, { VCPU: 3 });
      assert.equal(await placement.moveAllocations('instance', 'migration'), true);
      assert.deepEqual(await placement.allocations('instance'), []);
      assert.deepEqual(
        (await placement.allocations('migration')).map((a) => [a.providerUuid, a.resources]),
        [[src, small]],
      );
      assert.deepEqual(await placement.usages(dst), { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
      assert.equal(await placement.moveAllocations('nobody', 'migration2'), false);
      await rejectsWith(placement.moveAllocations('x', 'x'), 400);
    });

    test('inventory and providers in use cannot be removed', async () => {
      const uuid = await provider();
      await placement.claim('held', uuid, small);
      await rejectsWith(placement.setInventory(uuid, { VCPU: inv(4), MEMORY_MB: inv(8192) }), 409, /in use/);
      await rejectsWith(placement.deleteProvider(uuid), 409, /has allocations/);
      await placement.release('held');
      await placement.setInventory(uuid, { VCPU: inv(4) });
      await placement.deleteProvider(uuid);
      await rejectsWith(placement.getProvider(uuid), 404);
    });

    test('50 concurrent claims on a provider that fits 10: exactly 10 succeed', async () => {
      const uuid = await provider();
      // On PostgreSQL the claims race from two processes' worth of connection pools.
      const second = engine === 'PostgreSQL' ? openDatabase({ url: database.url, dataDir: null, poolMax: 10 }) : null;
      const placements = second ? [placement, createPlacement(second)] : [placement];
      try {
        const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => placements[i % placements.length].claim(`race-${i}`, uuid, small)));
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 10);
        for (const r of lost) assert.equal((r.reason as NuboError).status, 409, String(r.reason));
        assert.deepEqual(await placement.usages(uuid), { VCPU: 10, MEMORY_MB: 10240, DISK_GB: 100 });
        // Each successful claim bumped the generation once.
        const generations = won.map((r) => (r as PromiseFulfilledResult<number>).value).sort((x, y) => x - y);
        assert.equal(new Set(generations).size, 10);
      } finally {
        if (second) await closeDatabase(second);
      }
    });
  });
}
