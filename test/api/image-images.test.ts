import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startImage, type ImageHarness } from '../support/image.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('image'));
const PATCH = 'application/openstack-images-v2.1-json-patch';

describe('Glance v2 images', () => {
  let h: ImageHarness;
  let alice: { projectId: string; token: string };
  let bob: { projectId: string; token: string };
  before(async () => {
    h = await startImage({ overrides: { 'image.image_count_total': 8 } });
    alice = await h.projectToken();
    bob = await h.projectToken();
  });
  after(() => h.close());

  const create = async (body: Record<string, unknown>, token = alice.token) => h.call('POST', '/v2/images', { body, token });
  const patch = (id: string, ops: unknown, token = alice.token, contentType = PATCH) =>
    h.call('PATCH', `/v2/images/${id}`, { body: ops, token, contentType });

  test('version discovery lists v2 with CURRENT first', async () => {
    const r = await h.call('GET', '/', { token: null });
    assert.equal(r.status, 300);
    assert.equal(r.body.versions[0].status, 'CURRENT');
    assert.match(r.body.versions[0].links[0].href, /\/v2\/$/);
    assert.equal((await h.call('GET', '/versions', { token: null })).status, 200);
  });

  test('create shows every core field, extra properties flattened, and the defaults', async () => {
    const r = await create({ name: 'cirros', disk_format: 'qcow2', container_format: 'bare', tags: ['a', 'a', 'b'], os_distro: 'cirros', hw_disk_bus: 'virtio' });
    assert.equal(r.status, 201);
    conforms('Image', r.body);
    assert.equal(r.headers.location, `/v2/images/${r.body.id}`);
    assert.match(r.headers['openstack-image-import-methods'], /glance-direct/);
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.visibility, 'shared');
    assert.equal(r.body.owner, alice.projectId);
    assert.deepEqual(r.body.tags, ['a', 'b']);
    assert.equal(r.body.os_distro, 'cirros');
    assert.equal(r.body.hw_disk_bus, 'virtio');
    for (const k of ['size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value']) assert.equal(r.body[k], null, k);
    assert.equal(r.body.protected, false);
    assert.equal(r.body.os_hidden, false);
    assert.equal(r.body.min_disk, 0);
    assert.equal(r.body.file, `/v2/images/${r.body.id}/file`);
    assert.equal(r.body.schema, '/v2/schemas/image');
    const shown = await h.call('GET', `/v2/images/${r.body.id}`, { token: alice.token });
    assert.deepEqual(shown.body, r.body);
  });

  test('create refuses read-only and reserved attributes (403), bad values (400), and a taken id (409)', async () => {
    assert.equal((await create({ name: 'x', status: 'active' })).status, 403);
    assert.equal((await create({ name: 'x', size: 5 })).status, 403);
    assert.equal((await create({ name: 'x', self: '/x' })).status, 403);
    const reserved = await create({ name: 'x', os_glance_import_task: 'y' });
    assert.equal(reserved.status, 403);
    assert.match(reserved.body.message, /reserved/);
    assert.equal((await create({ name: 'x', deleted: 'true' })).status, 403);
    const bad = await create({ name: 'x', disk_format: 'floppy' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /disk_format/);
    assert.equal(bad.body.code, '400 Bad Request');
    assert.equal((await create({ name: 'x', min_ram: -1 })).status, 400);
    assert.equal((await create({ name: 'x', visibility: 'everyone' })).status, 400);
    assert.equal((await create({ name: 'x', custom: 5 })).status, 400);
    assert.equal((await create({ name: 'x'.repeat(256) })).status, 400);
    assert.equal((await create({ name: 'x', id: 'not-a-uuid' })).status, 400);
    const id = randomUUID();
    assert.equal((await create({ name: 'x', id })).status, 201);
    assert.equal((await create({ name: 'x', id })).status, 409);
    const notJson = await h.call('POST', '/v2/images', { body: '{', token: alice.token, contentType: 'application/json' });
    assert.equal(notJson.status, 400);
  });

  test('only admins publicize; members may make an image community', async () => {
    assert.equal((await create({ name: 'pub', visibility: 'public' })).status, 403);
    assert.equal((await create({ name: 'com', visibility: 'community' })).status, 201);
    const pub = await create({ name: 'pub', visibility: 'public' }, h.adminToken);
    assert.equal(pub.status, 201);
    const own = await create({ name: 'mine' });
    const r = await patch(own.body.id, [{ op: 'replace', path: '/visibility', value: 'public' }]);
    assert.equal(r.status, 403);
    assert.equal((await create({ name: 'theirs', owner: bob.projectId })).status, 403);
  });

  test("another project's private or shared image is a 404; public and community are visible", async () => {
    const priv = await create({ name: 'secret', visibility: 'private' });
    const shared = await create({ name: 'shared-not-member' });
    const com = await create({ name: 'community-one', visibility: 'community' });
    assert.equal((await h.call('GET', `/v2/images/${priv.body.id}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', `/v2/images/${shared.body.id}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', `/v2/images/${com.body.id}`, { token: bob.token })).status, 200);
    assert.equal((await h.call('DELETE', `/v2/images/${priv.body.id}`, { token: bob.token })).status, 404);
    assert.equal((await patch(priv.body.id, [{ op: 'replace', path: '/name', value: 'mine' }], bob.token)).status, 404);
    assert.equal((await h.call('GET', `/v2/images/${priv.body.id}`, { token: h.adminToken })).status, 200);
    assert.equal((await h.call('GET', '/v2/images/nope', { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', '/v2/images/', { token: bob.token })).status, 404, 'an empty image id is not the list');
    assert.equal((await h.call('GET', `/v2/images/${priv.body.id}`, { token: null })).status, 401);
    // A community image of someone else is not in the default list, only with visibility=community.
    const bobList = await h.call('GET', '/v2/images?limit=1000', { token: bob.token });
    const ids = bobList.body.images.map((i: { id: string }) => i.id);
    assert.ok(!ids.includes(priv.body.id) && !ids.includes(shared.body.id) && !ids.includes(com.body.id));
    const community = await h.call('GET', '/v2/images?visibility=community', { token: bob.token });
    assert.ok(community.body.images.some((i: { id: string }) => i.id === com.body.id));
  });

  test('a reader can look but not create; a token without roles cannot list', async () => {
    const reader = await h.projectToken(['reader']);
    assert.equal((await h.call('GET', '/v2/images', { token: reader.token })).status, 200);
    assert.equal((await create({ name: 'r' }, reader.token)).status, 403);
    const none = await h.projectToken([]);
    assert.equal((await h.call('GET', '/v2/images', { token: none.token })).status, 403);
  });
});

describe('Glance v2 image list', () => {
  let h: ImageHarness;
  let p: { projectId: string; token: string };
  const ids: string[] = [];
  before(async () => {
    h = await startImage();
    p = await h.projectToken();
    for (const [i, name] of ['delta', 'alpha', 'charlie', 'bravo', 'echo'].entries()) {
      const r = await h.call('POST', '/v2/images', {
        token: p.token,
        body: { name, disk_format: i % 2 ? 'raw' : 'qcow2', container_format: 'bare', tags: i % 2 ? ['odd'] : ['even'], flavour: i === 0 ? 'x' : 'y', protected: i === 4 },
      });
      ids.push(r.body.id);
    }
    await h.call('POST', '/v2/images', { token: p.token, body: { name: 'hidden', os_hidden: true } });
  });
  after(() => h.close());

  const list = async (qs: string) => {
    const r = await h.call('GET', `/v2/images${qs}`, { token: p.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const names = (body: { images: { name: string }[] }) => body.images.map((i) => i.name);

  test('defaults: newest first, hidden images left out, first and schema links', async () => {
    const body = await list('');
    assert.deepEqual(names(body), ['echo', 'bravo', 'charlie', 'alpha', 'delta']);
    assert.equal(body.first, '/v2/images');
    assert.equal(body.schema, '/v2/schemas/images');
    assert.equal(body.next, undefined);
    assert.deepEqual(names(await list('?os_hidden=true')), ['hidden']);
  });

  test('filters: name, in:, tag, disk_format, extra property, protected, created_at', async () => {
    assert.deepEqual(names(await list('?name=alpha')), ['alpha']);
    assert.deepEqual(names(await list('?name=in:alpha,bravo&sort=name:asc')), ['alpha', 'bravo']);
    assert.deepEqual(names(await list('?tag=odd&sort=name:asc')), ['alpha', 'bravo']);
    assert.deepEqual(names(await list('?tag=odd&tag=even')), []);
    assert.deepEqual(names(await list('?disk_format=qcow2&sort_key=name&sort_dir=asc')), ['charlie', 'delta', 'echo']);
    assert.deepEqual(names(await list('?flavour=x')), ['delta']);
    assert.deepEqual(names(await list('?protected=true')), ['echo']);
    assert.deepEqual(names(await list('?min_ram=0&name=alpha')), ['alpha']);
    assert.deepEqual(names(await list('?min_ram=1')), []);
    assert.deepEqual(names(await list(`?created_at=lt:${encodeURIComponent('2000-01-01T00:00:00Z')}`)), []);
    assert.equal((await list(`?created_at=gte:${encodeURIComponent('2000-01-01T00:00:00Z')}`)).images.length, 5);
    assert.deepEqual(names(await list(`?id=in:${ids[1]},${ids[3]}&sort=name:asc`)), ['alpha', 'bravo']);
  });

  test('limit and marker page through in sort order with next links', async () => {
    const seen: string[] = [];
    let url = '/v2/images?limit=2&sort=name:asc';
    for (let pages = 0; url && pages < 10; pages++) {
      const r = await h.call('GET', url, { token: p.token });
      seen.push(...names(r.body));
      url = r.body.next;
      if (url) assert.match(url, /limit=2/);
    }
    assert.deepEqual(seen, ['alpha', 'bravo', 'charlie', 'delta', 'echo']);
    const desc = await list(`?sort_key=name&sort_dir=desc&limit=2&marker=${ids[2]}`);
    assert.deepEqual(names(desc), ['bravo', 'alpha']);
  });

  test('bad list parameters are 400s', async () => {
    for (const qs of ['?limit=x', '?limit=-1', '?sort_key=owner', '?sort_dir=up', '?sort=name&sort_key=name', '?visibility=everyone', '?member_status=maybe', `?marker=${randomUUID()}`, '?marker=junk', '?os_hidden=perhaps', '?size_min=big', '?size=big', '?created_at=gt:yesterday', '?changes-since=2020-01-01']) {
      const r = await h.call('GET', `/v2/images${qs}`, { token: p.token });
      assert.equal(r.status, 400, qs);
    }
  });
});

describe('Glance v2 image updates, tags, deactivation and deletion', () => {
  let h: ImageHarness;
  let p: { projectId: string; token: string };
  before(async () => {
    h = await startImage({ overrides: { 'image.image_count_total': 3 } });
    p = await h.projectToken();
  });
  after(() => h.close());

  const create = async (body: Record<string, unknown>) => (await h.call('POST', '/v2/images', { body, token: p.token })).body;
  const patch = (id: string, ops: unknown, contentType = PATCH) => h.call('PATCH', `/v2/images/${id}`, { body: ops, token: p.token, contentType });

  test('JSON patch add, replace and remove on core and extra properties', async () => {
    const img = await create({ name: 'a', color: 'red' });
    let r = await patch(img.id, [
      { op: 'replace', path: '/name', value: 'b' },
      { op: 'add', path: '/size~1label', value: 'big' },
      { op: 'replace', path: '/color', value: 'blue' },
      { op: 'add', path: '/min_ram', value: 512 },
      { op: 'replace', path: '/tags', value: ['x', 'x', 'y'] },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, 'b');
    assert.equal(r.body['size/label'], 'big');
    assert.equal(r.body.color, 'blue');
    assert.equal(r.body.min_ram, 512);
    assert.deepEqual(r.body.tags, ['x', 'y']);
    r = await patch(img.id, [{ op: 'remove', path: '/color' }]);
    assert.equal(r.status, 200);
    assert.equal(r.body.color, undefined);
    // Draft 4 (v2.0 media type): {"add": path, "value"}; adding an existing property is a conflict.
    r = await patch(img.id, [{ add: '/name', value: 'c' }], 'application/openstack-images-v2.0-json-patch');
    assert.equal(r.status, 409);
    r = await patch(img.id, [{ replace: '/name', value: 'c' }], 'application/openstack-images-v2.0-json-patch');
    assert.equal(r.body.name, 'c');
  });

  test('bad patches: 415 with Accept-Patch, 400 for shape, 403 read-only or core removal, 409 missing property', async () => {
    const img = await create({ name: 'p' });
    const wrongType = await patch(img.id, [{ op: 'replace', path: '/name', value: 'x' }], 'application/json');
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.headers['accept-patch'], /openstack-images-v2.1-json-patch/);
    const cases: [unknown, number][] = [
      [{ op: 'replace', path: '/name', value: 'x' }, 400],
      [[{ op: 'move', path: '/name', value: 'x' }], 400],
      [[{ path: '/name', value: 'x' }], 400],
      [[{ op: 'replace', value: 'x' }], 400],
      [[{ op: 'replace', path: 'name', value: 'x' }], 400],
      [[{ op: 'replace', path: '/name/first', value: 'x' }], 400],
      [[{ op: 'replace', path: '/name' }], 400],
      [[{ op: 'replace', path: '/disk_format', value: 'floppy' }], 400],
      [[{ op: 'add', path: '/extra', value: 7 }], 400],
      [[{ op: 'replace', path: '/status', value: 'active' }], 403],
      [[{ op: 'replace', path: '/checksum', value: 'x' }], 403],
      [[{ op: 'add', path: '/os_glance_foo', value: 'x' }], 403],
      [[{ op: 'remove', path: '/name' }], 403],
      [[{ op: 'replace', path: '/owner', value: 'someone' }], 403],
      [[{ op: 'replace', path: '/nothere', value: 'x' }], 409],
      [[{ op: 'remove', path: '/nothere' }], 409],
    ];
    for (const [ops, status] of cases) assert.equal((await patch(img.id, ops)).status, status, JSON.stringify(ops));
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, { token: p.token })).body.name, 'p');
  });

  test('tags: put is idempotent, delete of a missing tag is 404', async () => {
    const img = await create({ name: 't' });
    for (let i = 0; i < 2; i++) assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/blue`, { token: p.token })).status, 204);
    assert.deepEqual((await h.call('GET', `/v2/images/${img.id}`, { token: p.token })).body.tags, ['blue']);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/blue`, { token: p.token })).status, 204);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/blue`, { token: p.token })).status, 404);
    await h.call('DELETE', `/v2/images/${img.id}`, { token: p.token });
  });

  test('deactivate needs an active image; protected images are not deleted; a deleted id is not reused', async () => {
    const img = await create({ name: 'd', protected: true });
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/deactivate`, { token: p.token })).status, 403);
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/reactivate`, { token: p.token })).status, 403);
    const refused = await h.call('DELETE', `/v2/images/${img.id}`, { token: p.token });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /protected/);
    await patch(img.id, [{ op: 'replace', path: '/protected', value: false }]);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, { token: p.token })).status, 204);
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`, { token: p.token })).status, 404);
    assert.equal((await h.call('GET', `/v2/images/${img.id}`, { token: p.token })).status, 404);
    assert.equal((await h.call('POST', '/v2/images', { body: { id: img.id, name: 'again' }, token: p.token })).status, 409);
  });

  test('image_count_total: the fourth image is refused with 413', async () => {
    const mine = (await h.call('GET', '/v2/images', { token: p.token })).body.images.length;
    for (let i = mine; i < 3; i++) await create({ name: `q${i}` });
    const r = await h.call('POST', '/v2/images', { body: { name: 'over' }, token: p.token });
    assert.equal(r.status, 413);
    assert.match(r.body.message, /image_count_total/);
  });

  test('schemas: image, images', async () => {
    const image = await h.call('GET', '/v2/schemas/image', { token: p.token });
    assert.equal(image.body.name, 'image');
    assert.deepEqual(image.body.additionalProperties, { type: 'string' });
    assert.ok(image.body.properties.disk_format.enum.includes('qcow2'));
    assert.equal((await h.call('GET', '/v2/schemas/images', { token: p.token })).body.name, 'images');
    assert.equal((await h.call('GET', '/v2/schemas/nothing', { token: p.token })).status, 404);
  });
});

