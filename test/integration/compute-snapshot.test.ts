// createImage end to end: the compute API creates the image and casts
// snapshot_instance, the fake-driver agent moves the task states and uploads
// a small disk to the image API, which makes the image active; a failed
// snapshot deletes the image and reverts the task.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProjectUser } from '../support/compute.ts';
import { startCloud, type Cloud } from '../support/cloud.ts';

describe('createImage (snapshot) end to end', () => {
  let cloud: Cloud;
  let alice: ProjectUser;
  let imageId: string;
  const db = () => cloud.identity.database.db;

  before(async () => {
    cloud = await startCloud();
    await cloud.addHost('node-1');
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    alice = await cloud.realUser();
    const created = await cloud.image.inject({
      method: 'POST',
      url: '/v2/images',
      headers: { 'x-auth-token': alice.token, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'base', disk_format: 'raw', container_format: 'bare', os_distro: 'cirros' }),
    });
    imageId = created.json().id;
    await cloud.image.inject({ method: 'PUT', url: `/v2/images/${imageId}/file`, headers: { 'x-auth-token': alice.token, 'content-type': 'application/octet-stream' }, payload: Buffer.from('base') });
  });
  after(() => cloud.close());

  const server = async (metadata: Record<string, string> = {}) => {
    const r = await cloud.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: imageId, flavorRef: '1', metadata } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await cloud.rowWhen(r.body.server.id, (row) => row.vm_state === 'active' && row.task_state === null, 'the server to go active');
    return r.body.server.id as string;
  };

  test('the image goes active with the disk the driver uploaded; the task states pass and end null', async () => {
    const id = await server();
    const seen: (string | null)[] = [];
    const { driver } = cloud.agents.get('node-1')!;
    const snapshot = driver.snapshot.bind(driver);
    driver.snapshot = async (instance, target, update) => {
      seen.push((await db()('instances').where({ uuid: id }).first()).task_state);
      return snapshot(instance, target, async (state) => {
        await update(state);
        seen.push((await db()('instances').where({ uuid: id }).first()).task_state);
      });
    };
    const r = await cloud.call('POST', `/v2.1/servers/${id}/action`, { body: { createImage: { name: 'snap' } }, token: alice.token, version: '2.45' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const snap = r.body.image_id;
    await cloud.rowWhen(id, (row) => row.task_state === null, 'the snapshot to finish');
    driver.snapshot = snapshot;
    assert.deepEqual(seen, ['image_snapshot_pending', 'image_pending_upload', 'image_uploading']);
    const shown = await cloud.image.inject({ method: 'GET', url: `/v2/images/${snap}`, headers: { 'x-auth-token': alice.token } });
    assert.equal(shown.json().status, 'active');
    assert.equal(shown.json().virtual_size, 1024 ** 3);
    const data = await fetch(`${cloud.imageUrl}/v2/images/${snap}/file`, { headers: { 'x-auth-token': alice.token } });
    assert.equal(data.status, 200);
    const bytes = Buffer.from(await data.arrayBuffer());
    assert.equal(bytes.readUInt32BE(0), 0x514649fb);
    assert.ok(bytes.includes(`instance-${id}`));
    assert.deepEqual(await cloud.events(id, 'createImage'), [{ event: 'compute_snapshot_instance', result: 'Success' }]);
    const after = await cloud.call('GET', `/v2.1/servers/${id}`, { token: alice.token });
    assert.equal(after.body.server.status, 'ACTIVE');
  });

  test('a failed snapshot deletes the image, reverts task_state and records the event as Error', async () => {
    const id = await server({ fake_fail: 'snapshot' });
    const r = await cloud.call('POST', `/v2.1/servers/${id}/action`, { body: { createImage: { name: 'doomed' } }, token: alice.token, version: '2.45' });
    assert.equal(r.status, 202);
    const row = await cloud.rowWhen(id, (x) => x.task_state === null, 'the snapshot to fail');
    assert.equal(row.vm_state, 'active');
    assert.match(row.fault.message, /injected snapshot failure/);
    const image = await db()('images').where({ id: r.body.image_id }).first();
    assert.equal(image.status, 'deleted');
    assert.deepEqual(await cloud.events(id, 'createImage'), [{ event: 'compute_snapshot_instance', result: 'Error' }]);
  });
});
