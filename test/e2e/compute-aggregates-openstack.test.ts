import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';

/**
 * Host aggregates with the real `openstack` client (OSC 6.0.0) against an
 * all-in-one with the fake driver: aggregate create, add host, show, set,
 * list, remove host and delete; `hypervisor show` (which lists the
 * aggregates to name those its host is in); the zone in
 * `availability zone list --long`.
 */
describe('openstack aggregate commands against the all-in-one', () => {
  let cloud: AllInOne;
  let host: string;
  const os = (args: string[]) => cloud.openstack(args);

  before(async () => {
    cloud = await startAllInOne({ startTimeoutMs: 180_000 });
    host = os(['compute', 'service', 'list', '--service', 'nova-compute', '-f', 'json'])[0].Host;
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
  });

  test('aggregate create, add host, show, set, list; hypervisor show names the aggregate; the host is in its zone', () => {
    const created = os(['aggregate', 'create', '--zone', 'e2e-az', 'e2e-agg', '-f', 'json']);
    assert.equal(created.name, 'e2e-agg');
    assert.equal(created.availability_zone, 'e2e-az');

    const added = os(['aggregate', 'add', 'host', 'e2e-agg', host, '-f', 'json']);
    assert.deepEqual(added.hosts, [host]);
    os(['aggregate', 'set', '--property', 'ssd=true', '--name', 'e2e-agg2', 'e2e-agg']);
    const shown = os(['aggregate', 'show', 'e2e-agg2', '-f', 'json']);
    assert.deepEqual(shown.hosts, [host]);
    assert.equal(shown.availability_zone, 'e2e-az');
    assert.deepEqual(shown.properties, { ssd: 'true' });
    const listed = os(['aggregate', 'list', '--long', '-f', 'json']);
    assert.deepEqual(listed.map((a: any) => [a.Name, a['Availability Zone']]), [['e2e-agg2', 'e2e-az']]);

    const hypervisor = os(['hypervisor', 'list', '-f', 'json'])[0];
    const hv = os(['hypervisor', 'show', String(hypervisor.ID), '-f', 'json']);
    assert.deepEqual(hv.aggregates, ['e2e-agg2']);
    assert.equal(hv.service_host, host);

    const zones = os(['availability', 'zone', 'list', '--compute', '--long', '-f', 'json']);
    assert.ok(zones.some((z: any) => z['Zone Name'] === 'e2e-az' && z['Host Name'] === host), JSON.stringify(zones));
  });

  test('aggregate delete is refused while it has a host; remove host, then delete', () => {
    const refused = cloud.openstackRaw(['--os-cloud', 'nubo', 'aggregate', 'delete', 'e2e-agg2'], {
      OS_CLIENT_CONFIG_FILE: cloud.cloudsFile,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /not empty/);
    const removed = os(['aggregate', 'remove', 'host', 'e2e-agg2', host, '-f', 'json']);
    assert.deepEqual(removed.hosts, []);
    os(['aggregate', 'delete', 'e2e-agg2']);
    assert.deepEqual(os(['aggregate', 'list', '-f', 'json']), []);
    const hypervisor = os(['hypervisor', 'list', '-f', 'json'])[0];
    assert.deepEqual(os(['hypervisor', 'show', String(hypervisor.ID), '-f', 'json']).aggregates, []);
  });
});
