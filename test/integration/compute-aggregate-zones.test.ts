// Availability zones from host aggregates end to end: the compute API, the
// conductor (its AvailabilityZoneFilter) and fake-driver agents on three
// hosts. A server asking for an aggregate's zone lands on that aggregate's
// host, and its OS-EXT-AZ:availability_zone is that zone; a zone no enabled
// host is in is refused before scheduling.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addImage, type ProjectUser } from '../support/compute.ts';
import { startCloud, type Cloud } from '../support/cloud.ts';

describe('servers booted into an aggregate\'s availability zone', () => {
  let cloud: Cloud;
  let alice: ProjectUser;
  let image: string;

  before(async () => {
    cloud = await startCloud();
    for (const host of ['node-1', 'node-2', 'node-3']) await cloud.addHost(host);
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    alice = await cloud.projectToken();
    image = await addImage(cloud.identity.database.db, { owner: alice.projectId, size: 1024 });
  });
  after(() => cloud.close());

  const boot = (availability_zone?: string) =>
    cloud.call('POST', '/v2.1/servers', { token: alice.token, body: { server: { name: 'vm', imageRef: image, flavorRef: '1', ...(availability_zone ? { availability_zone } : {}) } } });

  test('each server asking for the zone lands on the aggregate\'s host and shows the zone', async () => {
    const agg = await cloud.call('POST', '/v2.1/os-aggregates', { body: { aggregate: { name: 'rack-2', availability_zone: 'az-rack2' } } });
    assert.equal(agg.status, 200, JSON.stringify(agg.body));
    assert.equal((await cloud.call('POST', `/v2.1/os-aggregates/${agg.body.aggregate.id}/action`, { body: { add_host: { host: 'node-2' } } })).status, 200);

    for (let i = 0; i < 3; i++) {
      const r = await boot('az-rack2');
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const row = await cloud.rowWhen(r.body.server.id, (x) => x.vm_state === 'active', 'the server to go active');
      assert.equal(row.host, 'node-2');
      const shown = (await cloud.call('GET', `/v2.1/servers/${r.body.server.id}`, { token: alice.token })).body.server;
      assert.equal(shown['OS-EXT-AZ:availability_zone'], 'az-rack2');
    }
    // The default zone no longer holds node-2.
    const r = await boot('nova');
    assert.equal(r.status, 202);
    assert.notEqual((await cloud.rowWhen(r.body.server.id, (x) => x.vm_state === 'active', 'the server to go active')).host, 'node-2');

    const unknown = await boot('az-nowhere');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.badRequest.message, 'The requested availability zone is not available');
  });
});
