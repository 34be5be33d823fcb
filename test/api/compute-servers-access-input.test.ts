import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost } from '../support/compute-rows.ts';

/** What Tempest's server tests send that Nova normalises or refuses: long IPv6 forms, unknown security groups. */
describe('Nova servers: access addresses and security groups of a create', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let image: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    image = await addImage(db(), { owner: h.adminProjectId });
    assert.equal((await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } })).status, 200);
    await addComputeHost(db(), h.identity.config, 'node-1');
    await h.bus.serveCompute('node-1');
  });
  after(() => h.close());

  const create = (server: Record<string, unknown>) =>
    h.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1', ...server } }, token: alice.token });
  const show = async (id: string) => (await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server;

  test('accessIPv6 is stored in its canonical form (create, update, rebuild), as Nova\'s IPAddress column does', async () => {
    // Tempest's ServersTestJSON sends this 41-character form.
    const r = await create({ accessIPv4: '1.1.1.1', accessIPv6: '0000:0000:0000:0000:0000:babe:220.12.22.2' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    assert.equal((await show(id)).accessIPv6, '::babe:dc0c:1602');
    assert.equal((await show(id)).accessIPv4, '1.1.1.1');

    const updated = await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { accessIPv6: '2001:0DB8:0000:0000:0000:0000:0000:0001' } }, token: alice.token });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.server.accessIPv6, '2001:db8::1');

    await placeServer(db(), id, 'node-1');
    const rebuilt = await h.call('POST', `/v2.1/servers/${id}/action`, { body: { rebuild: { imageRef: image, accessIPv6: 'FE80:0:0:0:0:0:0:0A' } }, token: alice.token });
    assert.equal(rebuilt.status, 202, JSON.stringify(rebuilt.body));
    assert.equal(rebuilt.body.server.accessIPv6, 'fe80::a');
  });

  test('a security group other than the implicit default is a 400, as Nova\'s SecurityGroupNotFound; default is fine', async () => {
    const before = await db()('instances').where({ project_id: alice.projectId }).count({ n: '*' });
    const r = await create({ security_groups: [{ name: 'default' }, { name: 'does_not_exist' }] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { badRequest: { code: 400, message: 'Security group does_not_exist not found.' } });
    assert.deepEqual(await db()('instances').where({ project_id: alice.projectId }).count({ n: '*' }), before, 'no instance is left');
    const ok = await create({ security_groups: [{ name: 'default' }] });
    assert.equal(ok.status, 202);
    assert.deepEqual(ok.body.server.security_groups, [{ name: 'default' }]);
  });
});
