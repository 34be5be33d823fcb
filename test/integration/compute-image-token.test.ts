// The image token of build messages: the conductor issues one for the
// instance's user on its project, and the image API accepts it for the
// download of a private image of that project (the agent has no credentials).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageMeta } from '../../compute-driver/driver.ts';
import { startCloud, type Cloud } from '../support/cloud.ts';

describe('image download token in build messages', () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startCloud();
    await cloud.addHost('node-1');
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
  });
  after(() => cloud.close());

  test('a build of a private image carries a token the image API accepts for GET /v2/images/{id}/file', async () => {
    const alice = await cloud.realUser();
    const headers = { 'x-auth-token': alice.token, 'content-type': 'application/json' };
    const created = await cloud.image.inject({
      method: 'POST',
      url: '/v2/images',
      headers,
      payload: JSON.stringify({ name: 'private', disk_format: 'raw', container_format: 'bare', visibility: 'private' }),
    });
    assert.equal(created.statusCode, 201, created.body);
    const imageId = created.json().id;
    const upload = await cloud.image.inject({
      method: 'PUT',
      url: `/v2/images/${imageId}/file`,
      headers: { 'x-auth-token': alice.token, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('private image bits'),
    });
    assert.equal(upload.statusCode, 204, upload.body);

    const images: ImageMeta[] = [];
    const { driver } = cloud.agents.get('node-1')!;
    const spawn = driver.spawn.bind(driver);
    driver.spawn = (instance, image, ...rest) => {
      images.push(image);
      return spawn(instance, image, ...rest);
    };

    const r = await cloud.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: imageId, flavorRef: '1' } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await cloud.rowWhen(r.body.server.id, (row) => row.vm_state === 'active', 'the server to go active');

    const download = images.find((i) => i.id === imageId)?.download;
    assert.ok(download?.token, 'the build message carries a token');
    assert.equal(download.url, `${cloud.imageUrl}/v2/images/${imageId}/file`);
    assert.notEqual(download.token, alice.token);
    const got = await fetch(download.url, { headers: { 'x-auth-token': download.token } });
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'private image bits');
    // The token is the user's on that project: another project's private image stays out of reach.
    const claims = cloud.identity.tokens.verify(download.token);
    assert.equal(claims.user_id, alice.userId);
    assert.deepEqual(claims.scope, { type: 'project', project_id: alice.projectId, domain_id: cloud.identity.admin.domainId });
    assert.ok(claims.expires_at.getTime() - Date.now() <= 3600_000);
  });

  test('no token when the instance user has no role on its project (the download is refused as for the user)', async () => {
    const bob = await cloud.realUser();
    const imageToken = cloud.conductor.context.imageToken!;
    const first = await imageToken({ uuid: 'x', user_id: bob.userId, project_id: bob.projectId });
    assert.ok(first);
    // Reused for the same user and project while it verifies.
    assert.equal(await imageToken({ uuid: 'y', user_id: bob.userId, project_id: bob.projectId }), first);
    // Identity's grant removal: the assignments go and the user's tokens on the project are revoked, the reused one among them.
    const roles: { id: string }[] = (await cloud.identity.call('GET', `/v3/projects/${bob.projectId}/users/${bob.userId}/roles`)).body.roles;
    assert.ok(roles.length);
    for (const r of roles) assert.equal((await cloud.identity.call('DELETE', `/v3/projects/${bob.projectId}/users/${bob.userId}/roles/${r.id}`)).status, 204);
    assert.equal(await imageToken({ uuid: 'x', user_id: bob.userId, project_id: bob.projectId }), undefined);
  });
});
