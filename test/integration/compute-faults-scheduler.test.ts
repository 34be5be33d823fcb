// Fault: a scheduler process is killed (SIGKILL) in the middle of a claim.
// Two `nubo scheduler` and two `nubo compute` (fake driver) processes on a
// fresh PostgreSQL database and a RabbitMQ node of the test's own; the
// compute API in this process. The victim scheduler runs with the test knob
// NUBO_TEST_CLAIM_PAUSE_MS (scheduler/conductor/index.ts): each of its claims
// waits inside its transaction, provider row locked and allocations written,
// and logs that it does; the test kills it during such a pause after it has
// already committed a claim of the same multi-create (a claim made, the
// host not yet recorded). The other scheduler (through redelivery and the
// sweep) must finish every build with nothing doubled or leaked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { faultSuite } from '../support/fault-suite.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PAUSE = 'test knob: pausing inside the claim transaction';

faultSuite('compute faults: kill -9 the scheduler mid-claim', (suite) => {
  test('the other scheduler finishes every build; no claim doubled or leaked, none stuck in BUILD', async (t) => {
    const t0 = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const timings = { buildTimeout: 6, sweepInterval: 1, serviceDownTime: 10, reportInterval: 1 };
    const cloud = await suite.cloud({ timings });
    const tag = randomBytes(2).toString('hex');
    const hosts = ['a', 'b'].map((h) => `faults-${tag}-${h}`);
    const victim = cloud.scheduler({ NUBO_TEST_CLAIM_PAUSE_MS: '1500' });
    const survivor = cloud.scheduler();
    for (const h of hosts) cloud.compute(h);
    await cloud.hostsUp(hosts);
    await Promise.all([victim, survivor].map((p) => p.logged('conductor started')));
    phase('processes up');
    const { db } = cloud;

    // A burst of six multi-creates of four: both schedulers take some of them.
    const requests = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        cloud.call('POST', '/v2.1/servers', { server: { name: `burst-${i}`, imageRef: cloud.imageId, flavorRef: cloud.flavorId, min_count: 4, max_count: 4 } }),
      ),
    );
    for (const r of requests) assert.equal(r.status, 202, JSON.stringify(r.body));

    // Kill it in its second pause: one claim of the group committed, the next one open.
    await victim.logged(PAUSE, { count: 2, ms: 30_000 });
    await victim.crash();
    phase('victim killed');
    const pausedOn = victim.logs.filter((l) => l.msg === PAUSE).map((l) => l.consumer as string);
    const open = pausedOn[pausedOn.length - 1];

    // Right after the kill: the open claim goes with the connection (PostgreSQL rolls it back); the
    // committed one of the same group has no host recorded: the leaked claim the others must clean up.
    for (const deadline = Date.now() + 5000; (await db('allocations').where({ consumer_id: open })).length > 0; await sleep(50)) {
      assert.ok(Date.now() < deadline, 'the open claim outlived the scheduler that made it');
    }
    const unrecorded = await db('allocations as a').joinRaw('join instances as i on i.uuid::text = a.consumer_id').whereNull('i.host').distinct('a.consumer_id');
    assert.ok(unrecorded.length >= 1, 'the kill left a claim whose host was never recorded');

    // Bound: the dead scheduler's leases expire after build_timeout, then a sweep, then the builds.
    const problems = await cloud.settle(40_000);
    assert.deepEqual(problems, [], problems.join('\n'));
    phase('settled');
    const all = await db('instances').whereNull('deleted_at');
    assert.equal(all.length, 24);
    assert.ok(all.every((r: { vm_state: string }) => r.vm_state === 'active'), 'every build finished ACTIVE (hosts had room)');
    for (const uuid of pausedOn) {
      const allocations = await db('allocations').where({ consumer_id: uuid });
      assert.equal(allocations.length, 3, `${uuid}: one claim (VCPU, MEMORY_MB, DISK_GB) on one host`);
    }
    assert.ok(survivor.logs.some((l) => l.msg === 'build cast to its host'), 'the surviving scheduler did the work');
  });
});
