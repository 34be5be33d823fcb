import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, closeDatabase } from '../../lib/db/index.ts';
import { NuboError } from '../../lib/errors.ts';
import { recordNodeReport, type NodeReport } from '../../scheduler/compute-nodes/service.ts';
import { heartbeat, updateService } from '../../scheduler/compute-nodes/store.ts';
import { loadHostStates } from '../../scheduler/hosts.ts';
import { createPlacement, type Placement } from '../../scheduler/placement/service.ts';
import { scheduleInstances } from '../../scheduler/schedule.ts';
import { claimDestinations, NoValidHost } from '../../scheduler/select.ts';
import type { RequestSpec } from '../../scheduler/state.ts';
import { databaseEngines, type TestDatabase } from '../support/db.ts';
import { defaultOptions, defaultPolicy, smallFlavor } from '../support/scheduler.ts';

const BINARY = 'nubo-compute';

const report = (host: string, over: Partial<NodeReport> = {}): NodeReport => ({
  host,
  binary: BINARY,
  hypervisorHostname: host,
  hypervisorType: 'QEMU',
  hypervisorVersion: 8002000,
  vcpus: 4,
  memoryMb: 8192,
  localGb: 100,
  cpuInfo: { arch: 'x86_64' },
  hostIp: '192.0.2.10',
  supportedInstances: [['x86_64', 'qemu', 'hvm']],
  ...over,
});

/** 4 GB instances: a 8192 MB host with 512 reserved at ratio 1.5 holds 2. */
const spec = (instanceUuids: string[], over: Partial<RequestSpec> = {}) => ({
  flavor: { ...smallFlavor, memoryMb: 4096 },
  instanceUuids,
  ...over,
});

