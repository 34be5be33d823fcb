// The consistency checker the fault tests end with
// (test/support/compute-consistency.ts) finds each kind of damage a fault
// could leave, and nothing in a consistent cloud.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../lib/config/index.ts';
import { computeProblems } from '../support/compute-consistency.ts';
import { addComputeHost, addInstance, claim, FLAVOR } from '../support/compute-rows.ts';
import { pgliteDatabase } from '../support/db.ts';

const config = loadConfig({ env: {} });
const flavorClaim = { VCPU: FLAVOR.vcpus, MEMORY_MB: FLAVOR.memory_mb, DISK_GB: FLAVOR.root_gb };

test('computeProblems: stuck builds, missing, doubled, misplaced and leaked allocations, quota drift', async () => {
  const { db, drop } = await pgliteDatabase();
  try {
    const { nodeUuid: a } = await addComputeHost(db, config, 'host-a');
    const { nodeUuid: b } = await addComputeHost(db, config, 'host-b');
    const projectId = 'p1';
    const ok = await addInstance(db, { projectId, host: 'host-a' });
    await claim(db, ok, a, flavorClaim);
    const failed = await addInstance(db, { projectId, vmState: 'error' });
    const usage = { instances: 2, cores: 2, ram: 2 * FLAVOR.memory_mb };
    assert.deepEqual(await computeProblems(db, { quotaInUse: async () => usage }), [], 'a consistent cloud');

    const stuck = await addInstance(db, { projectId, host: 'host-b', vmState: 'building', taskState: 'spawning' });
    const unclaimed = await addInstance(db, { projectId, host: 'host-b' });
    const doubled = await addInstance(db, { projectId, host: 'host-a' });
    await claim(db, doubled, a, flavorClaim);
    await claim(db, doubled, b, flavorClaim);
    const wrongSize = await addInstance(db, { projectId, host: 'host-b' });
    await claim(db, wrongSize, b, { ...flavorClaim, MEMORY_MB: 1 });
    const ghost = randomUUID();
    await claim(db, ghost, b, flavorClaim);
    await claim(db, failed, b, flavorClaim);

    const problems = await computeProblems(db, { quotaInUse: async () => usage });
    const about = (uuid: string) => problems.filter((p) => p.includes(uuid));
    assert.match(about(stuck).join(), /is building\/spawning on host-b, not ACTIVE or ERROR/);
    assert.match(about(unclaimed).join(), /holds allocations on nothing/);
    assert.match(about(doubled).join(), /holds allocations on .*, not just its node/);
    assert.match(about(wrongSize).join(), /not its flavor's/);
    assert.match(about(ghost).join(), /no live instance or migration/);
    assert.match(about(failed).join(), /in error .* holds allocations/);
    assert.ok(problems.some((p) => p.startsWith(`provider ${b} has`)), 'host-b carries more than its instances');
    assert.ok(problems.some((p) => /^project p1: quota in use .* but its servers come to \{"instances":6/.test(p)), 'quota usage drifted from the servers');
    assert.deepEqual(about(ok), []);
  } finally {
    await drop();
  }
});
