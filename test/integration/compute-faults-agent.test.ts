// Fault: a compute agent is killed (SIGKILL) in the middle of builds. The
// cloud is separate processes on a fresh PostgreSQL database and a RabbitMQ
// node of the test's own (test/support/rabbitmq-node.ts): `nubo scheduler`,
// three `nubo compute` with the fake driver, and the compute API in this
// process. Afterwards every server is ACTIVE or ERROR (rescheduled off the
// dead host by the conductor's sweep), and allocations and quota match what
// exists (test/support/compute-consistency.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { faultSuite } from '../support/fault-suite.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

faultSuite('compute faults: kill -9 a compute agent mid-build', (suite) => {
  test('builds on the killed host end ACTIVE elsewhere or ERROR; no allocation left on it, none doubled', async (t) => {
    const timings = { buildTimeout: 8, sweepInterval: 1, serviceDownTime: 5, reportInterval: 1 };
    const cloud = await suite.cloud({ timings });
    const tag = randomBytes(2).toString('hex');
    const hosts = ['a', 'b', 'c'].map((h) => `faults-${tag}-${h}`);
    const scheduler = cloud.scheduler();
    const agents = new Map(hosts.map((h) => [h, cloud.compute(h)]));
    await cloud.hostsUp(hosts);
    await scheduler.logged('conductor started');

    // Nine servers whose spawn takes 4 s: spread over the three hosts, three or so building on each.
    const created = await cloud.call('POST', '/v2.1/servers', {
      server: { name: 'slow', imageRef: cloud.imageId, flavorRef: cloud.flavorId, min_count: 9, max_count: 9, metadata: { fake_spawn_ms: '4000' } },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { db } = cloud;
    const victim = hosts[0];
    let spawning: string[] = [];
    for (const deadline = Date.now() + 30_000; spawning.length === 0; await sleep(100)) {
      assert.ok(Date.now() < deadline, `no build reached spawning on ${victim}`);
      spawning = (await db('instances').where({ host: victim, task_state: 'spawning' }).select('uuid')).map((r: { uuid: string }) => r.uuid);
    }
    await agents.get(victim)!.crash();
    const onVictim: string[] = (await db('instances').where({ host: victim }).whereNull('deleted_at').select('uuid')).map((r: { uuid: string }) => r.uuid);
    assert.ok(onVictim.length >= spawning.length);

    // Bound: service_down_time, a sweep, a second spawn of 4 s, with room for a loaded machine.
    const problems = await cloud.settle(45_000);
    assert.deepEqual(problems, [], problems.join('\n'));

    const rows = await db('instances').whereIn('uuid', onVictim);
    for (const r of rows) {
      assert.notEqual(r.host, victim, `${r.uuid} still on the dead host`);
      if (r.vm_state === 'active') {
        assert.ok(r.request_spec.retry.hosts.some((h: { host: string }) => h.host === victim), 'rescheduled, with the dead host counted as tried');
      } else {
        assert.equal(r.vm_state, 'error');
        assert.ok(r.fault?.message, `${r.uuid} is in error with a fault`);
      }
    }
    assert.ok(rows.some((r: { vm_state: string }) => r.vm_state === 'active'), 'builds taken from the dead host were rescheduled, not all errored');
    const provider = (await db('compute_nodes').where({ host: victim }).first()).uuid;
    const left = await db('allocations as a').join('resource_providers as p', 'p.id', 'a.provider_id').where('p.uuid', provider);
    assert.deepEqual(left, [], 'the dead host holds no allocation');
    const swept = cloud.logs().filter((l) => l.msg === 'taking the build back from its host' && l.host === victim);
    assert.ok(swept.length >= spawning.length, 'the sweep took the builds back from the dead host');

    // The host comes back: what its queue still held (the builds it lost) and its reconciliation change nothing.
    const before = await db('instances').whereNull('deleted_at').orderBy('uuid').select('uuid', 'vm_state', 'host');
    const back = cloud.compute(victim);
    await back.logged('compute agent started');
    await back.logged('reconciled with the conductor');
    await sleep(3000);
    const again = await cloud.settle(20_000);
    assert.deepEqual(again, [], again.join('\n'));
    t.diagnostic(`${spawning.length} spawning and ${onVictim.length} placed on the killed host; back, it refused ${back.logs.filter((l) => l.msg === 'instance disappeared during build').length} stale builds`);
    assert.deepEqual(await db('instances').whereNull('deleted_at').orderBy('uuid').select('uuid', 'vm_state', 'host'), before, 'the returning host took nothing over');
  });
});
