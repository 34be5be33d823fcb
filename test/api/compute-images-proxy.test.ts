import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { addImage, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';

const conforms = createBodyValidator(loadSpec('compute'));

/** Nova's deprecated images proxy (to 2.35) and image metadata (to 2.38), over the image tables. */
describe('Nova images proxy and image metadata', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  let mine: string;
  let snapshot: string;
  let publicImage: string;
  let bobs: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    mine = await addImage(db(), { owner: alice.projectId, visibility: 'private', name: 'mine', minRam: 64, minDisk: 1, properties: { os_distro: 'cirros' } });
    snapshot = await addImage(db(), {
      owner: alice.projectId,
      visibility: 'private',
      name: 'snap',
      status: 'queued',
      size: null,
      properties: { instance_uuid: '6e3f4f4e-9a42-4b8b-9a32-6a0d8c1b1111', image_type: 'snapshot', auto_disk_config: 'True' },
    });
    publicImage = await addImage(db(), { owner: h.adminProjectId, name: 'public' });
    bobs = await addImage(db(), { owner: bob.projectId, visibility: 'private', name: 'bobs' });
  });
  after(() => h.close());

  const call = (method: string, url: string, opts: { body?: unknown; version?: string; token?: string } = {}) =>
    h.call(method, `/v2.1/${url}`, { token: opts.token ?? alice.token, body: opts.body, version: opts.version });

  test('lists what the project sees (not another project\'s private image), with links; detail in Nova\'s shape', async () => {
    const r = await call('GET', 'images');
    assert.equal(r.status, 200);
    const ids = r.body.images.map((i: any) => i.id);
    assert.deepEqual(new Set(ids), new Set([mine, snapshot, publicImage]));
    const brief = r.body.images.find((i: any) => i.id === mine);
    assert.deepEqual(Object.keys(brief).sort(), ['id', 'links', 'name']);
    assert.deepEqual(brief.links.map((l: any) => l.rel), ['self', 'bookmark', 'alternate']);
    assert.match(brief.links[0].href, new RegExp(`/v2.1/images/${mine}$`));
    assert.match(brief.links[2].href, new RegExp(`/images/${mine}$`));

    conforms('ProxyImageList', r.body);
    const detailed = await call('GET', 'images/detail');
    conforms('ProxyImageList', detailed.body);
    const detail = detailed.body.images;
    const m = detail.find((i: any) => i.id === mine);
    assert.equal(m.status, 'ACTIVE');
    assert.equal(m.progress, 100);
    assert.equal(m.minRam, 64);
    assert.equal(m.minDisk, 1);
    assert.equal(m['OS-EXT-IMG-SIZE:size'], 1024);
    assert.deepEqual(m.metadata, { os_distro: 'cirros' });
    assert.match(m.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const s = detail.find((i: any) => i.id === snapshot);
    assert.equal(s.status, 'SAVING');
    assert.equal(s.progress, 25);
    assert.equal(s['OS-EXT-IMG-SIZE:size'], null);
    assert.equal(s.server.id, '6e3f4f4e-9a42-4b8b-9a32-6a0d8c1b1111');
    assert.equal(s['OS-DCF:diskConfig'], 'AUTO');
  });

  test('filters: name, status, server, type, changes-since; limit pages with images_links', async () => {
    const ids = async (q: string) => (await call('GET', `images?${q}`)).body.images.map((i: any) => i.id);
    assert.deepEqual(await ids('name=mine'), [mine]);
    assert.deepEqual(await ids('status=SAVING'), []);
    assert.deepEqual(await ids('status=QUEUED'), [snapshot]);
    assert.deepEqual(await ids('server=http://nova/v2.1/servers/6e3f4f4e-9a42-4b8b-9a32-6a0d8c1b1111'), [snapshot]);
    assert.deepEqual(await ids('type=snapshot'), [snapshot]);
    assert.equal((await ids('changes-since=2000-01-01T00:00:00Z')).length, 3);
    assert.deepEqual(await ids('changes-since=2999-01-01T00:00:00Z'), []);
    const page = await call('GET', 'images?limit=2');
    assert.equal(page.body.images.length, 2);
    assert.match(page.body.images_links[0].href, /limit=2&marker=/);
    const rest = await call('GET', `images?limit=2&marker=${page.body.images[1].id}`);
    assert.equal(rest.body.images.length, 1);
  });

  test('show: a visible image; another project\'s private one and an unknown id are 404 "Image not found."', async () => {
    const r = await call('GET', `images/${publicImage}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.image.name, 'public');
    for (const id of [bobs, '00000000-0000-0000-0000-000000000000', 'junk']) {
      const missing = await call('GET', `images/${id}`);
      assert.equal(missing.status, 404, id);
      assert.deepEqual(missing.body, { itemNotFound: { code: 404, message: 'Image not found.' } });
    }
  });

  test('metadata: PUT replaces, POST merges, key GET/PUT/DELETE; the image\'s properties change', async () => {
    const url = `images/${mine}/metadata`;
    assert.deepEqual((await call('PUT', url, { body: { metadata: { os_version: 'value1', os_distro: 'value2' } } })).body, { metadata: { os_version: 'value1', os_distro: 'value2' } });
    assert.deepEqual((await call('POST', url, { body: { metadata: { os_version: 'alt1', architecture: 'x86_64' } } })).body.metadata, {
      os_version: 'alt1',
      os_distro: 'value2',
      architecture: 'x86_64',
    });
    assert.deepEqual((await call('GET', `${url}/os_distro`)).body, { meta: { os_distro: 'value2' } });
    assert.deepEqual((await call('PUT', `${url}/os_version`, { body: { meta: { os_version: 'alt' } } })).body, { meta: { os_version: 'alt' } });
    assert.equal((await call('PUT', `${url}/os_version`, { body: { meta: { other: 'x' } } })).status, 400);
    assert.equal((await call('DELETE', `${url}/architecture`)).status, 204);
    assert.equal((await call('DELETE', `${url}/architecture`)).status, 404);
    assert.equal((await call('GET', `${url}/architecture`)).status, 404);
    assert.deepEqual((await call('GET', url)).body, { metadata: { os_version: 'alt', os_distro: 'value2' } });
    const row = await db()('images').where({ id: mine }).first();
    assert.deepEqual(row.properties, { os_version: 'alt', os_distro: 'value2' });
  });

  test('metadata of an image the project does not own is read-only (403); over metadata_items is 403; bad bodies 400', async () => {
    assert.equal((await call('GET', `images/${publicImage}/metadata`)).status, 200);
    const r = await call('POST', `images/${publicImage}/metadata`, { body: { metadata: { k: 'v' } } });
    assert.equal(r.status, 403);
    assert.equal((await call('DELETE', `images/${bobs}/metadata/k`)).status, 404);
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { metadata_items: 2 } } });
    const over = await call('POST', `images/${mine}/metadata`, { body: { metadata: { a: '1' } } });
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, { forbidden: { code: 403, message: 'Image metadata limit exceeded' } });
    assert.equal((await call('PUT', `images/${mine}/metadata`, { body: { meta: {} } })).status, 400);
  });

  test('gone in later microversions: images from 2.36, metadata from 2.39', async () => {
    assert.equal((await call('GET', 'images', { version: '2.35' })).status, 200);
    assert.equal((await call('GET', 'images', { version: '2.36' })).status, 404);
    assert.equal((await call('GET', `images/${mine}`, { version: '2.36' })).status, 404);
    assert.equal((await call('GET', `images/${mine}/metadata`, { version: '2.38' })).status, 200);
    assert.equal((await call('GET', `images/${mine}/metadata`, { version: '2.39' })).status, 404);
  });
});
