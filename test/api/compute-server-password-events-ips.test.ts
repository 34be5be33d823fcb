import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addInstance } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova os-server-password and os-server-external-events', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  let placed: string;
  let unplaced: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    placed = await addInstance(db(), { projectId: alice.projectId, host: 'node-1' });
    unplaced = await addInstance(db(), { projectId: alice.projectId });
  });
  after(() => h.close());

  test('the password is what system_metadata password_0… hold, "" when none; DELETE clears only those keys', async () => {
    const url = `/v2.1/servers/${placed}/os-server-password`;
    assert.deepEqual((await h.call('GET', url, { token: alice.token })).body, { password: '' });
    await db()('instances').where({ uuid: placed }).update({ system_metadata: JSON.stringify({ password_0: 'abc', password_1: 'def', image_os_distro: 'cirros' }) });
    assert.deepEqual((await h.call('GET', url, { token: alice.token })).body, { password: 'abcdef' });
    assert.equal((await h.call('GET', url, { token: bob.token })).status, 404, 'another project does not see the server');
    assert.equal((await h.call('DELETE', url, { token: alice.token })).status, 204);
    assert.deepEqual((await h.call('GET', url, { token: alice.token })).body, { password: '' });
    const row = await db()('instances').where({ uuid: placed }).first();
    assert.deepEqual(row.system_metadata, { image_os_distro: 'cirros' });
  });

  test('external events: 200 for a placed server, 422 for one with no host, 404 for none; 207 when mixed; admins only', async () => {
    const post = (events: unknown[], opts: { token?: string; version?: string } = {}) => h.call('POST', '/v2.1/os-server-external-events', { body: { events }, ...opts });
    const ok = await post([{ name: 'network-changed', server_uuid: placed }]);
    assert.equal(ok.status, 200);
    conforms('ServerExternalEventsResponse', ok.body);
    assert.deepEqual(ok.body.events, [{ name: 'network-changed', server_uuid: placed, status: 'completed', code: 200 }]);
    const gone = randomUUID();
    const mixed = await post([
      { name: 'network-vif-plugged', server_uuid: placed, tag: 'port-1', status: 'failed' },
      { name: 'network-vif-plugged', server_uuid: unplaced },
      { name: 'network-vif-deleted', server_uuid: gone },
    ]);
    assert.equal(mixed.status, 207);
    assert.deepEqual(mixed.body.events.map((e: any) => [e.code, e.status]), [[200, 'failed'], [422, 'failed'], [404, 'failed']]);
    assert.equal((await post([{ name: 'network-changed', server_uuid: gone }])).status, 404);
    assert.equal((await post([{ name: 'network-changed', server_uuid: placed }], { token: alice.token })).status, 403);
    assert.equal((await post([{ name: 'volume-extended', server_uuid: placed }])).status, 400, 'volume-extended only from 2.51');
    assert.equal((await post([{ name: 'volume-extended', server_uuid: placed }], { version: '2.51' })).status, 200);
    assert.equal((await post([])).status, 400);
    assert.equal((await post([{ name: 'bogus', server_uuid: placed }])).status, 400);
  });
});

describe('Nova /servers/{id}/ips', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  let server: string;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken(['reader']);
    server = await addInstance(h.identity.database.db, { projectId: alice.projectId, host: 'node-1' });
  });
  after(() => h.close());

  test('lists no addresses (no network service) as the server view does; a network label is a 404; another project 404', async () => {
    const r = await h.call('GET', `/v2.1/servers/${server}/ips`, { token: alice.token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { addresses: {} });
    const shown = await h.call('GET', `/v2.1/servers/${server}`, { token: alice.token });
    assert.deepEqual(shown.body.server.addresses, r.body.addresses);
    const one = await h.call('GET', `/v2.1/servers/${server}/ips/private`, { token: alice.token });
    assert.deepEqual(one.body, { itemNotFound: { code: 404, message: 'Instance is not a member of specified network' } });
    assert.equal((await h.call('GET', `/v2.1/servers/${server}/ips`, { token: bob.token })).status, 404);
  });
});
