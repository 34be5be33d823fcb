// os-hypervisors uptime end to end: the compute API asks the host's agent
// (get_host_uptime), the fake driver answers as `uptime` prints; a driver
// without getHostUptime is a 501.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type Cloud } from '../support/cloud.ts';

describe('hypervisor uptime from the agents', () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
    await cloud.addHost('node-1');
  });
  after(() => cloud.close());

  test('GET /os-hypervisors/{id}/uptime and the 2.88 detail carry what the agent says; NotSupported is a 501', async () => {
    const node = await cloud.identity.database.db('compute_nodes').where({ host: 'node-1' }).first();
    const r = await cloud.call('GET', `/v2.1/os-hypervisors/${node.id}/uptime`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.hypervisor.uptime, /^ \d\d:\d\d:\d\d up \d+ min, {2}0 users, {2}load average: 0\.00, 0\.00, 0\.00$/);
    const detail = await cloud.call('GET', '/v2.1/os-hypervisors/detail', { version: '2.88' });
    assert.match(detail.body.hypervisors[0].uptime, / up /);

    const { driver } = cloud.agents.get('node-1')!;
    (driver as { getHostUptime?: unknown }).getHostUptime = undefined;
    const unsupported = await cloud.call('GET', `/v2.1/os-hypervisors/${node.id}/uptime`);
    assert.equal(unsupported.status, 501);
    assert.equal((await cloud.call('GET', '/v2.1/os-hypervisors/detail', { version: '2.88' })).body.hypervisors[0].uptime, null);
  });
});
