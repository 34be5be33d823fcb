import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addInstance, addService, claim } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova os-hosts (deprecated)', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    const db = h.identity.database.db;
    const a = await addComputeHost(db, h.identity.config, 'host-a', { vcpus: 8, memoryMb: 16384, localGb: 100 });
    await addComputeHost(db, h.identity.config, 'host-off');
    await db('compute_services').where({ host: 'host-off' }).update({ disabled: true });
    await addService(db, 'control', 'nubo-scheduler');
    const big = { name: 'big', vcpus: 2, memory_mb: 4096, root_gb: 20, ephemeral_gb: 5 };
    const s1 = await addInstance(db, { projectId: alice.projectId, host: 'host-a', flavor: big });
    const s2 = await addInstance(db, { projectId: alice.projectId, host: 'host-a' });
    await addInstance(db, { projectId: bob.projectId, host: 'host-a' });
    await addInstance(db, { projectId: bob.projectId, host: 'host-a', deletedAt: new Date() });
    await claim(db, s1, a.nodeUuid, { VCPU: 2, MEMORY_MB: 4096, DISK_GB: 25 });
    await claim(db, s2, a.nodeUuid, { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 });
  });
  after(() => h.close());

  const get = (url: string, opts: { version?: string; token?: string } = {}) => h.call('GET', `/v2.1/${url}`, opts);

  test('lists the host of each enabled service with its topic and zone; zone filters (blank: all, unknown: none)', async () => {
    const r = await get('os-hosts');
    assert.equal(r.status, 200);
    conforms('HostList', r.body);
    assert.deepEqual(r.body.hosts, [
      { host_name: 'host-a', service: 'compute', zone: 'nova' },
      { host_name: 'control', service: 'scheduler', zone: 'internal' },
    ]);
    assert.deepEqual((await get('os-hosts?zone=nova')).body.hosts, [{ host_name: 'host-a', service: 'compute', zone: 'nova' }]);
    assert.equal((await get('os-hosts?zone=')).body.hosts.length, 2);
    assert.deepEqual((await get('os-hosts?zone=xxx')).body.hosts, []);
  });

  test('shows a compute host: (total), (used_now), (used_max) and each project\'s use; unknown is a 404', async () => {
    const r = await get('os-hosts/host-a');
    assert.equal(r.status, 200);
    conforms('HostDetail', r.body);
    const rows = r.body.host.map((x: any) => x.resource);
    assert.ok(rows.every((x: any) => x.host === 'host-a'));
    const by = Object.fromEntries(rows.map((x: any) => [x.project, [x.cpu, x.memory_mb, x.disk_gb]]));
    assert.deepEqual(by['(total)'], [8, 16384, 100]);
    const usedNow = by['(used_now)'];
    assert.equal(usedNow[0], 3, 'the vCPUs instances hold in placement');
    assert.deepEqual(by['(used_max)'], [4, 8192, 65]);
    assert.deepEqual(by[alice.projectId], [3, 6144, 45]);
    assert.deepEqual(by[bob.projectId], [1, 2048, 20]);
    assert.equal(rows.length, 5);
    const missing = await get('os-hosts/nowhere');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { itemNotFound: { code: 404, message: "Host 'nowhere' is not mapped to any cell" } });
  });

  test('update: a bad body is a 400 (before policy), an unknown host 404, a known one 501 (no driver does it)', async () => {
    const put = (host: string, body: unknown, token?: string) => h.call('PUT', `/v2.1/os-hosts/${host}`, { body, token });
    for (const body of [{}, { status: 'invalid', maintenance_mode: 'enable' }, { status: 'enable', maintenance_mode: 'invalid' }, { status: 'enable', extra: 1 }]) {
      assert.equal((await put('host-a', body)).status, 400, JSON.stringify(body));
      assert.equal((await put('host-a', body, alice.token)).status, 400, JSON.stringify(body));
    }
    assert.equal((await put('host-a', { status: 'enable', maintenance_mode: 'enable' }, alice.token)).status, 403);
    assert.equal((await put('nowhere', { status: 'enable' })).status, 404);
    const r = await put('host-a', { maintenance_mode: 'disable' });
    assert.equal(r.status, 501);
    assert.deepEqual(r.body, { notImplemented: { code: 501, message: 'Virt driver does not implement host maintenance mode.' } });
    assert.equal((await put('host-a', { status: 'Disable' })).status, 501);
  });

  test('startup, shutdown and reboot: admins only, 404 for an unknown host, 501 for a known one', async () => {
    for (const action of ['startup', 'shutdown', 'reboot']) {
      assert.equal((await get(`os-hosts/host-a/${action}`, { token: alice.token })).status, 403, action);
      assert.equal((await get(`os-hosts/nowhere/${action}`)).status, 404, action);
      const r = await get(`os-hosts/host-a/${action}`);
      assert.equal(r.status, 501, action);
      assert.equal(r.body.notImplemented.message, 'Virt driver does not implement host power management.');
    }
  });

  test('members are refused (403); from 2.43 the API is gone (404)', async () => {
    assert.equal((await get('os-hosts', { token: alice.token })).status, 403);
    assert.equal((await get('os-hosts/host-a', { token: alice.token })).status, 403);
    assert.equal((await get('os-hosts', { version: '2.43' })).status, 404);
    assert.equal((await get('os-hosts', { version: '2.42' })).status, 200);
  });
});
