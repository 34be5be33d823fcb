import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addService } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova os-availability-zone', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    const db = h.identity.database.db;
    const config = h.identity.config;
    await addComputeHost(db, config, 'cmp-1');
    await addComputeHost(db, config, 'cmp-2', { lastSeenUp: new Date(Date.now() - 600_000) });
    await addComputeHost(db, config, 'edge-1');
    await addComputeHost(db, config, 'dark-1');
    await db('compute_services').where({ host: 'edge-1' }).update({ availability_zone: 'edge' });
    // A zone whose only service is disabled is not available.
    await db('compute_services').where({ host: 'dark-1' }).update({ availability_zone: 'dark', disabled: true, disabled_reason: 'off' });
    await addService(db, 'controller', 'nubo-conductor');
  });
  after(() => h.close());

  test('anyone lists the zones: available ones first, then unavailable ones, without hosts and without the internal zone', async () => {
    const r = await h.call('GET', '/v2.1/os-availability-zone', { token: alice.token });
    assert.equal(r.status, 200);
    conforms('AvailabilityZoneList', r.body);
    assert.deepEqual(r.body.availabilityZoneInfo, [
      { zoneName: 'edge', zoneState: { available: true }, hosts: null },
      { zoneName: 'nova', zoneState: { available: true }, hosts: null },
      { zoneName: 'dark', zoneState: { available: false }, hosts: null },
    ]);
  });

  test('the detail (admins): each available zone with its hosts\' enabled services, the internal zone included', async () => {
    const r = await h.call('GET', '/v2.1/os-availability-zone/detail');
    assert.equal(r.status, 200);
    conforms('AvailabilityZoneList', r.body);
    const zones = Object.fromEntries(r.body.availabilityZoneInfo.map((z: any) => [z.zoneName, z]));
    assert.deepEqual(r.body.availabilityZoneInfo.map((z: any) => [z.zoneName, z.zoneState.available]), [
      ['edge', true],
      ['internal', true],
      ['nova', true],
      ['dark', false],
    ]);
    assert.deepEqual(Object.keys(zones.nova.hosts), ['cmp-1', 'cmp-2']);
    const svc = zones.nova.hosts['cmp-1']['nova-compute'];
    assert.deepEqual([svc.available, svc.active], [true, true]);
    assert.match(svc.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(zones.nova.hosts['cmp-2']['nova-compute'].available, false, 'down for want of heartbeats');
    assert.deepEqual(Object.keys(zones.internal.hosts.controller), ['nova-conductor']);
    assert.deepEqual(Object.keys(zones.edge.hosts), ['edge-1']);
    assert.equal(zones.dark.hosts, null);
  });

  test('the detail is for admins only', async () => {
    assert.equal((await h.call('GET', '/v2.1/os-availability-zone/detail', { token: alice.token })).status, 403);
    assert.equal((await h.call('GET', '/v2.1/os-availability-zone', { token: null })).status, 401);
  });

  test('a disabled host leaves the detail; a zone all of whose services are disabled becomes unavailable', async () => {
    const db = h.identity.database.db;
    await db('compute_services').where({ host: 'edge-1' }).update({ disabled: true });
    try {
      const list = (await h.call('GET', '/v2.1/os-availability-zone', { token: alice.token })).body.availabilityZoneInfo;
      assert.deepEqual(list.map((z: any) => [z.zoneName, z.zoneState.available]), [
        ['nova', true],
        ['dark', false],
        ['edge', false],
      ]);
      await db('compute_services').where({ host: 'cmp-2' }).update({ disabled: true });
      const nova = (await h.call('GET', '/v2.1/os-availability-zone/detail')).body.availabilityZoneInfo.find((z: any) => z.zoneName === 'nova');
      assert.deepEqual(Object.keys(nova.hosts), ['cmp-1']);
    } finally {
      await db('compute_services').whereIn('host', ['edge-1', 'cmp-2']).update({ disabled: false });
    }
  });
});
