import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { createDefaultFlavors } from '../../api/compute/flavors/defaults.ts';
import { computePolicyDefaults, computePolicyNewDefaults } from '../../api/compute/policy-rules.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { pgliteDatabase } from '../support/db.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova flavors', () => {
  let h: ComputeHarness;
  let alice: ProjectUser; // a member of another project
  let seq = 0;
  const name = (prefix = 'f') => `${prefix}-${++seq}`;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
  });
  after(() => h.close());

  const create = async (flavor: Record<string, unknown> = {}, version?: string) => {
    const r = await h.call('POST', '/v2.1/flavors', { body: { flavor: { name: name(), ram: 512, vcpus: 1, disk: 1, ...flavor } }, version });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.flavor;
  };
  const ids = (r: { body: { flavors: { id: string }[] } }) => r.body.flavors.map((f) => f.id);

  test('create at 2.1: 200 with Nova\'s full body (swap "" for none, public by default, rxtx 1), show and delete (202)', async () => {
    const r = await h.call('POST', '/v2.1/flavors', { body: { flavor: { name: 'm.test', ram: 1024, vcpus: 2, disk: 10, id: 'm.test-1' } }, headers: { host: 'nova:8774' } });
    assert.equal(r.status, 200);
    conforms('FlavorResponse', r.body);
    assert.deepEqual(r.body.flavor, {
      id: 'm.test-1',
      name: 'm.test',
      ram: 1024,
      disk: 10,
      swap: '',
      'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false,
      vcpus: 2,
      'os-flavor-access:is_public': true,
      rxtx_factor: 1,
      links: [
        { rel: 'self', href: 'http://nova:8774/v2.1/flavors/m.test-1' },
        { rel: 'bookmark', href: 'http://nova:8774/flavors/m.test-1' },
      ],
    });
    const shown = await h.call('GET', '/v2.1/flavors/m.test-1', { token: alice.token, headers: { host: 'nova:8774' } });
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, r.body);
    assert.equal((await h.call('DELETE', '/v2.1/flavors/m.test-1')).status, 202);
    assert.equal((await h.call('GET', '/v2.1/flavors/m.test-1')).status, 404);
    assert.equal((await h.call('DELETE', '/v2.1/flavors/m.test-1')).status, 404);
  });

  test('ids: an integer becomes its text, a UUID or any allowed string is kept, none or null makes a UUID', async () => {
    assert.equal((await create({ id: 424242 })).id, '424242');
    assert.equal((await create({ id: '0a1b2c3d-0000-4000-8000-000000000001' })).id, '0a1b2c3d-0000-4000-8000-000000000001');
    assert.equal((await create({ id: 'my flavor.v1_x-y' })).id, 'my flavor.v1_x-y');
    assert.match((await create()).id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match((await create({ id: null })).id, /^[0-9a-f-]{36}$/);
    const shown = await h.call('GET', `/v2.1/flavors/${encodeURIComponent('my flavor.v1_x-y')}`);
    assert.equal(shown.status, 200);
  });

  test('numbers may come as text; ephemeral, swap, rxtx_factor and is_public strings are honoured', async () => {
    const f = await create({ ram: '2048', vcpus: '3', disk: '0', 'OS-FLV-EXT-DATA:ephemeral': 5, swap: 1024, rxtx_factor: '2.5', 'os-flavor-access:is_public': 'False' });
    assert.equal(f.ram, 2048);
    assert.equal(f.vcpus, 3);
    assert.equal(f.disk, 0);
    assert.equal(f['OS-FLV-EXT-DATA:ephemeral'], 5);
    assert.equal(f.swap, 1024);
    assert.equal(f.rxtx_factor, 2.5);
    assert.equal(f['os-flavor-access:is_public'], false);
  });

  test('bad bodies are 400s naming the field', async () => {
    const bad = async (flavor: Record<string, unknown>, field: RegExp) => {
      const r = await h.call('POST', '/v2.1/flavors', { body: { flavor } });
      assert.equal(r.status, 400, JSON.stringify(flavor));
      assert.equal(r.body.badRequest.code, 400);
      assert.match(r.body.badRequest.message, field);
    };
    const ok = { name: name(), ram: 512, vcpus: 1, disk: 1 };
    await bad({ ...ok, ram: undefined }, /'flavor\/ram' is a required property/);
    await bad({ ...ok, ram: 0 }, /flavor\/ram/);
    await bad({ ...ok, vcpus: -1 }, /flavor\/vcpus/);
    await bad({ ...ok, disk: 'ten' }, /flavor\/disk/);
    await bad({ ...ok, disk: 2147483648 }, /flavor\/disk/);
    await bad({ ...ok, ram: '99999999999' }, /ram must be <= 2147483647/);
    await bad({ ...ok, name: ' padded' }, /flavor\/name/);
    await bad({ ...ok, name: '' }, /flavor\/name/);
    await bad({ ...ok, id: ' x' }, /flavor\/id/);
    await bad({ ...ok, id: 'a/b' }, /flavor\/id/);
    await bad({ ...ok, rxtx_factor: 0 }, /flavor\/rxtx_factor/);
    await bad({ ...ok, 'os-flavor-access:is_public': 'maybe' }, /is_public/);
    await bad({ ...ok, colour: 'red' }, /flavor\/colour/);
    const noBody = await h.call('POST', '/v2.1/flavors', { body: { flavour: {} } });
    assert.equal(noBody.status, 400);
  });

  test('a taken id or name is a 409', async () => {
    const f = await create();
    const sameId = await h.call('POST', '/v2.1/flavors', { body: { flavor: { name: name(), ram: 1, vcpus: 1, disk: 0, id: f.id } } });
    assert.equal(sameId.status, 409);
    assert.equal(sameId.body.conflictingRequest.message, `Flavor with ID ${f.id} already exists.`);
    const sameName = await h.call('POST', '/v2.1/flavors', { body: { flavor: { name: f.name, ram: 1, vcpus: 1, disk: 0 } } });
    assert.equal(sameName.status, 409);
    assert.equal(sameName.body.conflictingRequest.message, `Flavor with name ${f.name} already exists.`);
  });

  test('only admins create, update and delete flavors (403 forbidden body)', async () => {
    const f = await create();
    const r = await h.call('POST', '/v2.1/flavors', { token: alice.token, body: { flavor: { name: name(), ram: 1, vcpus: 1, disk: 0 } } });
    assert.equal(r.status, 403);
    assert.match(r.body.forbidden.message, /os_compute_api:os-flavor-manage:create/);
    assert.equal((await h.call('DELETE', `/v2.1/flavors/${f.id}`, { token: alice.token })).status, 403);
    assert.equal((await h.call('PUT', `/v2.1/flavors/${f.id}`, { token: alice.token, version: '2.55', body: { flavor: { description: 'x' } } })).status, 403);
  });

  test('unknown flavor: 404 itemNotFound', async () => {
    const r = await h.call('GET', '/v2.1/flavors/does-not-exist');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { itemNotFound: { code: 404, message: 'Flavor does-not-exist could not be found.' } });
  });

  test('description: refused at 2.54, shown and settable from 2.55 (PUT is a 404 before 2.55)', async () => {
    const refused = await h.call('POST', '/v2.1/flavors', { version: '2.54', body: { flavor: { name: name(), ram: 1, vcpus: 1, disk: 0, description: 'd' } } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.badRequest.message, /flavor\/description/);
    const f = await create({ description: 'small one' }, '2.55');
    assert.equal(f.description, 'small one');
    const old = await h.call('GET', `/v2.1/flavors/${f.id}`, { version: '2.54' });
    assert.equal('description' in old.body.flavor, false);
    const listed = await h.call('GET', '/v2.1/flavors', { version: '2.55' });
    const brief = listed.body.flavors.find((x: { id: string }) => x.id === f.id);
    assert.deepEqual(Object.keys(brief).sort(), ['description', 'id', 'links', 'name']);
    assert.equal((await h.call('PUT', `/v2.1/flavors/${f.id}`, { version: '2.54', body: { flavor: { description: 'x' } } })).status, 404);
    const updated = await h.call('PUT', `/v2.1/flavors/${f.id}`, { version: '2.55', body: { flavor: { description: 'now bigger' } } });
    assert.equal(updated.status, 200);
    conforms('FlavorResponse', updated.body);
    assert.equal(updated.body.flavor.description, 'now bigger');
    const cleared = await h.call('PUT', `/v2.1/flavors/${f.id}`, { version: '2.55', body: { flavor: { description: null } } });
    assert.equal(cleared.body.flavor.description, null);
    const badUpdate = await h.call('PUT', `/v2.1/flavors/${f.id}`, { version: '2.55', body: { flavor: { name: 'x', description: 'y' } } });
    assert.equal(badUpdate.status, 400);
    const noFlavor = await h.call('PUT', '/v2.1/flavors/nope', { version: '2.55', body: { flavor: { description: 'y' } } });
    assert.equal(noFlavor.status, 404);
  });

  test('2.61 puts extra_specs in flavor bodies (create, show, detail, update); 2.75 shows swap 0 as 0', async () => {
    const f = await create({}, '2.61');
    assert.deepEqual(f.extra_specs, {});
    await h.call('POST', `/v2.1/flavors/${f.id}/os-extra_specs`, { body: { extra_specs: { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': 1024 } } });
    const shown = await h.call('GET', `/v2.1/flavors/${f.id}`, { version: '2.61', token: alice.token });
    assert.deepEqual(shown.body.flavor.extra_specs, { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': '1024' });
    assert.equal(shown.body.flavor.swap, '');
    const before = await h.call('GET', `/v2.1/flavors/${f.id}`, { version: '2.60' });
    assert.equal('extra_specs' in before.body.flavor, false);
    const detail = await h.call('GET', '/v2.1/flavors/detail', { version: '2.61' });
    conforms('FlavorList', detail.body);
    assert.deepEqual(detail.body.flavors.find((x: { id: string }) => x.id === f.id).extra_specs, shown.body.flavor.extra_specs);
    const updated = await h.call('PUT', `/v2.1/flavors/${f.id}`, { version: '2.61', body: { flavor: { description: 'd' } } });
    assert.deepEqual(updated.body.flavor.extra_specs, shown.body.flavor.extra_specs);
    const v275 = await h.call('GET', `/v2.1/flavors/${f.id}`, { version: '2.75' });
    assert.equal(v275.body.flavor.swap, 0);
  });

  test('lists: brief and detail, minRam/minDisk filters, sorting, limit/marker with flavors_links', async () => {
    const big = await create({ ram: 65536, disk: 500, id: 'zz-big' });
    const brief = await h.call('GET', '/v2.1/flavors');
    conforms('FlavorBriefList', brief.body);
    assert.ok(ids(brief).includes('zz-big'));
    assert.deepEqual(Object.keys(brief.body.flavors[0]).sort(), ['id', 'links', 'name']);
    const detail = await h.call('GET', '/v2.1/flavors/detail');
    conforms('FlavorList', detail.body);
    assert.deepEqual(ids(detail), ids(brief));
    assert.deepEqual(ids(await h.call('GET', '/v2.1/flavors/detail?minRam=65536')), ['zz-big']);
    assert.deepEqual(ids(await h.call('GET', '/v2.1/flavors?minDisk=500')), ['zz-big']);
    assert.equal((await h.call('GET', '/v2.1/flavors?minRam=lots')).status, 400);
    // Default order: flavorid ascending (text).
    const all = ids(brief);
    assert.deepEqual(all, [...all].sort());
    const byRam = await h.call('GET', '/v2.1/flavors/detail?sort_key=memory_mb&sort_dir=desc');
    assert.equal(byRam.body.flavors[0].id, big.id);
    assert.equal((await h.call('GET', '/v2.1/flavors?sort_key=colour')).status, 400);
    assert.equal((await h.call('GET', '/v2.1/flavors?sort_dir=up')).status, 400);

    const page1 = await h.call('GET', '/v2.1/flavors?limit=2', { headers: { host: 'nova:8774' } });
    assert.deepEqual(ids(page1), all.slice(0, 2));
    assert.deepEqual(page1.body.flavors_links, [{ rel: 'next', href: `http://nova:8774/v2.1/flavors?limit=2&marker=${encodeURIComponent(all[1]).replace(/%20/g, '+')}` }]);
    const page2 = await h.call('GET', `/v2.1/flavors?limit=2&marker=${encodeURIComponent(all[1])}`);
    assert.deepEqual(ids(page2), all.slice(2, 4));
    const rest = await h.call('GET', `/v2.1/flavors/detail?marker=${encodeURIComponent(all[all.length - 2])}`);
    assert.deepEqual(ids(rest), all.slice(-1));
    assert.equal(rest.body.flavors_links, undefined);
    const detailPage = await h.call('GET', '/v2.1/flavors/detail?limit=1&minRam=1');
    assert.match(detailPage.body.flavors_links[0].href, /\/v2\.1\/flavors\/detail\?limit=1&marker=.+&minRam=1$/);
    const badMarker = await h.call('GET', '/v2.1/flavors?marker=nope');
    assert.equal(badMarker.status, 400);
    assert.equal(badMarker.body.badRequest.message, 'marker [nope] not found');
    assert.equal((await h.call('GET', '/v2.1/flavors?limit=-1')).status, 400);
    assert.deepEqual(ids(await h.call('GET', '/v2.1/flavors?limit=0')), []);
  });

  test('unknown query parameters are ignored before 2.75 and a 400 from 2.75', async () => {
    assert.equal((await h.call('GET', '/v2.1/flavors?colour=red', { version: '2.74' })).status, 200);
    const r = await h.call('GET', '/v2.1/flavors?colour=red', { version: '2.75' });
    assert.equal(r.status, 400);
    assert.match(r.body.badRequest.message, /colour/);
  });

  test('private flavors: hidden from projects without access, and from an admin\'s default list; is_public=false / None / string forms', async () => {
    const priv = await create({ 'os-flavor-access:is_public': false });
    const pub = await create({ 'os-flavor-access:is_public': 'True' });
    assert.ok(!ids(await h.call('GET', '/v2.1/flavors/detail', { token: alice.token })).includes(priv.id));
    assert.equal((await h.call('GET', `/v2.1/flavors/${priv.id}`, { token: alice.token })).status, 404);
    assert.ok(!ids(await h.call('GET', '/v2.1/flavors/detail')).includes(priv.id));
    assert.equal((await h.call('GET', `/v2.1/flavors/${priv.id}`)).status, 200, 'an admin sees any flavor by id');
    for (const v of ['f', 'false', 'no', '0']) {
      const r = ids(await h.call('GET', `/v2.1/flavors/detail?is_public=${v}`));
      assert.ok(r.includes(priv.id) && !r.includes(pub.id), v);
    }
    for (const v of ['t', 'true', 'yes', '1']) {
      const r = ids(await h.call('GET', `/v2.1/flavors/detail?is_public=${v}`));
      assert.ok(!r.includes(priv.id) && r.includes(pub.id), v);
    }
    const everything = ids(await h.call('GET', '/v2.1/flavors/detail?is_public=None'));
    assert.ok(everything.includes(priv.id) && everything.includes(pub.id));
    assert.equal((await h.call('GET', '/v2.1/flavors/detail?is_public=perhaps')).status, 400);
    // A non-admin's is_public is ignored: public ones (and shared) only.
    const asked = ids(await h.call('GET', '/v2.1/flavors/detail?is_public=None', { token: alice.token }));
    assert.ok(!asked.includes(priv.id) && asked.includes(pub.id));
  });

  test('flavor access: add, list, share makes it visible, remove; duplicates 409, public 409 from 2.7, unknown project 400', async () => {
    const priv = await create({ 'os-flavor-access:is_public': false });
    const empty = await h.call('GET', `/v2.1/flavors/${priv.id}/os-flavor-access`);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { flavor_access: [] });
    const action = (body: unknown, opts: { token?: string; version?: string } = {}) => h.call('POST', `/v2.1/flavors/${priv.id}/action`, { body, ...opts });

    const added = await action({ addTenantAccess: { tenant: alice.projectId } });
    assert.equal(added.status, 200);
    conforms('FlavorAccessList', added.body);
    assert.deepEqual(added.body, { flavor_access: [{ flavor_id: priv.id, tenant_id: alice.projectId }] });
    assert.ok(ids(await h.call('GET', '/v2.1/flavors/detail', { token: alice.token })).includes(priv.id));
    assert.equal((await h.call('GET', `/v2.1/flavors/${priv.id}`, { token: alice.token })).status, 200);
    assert.ok(ids(await h.call('GET', '/v2.1/flavors/detail', { token: (await h.userToken(alice.projectId)).token })).includes(priv.id));

    const again = await action({ addTenantAccess: { tenant: alice.projectId } });
    assert.equal(again.status, 409);
    assert.match(again.body.conflictingRequest.message, /Flavor access already exists/);
    assert.equal((await action({ addTenantAccess: { tenant: 'no-such-project' } })).status, 400);
    assert.equal((await action({ addTenantAccess: { tenant: alice.projectId } }, { token: alice.token })).status, 403);
    assert.equal((await action({ removeTenantAccess: { tenant: alice.projectId } }, { token: alice.token })).status, 403);

    const removed = await action({ removeTenantAccess: { tenant: alice.projectId } });
    assert.deepEqual(removed.body, { flavor_access: [] });
    assert.ok(!ids(await h.call('GET', '/v2.1/flavors/detail', { token: alice.token })).includes(priv.id));
    const missing = await action({ removeTenantAccess: { tenant: alice.projectId } });
    assert.equal(missing.status, 404);
    assert.match(missing.body.itemNotFound.message, /Flavor access not found/);

    assert.equal((await action({ addTenantAccess: {} })).status, 400);
    assert.equal((await action({ frobnicate: {} })).status, 400);

    const pub = await create();
    assert.equal((await h.call('GET', `/v2.1/flavors/${pub.id}/os-flavor-access`)).status, 404);
    const pubAction = (version: string) =>
      h.call('POST', `/v2.1/flavors/${pub.id}/action`, { version, body: { addTenantAccess: { tenant: alice.projectId } } });
    assert.equal((await pubAction('2.6')).status, 200, 'before 2.7 a public flavor takes access entries');
    assert.equal((await pubAction('2.7')).status, 409);
  });

  test('any project member may list a flavor\'s access (Zed\'s deprecated admin-or-owner rule); the new default alone is admin-only', async () => {
    const priv = await create({ 'os-flavor-access:is_public': false });
    assert.equal((await h.call('GET', `/v2.1/flavors/${priv.id}/os-flavor-access`, { token: alice.token })).status, 404, 'not visible to alice');
    await h.call('POST', `/v2.1/flavors/${priv.id}/action`, { body: { addTenantAccess: { tenant: alice.projectId } } });
    assert.equal((await h.call('GET', `/v2.1/flavors/${priv.id}/os-flavor-access`, { token: alice.token })).status, 200);
    const member = { user_id: alice.userId, project_id: alice.projectId, roles: ['member', 'reader'] };
    const target = { project_id: alice.projectId, user_id: alice.userId };
    assert.ok(new Enforcer(computePolicyDefaults).allows('os_compute_api:os-flavor-access', target, member));
    assert.ok(!new Enforcer(computePolicyNewDefaults).allows('os_compute_api:os-flavor-access', target, member));
    assert.ok(new Enforcer(computePolicyNewDefaults).allows('os_compute_api:os-flavor-access', target, { ...member, roles: ['admin'] }));
  });

  test('extra specs: set (numbers as text), list, show, update one, delete; readers may read, only admins write', async () => {
    const f = await create();
    const url = `/v2.1/flavors/${f.id}/os-extra_specs`;
    const set = await h.call('POST', url, { body: { extra_specs: { 'hw:numa_nodes': '1', 'hw:cpu_policy': 'shared', count: 2 } } });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { extra_specs: { 'hw:numa_nodes': '1', 'hw:cpu_policy': 'shared', count: 2 } });
    const listed = await h.call('GET', url, { token: alice.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, { extra_specs: { count: '2', 'hw:cpu_policy': 'shared', 'hw:numa_nodes': '1' } });
    assert.deepEqual((await h.call('GET', `${url}/hw:numa_nodes`, { token: alice.token })).body, { 'hw:numa_nodes': '1' });
    const updated = await h.call('PUT', `${url}/hw:numa_nodes`, { body: { 'hw:numa_nodes': '2' } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body, { 'hw:numa_nodes': '2' });
    assert.equal((await h.call('PUT', `${url}/hw:numa_nodes`, { body: { 'hw:cpu_policy': 'shared' } })).body.badRequest.message, 'Request body and URI mismatch');
    assert.equal((await h.call('PUT', `${url}/hw:numa_nodes`, { body: { 'hw:numa_nodes': '1', 'hw:cpu_policy': 'shared' } })).status, 400);
    const del = await h.call('DELETE', `${url}/hw:numa_nodes`);
    assert.equal(del.status, 200);
    assert.equal(del.body, undefined);
    assert.equal((await h.call('DELETE', `${url}/hw:numa_nodes`)).status, 404);
    const missing = await h.call('GET', `${url}/hw:numa_nodes`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.itemNotFound.message, `Flavor ${f.id} has no extra specs with key hw:numa_nodes.`);

    assert.equal((await h.call('POST', url, { token: alice.token, body: { extra_specs: { a: 'b' } } })).status, 403);
    assert.equal((await h.call('PUT', `${url}/count`, { token: alice.token, body: { count: '3' } })).status, 403);
    assert.equal((await h.call('DELETE', `${url}/count`, { token: alice.token })).status, 403);
    assert.equal((await h.call('POST', url, { body: { extra_specs: { 'bad/key': 'x' } } })).status, 400);
    assert.equal((await h.call('POST', url, { body: { extra_specs: { k: 'v'.repeat(256) } } })).status, 400);
    assert.equal((await h.call('GET', '/v2.1/flavors/nope/os-extra_specs')).status, 404);
  });

  test('from 2.86 the values of known extra specs are validated; unknown keys and namespaces pass', async () => {
    const f = await create();
    const url = `/v2.1/flavors/${f.id}/os-extra_specs`;
    const bad = { extra_specs: { 'hw:cpu_policy': 'sometimes' } };
    assert.equal((await h.call('POST', url, { version: '2.85', body: bad })).status, 200);
    const r = await h.call('POST', url, { version: '2.86', body: bad });
    assert.equal(r.status, 400);
    assert.match(r.body.badRequest.message, /'sometimes' is not one of: dedicated, shared, mixed/);
    assert.equal((await h.call('POST', url, { version: '2.86', body: { extra_specs: { 'hw:numa_nodes': '0' } } })).status, 400);
    assert.equal((await h.call('PUT', `${url}/hw:mem_page_size`, { version: '2.86', body: { 'hw:mem_page_size': 'huge' } })).status, 400);
    const ok = await h.call('POST', url, { version: '2.86', body: { extra_specs: { 'hw:cpu_policy': 'shared', 'foo:bar': 'baz', 'hw:mem_page_size': '2MB' } } });
    assert.equal(ok.status, 200);
  });

  test('the all-in-one\'s default flavors: m1.nano, m1.tiny … m1.xlarge only into an empty table', async () => {
    // This harness's database already has flavors: nothing is added.
    assert.deepEqual(await createDefaultFlavors(h.identity.database.db), []);
    const fresh = await pgliteDatabase();
    try {
      assert.deepEqual(await createDefaultFlavors(fresh.db), ['m1.nano', 'm1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge']);
      const rows = await fresh.db('flavors').orderBy('flavorid').select('flavorid', 'name', 'memory_mb', 'vcpus', 'root_gb', 'is_public');
      assert.deepEqual(rows.map((f: any) => [f.flavorid, f.name, f.memory_mb, f.vcpus, f.root_gb, f.is_public]), [
        ['1', 'm1.tiny', 512, 1, 1, true],
        ['2', 'm1.small', 2048, 1, 20, true],
        ['3', 'm1.medium', 4096, 2, 40, true],
        ['4', 'm1.large', 8192, 4, 80, true],
        ['42', 'm1.nano', 128, 1, 1, true],
        ['5', 'm1.xlarge', 16384, 8, 160, true],
      ]);
      assert.deepEqual(await createDefaultFlavors(fresh.db), []);
    } finally {
      await fresh.drop();
    }
  });
});