describe('Glance quotas from Keystone unified limits', () => {
  let h: ImageHarness;
  before(async () => {
    h = await startImage({ overrides: { 'image.image_count_total': 100 } });
  });
  after(() => h.close());

  test('a registered default and a project limit override the configured image_count_total', async () => {
    const id = h.identity;
    const service = (await id.call('POST', '/v3/services', { service: { type: 'image', name: 'glance' } })).body.service;
    const registered = await id.call('POST', '/v3/registered_limits', {
      registered_limits: [{ service_id: service.id, region_id: 'RegionOne', resource_name: 'image_count_total', default_limit: 1 }],
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const p = await h.projectToken();
    const q = await h.projectToken();
    assert.equal((await h.call('POST', '/v2/images', { body: { name: 'one' }, token: p.token })).status, 201);
    assert.equal((await h.call('POST', '/v2/images', { body: { name: 'two' }, token: p.token })).status, 413, 'the registered default (1) applies');
    const limit = await id.call('POST', '/v3/limits', {
      limits: [{ service_id: service.id, region_id: 'RegionOne', project_id: q.projectId, resource_name: 'image_count_total', resource_limit: 2 }],
    });
    assert.equal(limit.status, 201, JSON.stringify(limit.body));
    assert.equal((await h.call('POST', '/v2/images', { body: { name: 'one' }, token: q.token })).status, 201);
    assert.equal((await h.call('POST', '/v2/images', { body: { name: 'two' }, token: q.token })).status, 201, 'the project limit (2) applies');
    assert.equal((await h.call('POST', '/v2/images', { body: { name: 'three' }, token: q.token })).status, 413);
  });
});