for (const [engine, open] of databaseEngines) {
  describe(`host states and scheduling on ${engine}`, () => {
    let database: TestDatabase;
    let placement: Placement;
    const uuids: Record<string, string> = {};
    const addHost = async (host: string, over: Partial<NodeReport> = {}) => {
      await heartbeat(database.db, host, BINARY);
      uuids[host] = await recordNodeReport(database.db, placement, report(host, over), defaultPolicy);
    };

    before(async () => {
      database = await open();
      placement = createPlacement(database.db);
    });
    after(() => database.drop());

    test('a heartbeat creates the service once and counts reports', async () => {
      const first = await heartbeat(database.db, 'hb', BINARY, new Date(1000));
      const second = await heartbeat(database.db, 'hb', BINARY, new Date(2000));
      assert.equal(second.id, first.id);
      assert.equal(second.uuid, first.uuid);
      assert.equal(second.report_count, 2);
      assert.equal(second.last_seen_up!.getTime(), 2000);
      assert.equal(second.availability_zone, 'nova');
    });

    test('a node report records the node, its provider (same uuid) and its inventory; repeating it changes nothing', async () => {
      await assert.rejects(recordNodeReport(database.db, placement, report('nobody'), defaultPolicy), (e: unknown) => (e as NuboError).status === 404);
      await addHost('c1');
      const p = await placement.getProvider(uuids.c1);
      assert.equal(p.name, 'c1');
      assert.deepEqual(p.inventories.MEMORY_MB, { total: 8192, reserved: 512, minUnit: 1, maxUnit: 8192, stepSize: 1, allocationRatio: 1.5 });
      assert.equal(await recordNodeReport(database.db, placement, report('c1'), defaultPolicy), uuids.c1);
      assert.equal((await placement.getProvider(uuids.c1)).generation, p.generation);
      await recordNodeReport(database.db, placement, report('c1', { vcpus: 8 }), defaultPolicy);
      assert.equal((await placement.getProvider(uuids.c1)).inventories.VCPU!.total, 8);
    });

    test('loadHostStates reads every host in three queries, with service, hypervisor, inventory, usage and instances', async () => {
      await addHost('c2');
      await addHost('c3');
      await updateService(database.db, 'c3', BINARY, { disabled: true, disabled_reason: 'maintenance', availability_zone: 'az2' });
      await placement.claim('vm-1', uuids.c2, { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 10 });
      await placement.claim('vm-2', uuids.c2, { VCPU: 2, MEMORY_MB: 512 });
      let queries = 0;
      const count = () => queries++;
      database.db.on('query', count);
      const hosts = await loadHostStates(database.db);
      database.db.off('query', count);
      assert.equal(queries, 3);
      assert.deepEqual(hosts.map((h) => h.host), ['c1', 'c2', 'c3']);
      const [, c2, c3] = hosts;
      assert.equal(c2.providerUuid, uuids.c2);
      assert.equal(c2.nodename, 'c2');
      assert.deepEqual(c2.used, { VCPU: 3, MEMORY_MB: 1536, DISK_GB: 10 });
      assert.deepEqual([...c2.instances].sort(), ['vm-1', 'vm-2']);
      assert.equal(c2.inventory.VCPU!.allocationRatio, 16);
      assert.equal(c2.hypervisorType, 'QEMU');
      assert.equal(c2.hypervisorVersion, 8002000);
      assert.equal(c2.hostIp, '192.0.2.10');
      assert.deepEqual(c2.supportedInstances, [['x86_64', 'qemu', 'hvm']]);
      assert.equal(c2.service.disabled, false);
      assert.ok(Math.abs(c2.service.lastSeenUp! - Date.now()) < 60_000);
      assert.deepEqual(c3.service, { ...c3.service, disabled: true, disabledReason: 'maintenance', availabilityZone: 'az2' });
      assert.deepEqual(c3.used, {});
      assert.equal(c3.instances.size, 0);
      await placement.release('vm-1');
      await placement.release('vm-2');
    });

    test('scheduleInstances claims each instance where it fits and releases all on NoValidHost', async () => {
      // c1 (8 vCPUs now) and c2 are enabled and hold two 4 GB instances each; c3 is disabled.
      const sel = await scheduleInstances(database.db, placement, spec(['a', 'b', 'c', 'd']), defaultOptions);
      assert.deepEqual(sel.map((alts) => alts[0].host).sort(), ['c1', 'c1', 'c2', 'c2']);
      for (const [i, consumer] of ['a', 'b', 'c', 'd'].entries()) {
        assert.deepEqual((await placement.allocations(consumer)).map((a) => a.providerUuid), [sel[i][0].providerUuid]);
      }
      await assert.rejects(scheduleInstances(database.db, placement, spec(['e']), defaultOptions), NoValidHost);
      for (const c of ['a', 'b', 'c', 'd']) await placement.release(c);
      // Four fit, the fifth does not: the four claims made are released.
      const five = ['f', 'g', 'h', 'i', 'j'];
      await assert.rejects(scheduleInstances(database.db, placement, spec(five), defaultOptions), NoValidHost);
      for (const c of five) assert.deepEqual(await placement.allocations(c), []);
    });

    test('a scheduler whose host states are stale passes over a host another filled and claims the next', async () => {
      const stale = await loadHostStates(database.db);
      // Another scheduler fills c1 and c2 but one slot.
      await placement.claim('x1', uuids.c1, { MEMORY_MB: 4096 });
      await placement.claim('x2', uuids.c1, { MEMORY_MB: 4096 });
      await placement.claim('x3', uuids.c2, { MEMORY_MB: 4096 });
      const tried: string[] = [];
      const sel = await claimDestinations(spec(['late']), stale, 1, defaultOptions, async (consumer, host) => {
        tried.push(host.host);
        try {
          await placement.claim(consumer, host.providerUuid, { VCPU: 1, MEMORY_MB: 4096, DISK_GB: 10 });
          return true;
        } catch {
          return false;
        }
      });
      assert.deepEqual(tried, ['c1', 'c2']);
      assert.equal(sel[0][0].host, 'c2');
      for (const c of ['x1', 'x2', 'x3', 'late']) await placement.release(c);
    });

    test('concurrent schedulers never over-commit a host', async () => {
      // Two scheduler processes on PostgreSQL; PGlite is one connection, so its claims queue.
      const second = engine === 'PostgreSQL' ? openDatabase({ url: database.url, dataDir: null, poolMax: 10 }) : null;
      try {
        const schedulers = second ? [{ db: database.db, placement }, { db: second, placement: createPlacement(second) }] : [{ db: database.db, placement }];
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => {
            const s = schedulers[i % schedulers.length];
            return scheduleInstances(s.db, s.placement, spec([`race-${i}`]), defaultOptions);
          }),
        );
        const won = results.filter((r) => r.status === 'fulfilled').length;
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NoValidHost, String(r.reason));
        // c1 and c2 hold 2 instances of 4 GB each: 4 builds win, whoever races.
        assert.equal(won, 4);
        for (const host of ['c1', 'c2']) assert.deepEqual((await placement.usages(uuids[host])).MEMORY_MB, 8192);
      } finally {
        if (second) await closeDatabase(second);
      }
    });
  });
}
