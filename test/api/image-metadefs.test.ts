import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startImage, type ImageHarness } from '../support/image.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('image'));
const NS = '/v2/metadefs/namespaces';

describe('Glance v2 metadata definitions', () => {
  let h: ImageHarness;
  let alice: { projectId: string; token: string };
  let reader: { projectId: string; token: string };
  let nobody: { projectId: string; token: string };
  before(async () => {
    h = await startImage();
    alice = await h.projectToken();
    reader = await h.projectToken(['reader']);
    nobody = await h.projectToken([]);
  });
  after(() => h.close());

  let seq = 0;
  /** A namespace made by the admin (public and unprotected unless `body` says otherwise); its name. */
  const namespace = async (body: Record<string, unknown> = {}) => {
    const name = `Test::NS${++seq}`;
    const r = await h.call('POST', NS, { body: { namespace: name, visibility: 'public', ...body } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return name;
  };

  test('resource types: the seeded ones, listed', async () => {
    const r = await h.call('GET', '/v2/metadefs/resource_types', { token: reader.token });
    assert.equal(r.status, 200);
    conforms('MetadefResourceTypeList', r.body);
    const names = r.body.resource_types.map((t: { name: string }) => t.name);
    for (const n of ['OS::Glance::Image', 'OS::Cinder::Volume', 'OS::Nova::Flavor', 'OS::Nova::Aggregate', 'OS::Nova::Server', 'OS::Trove::Instance']) {
      assert.ok(names.includes(n), n);
    }
    assert.equal(names[0], 'OS::Glance::Image');
    assert.equal((await h.call('GET', '/v2/metadefs/resource_types', { token: nobody.token })).status, 404);
    assert.equal((await h.call('GET', '/v2/metadefs/resource_types', { token: null })).status, 401);
  });

  test('create a namespace: simple, then with its content, which the response echoes', async () => {
    const simple = await h.call('POST', NS, { body: { namespace: 'FredCo::Example', display_name: 'An Example', description: 'd' } });
    assert.equal(simple.status, 201);
    conforms('MetadefNamespace', simple.body);
    assert.equal(simple.headers.location, `${NS}/FredCo::Example`);
    assert.equal(simple.body.self, `${NS}/FredCo::Example`);
    assert.equal(simple.body.schema, '/v2/schemas/metadefs/namespace');
    assert.equal(simple.body.visibility, 'private');
    assert.equal(simple.body.protected, false);
    assert.equal(simple.body.owner, h.adminProjectId);
    assert.match(simple.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const k of ['objects', 'properties', 'tags', 'resource_type_associations']) assert.equal(k in simple.body, false, k);

    const full = await h.call('POST', NS, {
      body: {
        namespace: 'OS::Compute::Hypervisor',
        visibility: 'public',
        protected: true,
        resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }, { name: 'OS::Nova::Flavor', prefix: 'hw:' }],
        properties: { hypervisor_type: { title: 'Hypervisor Type', type: 'string', enum: ['kvm', 'qemu'] } },
        objects: [{ name: 'CPU Limits', required: ['cpu_period'], properties: { cpu_period: { title: 'Period', type: 'integer', minimum: 1000 } } }],
        tags: [{ name: 'compute' }],
      },
    });
    assert.equal(full.status, 201);
    conforms('MetadefNamespace', full.body);
    assert.deepEqual(full.body.resource_type_associations, [{ name: 'OS::Glance::Image', prefix: 'hw_' }, { name: 'OS::Nova::Flavor', prefix: 'hw:' }]);
    assert.deepEqual(full.body.properties, { hypervisor_type: { title: 'Hypervisor Type', type: 'string', enum: ['kvm', 'qemu'] } });
    assert.deepEqual(full.body.objects[0].required, ['cpu_period']);
    assert.deepEqual(full.body.tags, [{ name: 'compute' }]);
  });

  test('show a namespace with its objects, properties, tags and associations; prefixed for a resource type', async () => {
    const r = await h.call('GET', `${NS}/OS::Compute::Hypervisor`, { token: reader.token });
    assert.equal(r.status, 200);
    conforms('MetadefNamespace', r.body);
    assert.equal(r.body.objects[0].self, `${NS}/OS::Compute::Hypervisor/objects/CPU Limits`);
    assert.equal(r.body.objects[0].schema, '/v2/schemas/metadefs/object');
    assert.deepEqual(Object.keys(r.body.properties), ['hypervisor_type']);
    assert.deepEqual(r.body.tags, [{ name: 'compute' }]);
    assert.deepEqual(r.body.resource_type_associations.map((a: { name: string }) => a.name), ['OS::Glance::Image', 'OS::Nova::Flavor']);
    assert.ok(r.body.resource_type_associations[0].created_at);

    const flavor = await h.call('GET', `${NS}/OS::Compute::Hypervisor?resource_type=OS::Nova::Flavor`);
    assert.deepEqual(Object.keys(flavor.body.properties), ['hw:hypervisor_type']);
    assert.deepEqual(Object.keys(flavor.body.objects[0].properties), ['hw:cpu_period']);
    assert.deepEqual(flavor.body.objects[0].required, ['hw:cpu_period']);
    const other = await h.call('GET', `${NS}/OS::Compute::Hypervisor?resource_type=OS::Cinder::Volume`);
    assert.deepEqual(Object.keys(other.body.properties), ['hypervisor_type']);
    assert.equal((await h.call('GET', `${NS}/No::Such`)).status, 404);
  });

  test('create refuses bad bodies (400), read-only attributes (403), a taken name (409), non-admins (403)', async () => {
    const bad = async (body: unknown, field: RegExp) => {
      const r = await h.call('POST', NS, { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.code, '400 Bad Request');
      assert.match(r.body.message, field);
    };
    await bad({ display_name: 'no name' }, /namespace/);
    await bad({ namespace: 'x'.repeat(81) }, /namespace/);
    await bad({ namespace: 'Bad::Vis', visibility: 'shared' }, /visibility/);
    await bad({ namespace: 'Bad::Extra', colour: 'red' }, /colour/);
    await bad({ namespace: 'Bad::Prop', properties: { p: { type: 'string' } } }, /title/);
    await bad({ namespace: 'Bad::PropType', properties: { p: { title: 'P', type: 'text' } } }, /type/);
    await bad({ namespace: 'Bad::Object', objects: [{ description: 'no name' }] }, /name/);
    await bad([], /body/);
    assert.equal((await h.call('POST', NS)).status, 400);
    for (const key of ['self', 'schema', 'created_at', 'updated_at']) {
      const r = await h.call('POST', NS, { body: { namespace: 'RO::NS', [key]: 'x' } });
      assert.equal(r.status, 403, key);
      assert.match(r.body.message, new RegExp(`'${key}' is read-only`));
    }
    const dup = await h.call('POST', NS, { body: { namespace: 'FredCo::Example' } });
    assert.equal(dup.status, 409);
    assert.match(dup.body.message, /namespace=FredCo::Example already exists/);
    const dupObject = await h.call('POST', NS, { body: { namespace: 'Dup::Objects', objects: [{ name: 'o' }, { name: 'o' }] } });
    assert.equal(dupObject.status, 409);
    assert.equal((await h.call('GET', `${NS}/Dup::Objects`)).status, 404, 'nothing of a refused create remains');
    assert.equal((await h.call('POST', NS, { body: { namespace: 'Member::NS' }, token: alice.token })).status, 403);
    assert.equal((await h.call('POST', NS, { body: { namespace: 'Nobody::NS' }, token: nobody.token })).status, 404);
  });

  test("visibility: another project's private namespace is a 404; a public one is readable but not writable", async () => {
    const priv = await namespace({ visibility: 'private' });
    const pub = await namespace();
    for (const u of [`${NS}/${priv}`, `${NS}/${priv}/objects`, `${NS}/${priv}/tags`, `${NS}/${priv}/properties`, `${NS}/${priv}/resource_types`]) {
      assert.equal((await h.call('GET', u, { token: alice.token })).status, 404, u);
    }
    assert.equal((await h.call('PUT', `${NS}/${priv}`, { body: { namespace: priv }, token: alice.token })).status, 404);
    assert.equal((await h.call('DELETE', `${NS}/${priv}`, { token: alice.token })).status, 404);
    assert.equal((await h.call('GET', `${NS}/${pub}`, { token: alice.token })).status, 200);
    assert.equal((await h.call('PUT', `${NS}/${pub}`, { body: { namespace: pub }, token: alice.token })).status, 403);
    assert.equal((await h.call('DELETE', `${NS}/${pub}`, { token: alice.token })).status, 403);
    assert.equal((await h.call('POST', `${NS}/${pub}/objects`, { body: { name: 'o' }, token: alice.token })).status, 403);
    assert.equal((await h.call('POST', `${NS}/${pub}/tags/t`, { token: alice.token })).status, 403);
    assert.equal((await h.call('GET', `${NS}/${pub}`, { token: nobody.token })).status, 404, 'no reader role');
    const list = await h.call('GET', `${NS}?limit=1000`, { token: alice.token });
    const names = list.body.namespaces.map((n: { namespace: string }) => n.namespace);
    assert.ok(names.includes(pub));
    assert.ok(!names.includes(priv));
    const adminList = await h.call('GET', `${NS}?limit=1000`);
    assert.ok(adminList.body.namespaces.some((n: { namespace: string }) => n.namespace === priv));
    assert.equal((await h.call('GET', NS, { token: nobody.token })).status, 404);
  });

  test('list: first/next links, limit and marker, sort, visibility and resource_types filters', async () => {
    const r = await h.call('GET', NS);
    assert.equal(r.status, 200);
    conforms('MetadefNamespaceList', r.body);
    assert.equal(r.body.first, NS);
    assert.equal(r.body.schema, '/v2/schemas/metadefs/namespaces');
    const withAssoc = r.body.namespaces.find((n: { namespace: string }) => n.namespace === 'OS::Compute::Hypervisor');
    assert.equal(withAssoc.resource_type_associations.length, 2);
    assert.equal('objects' in withAssoc, false);

    const all: string[] = [];
    let url: string | undefined = `${NS}?limit=2&sort_key=namespace&sort_dir=asc`;
    while (url) {
      const page: { body: { namespaces: { namespace: string }[]; next?: string; first: string } } = await h.call('GET', url);
      assert.ok(page.body.namespaces.length <= 2);
      assert.equal(page.body.first, `${NS}?limit=2&sort_key=namespace&sort_dir=asc`);
      all.push(...page.body.namespaces.map((n) => n.namespace));
      url = page.body.next;
    }
    assert.deepEqual(all, [...all].sort());
    const every = (await h.call('GET', `${NS}?limit=1000`)).body.namespaces.map((n: { namespace: string }) => n.namespace);
    assert.deepEqual([...all].sort(), [...every].sort());
    const desc = (await h.call('GET', `${NS}?sort_key=namespace&sort_dir=desc&limit=1000`)).body.namespaces.map((n: { namespace: string }) => n.namespace);
    assert.deepEqual(desc, [...all].reverse());

    const privates = (await h.call('GET', `${NS}?visibility=private&limit=1000`)).body.namespaces;
    assert.ok(privates.length > 0 && privates.every((n: { visibility: string }) => n.visibility === 'private'));
    const flavors = (await h.call('GET', `${NS}?resource_types=OS::Nova::Flavor,OS::Nova::Server`)).body.namespaces;
    assert.deepEqual(flavors.map((n: { namespace: string }) => n.namespace), ['OS::Compute::Hypervisor']);
    assert.deepEqual((await h.call('GET', `${NS}?resource_types=OS::Nova::Server`)).body.namespaces, []);

    for (const q of ['limit=abc', 'limit=-1', 'sort_dir=up', 'sort_key=colour', 'visibility=shared']) {
      assert.equal((await h.call('GET', `${NS}?${q}`)).status, 400, q);
    }
    assert.equal((await h.call('GET', `${NS}?marker=No::Such`)).status, 404);
  });

  test('update replaces the attributes (defaults for what is left out), renames, refuses a taken name', async () => {
    const name = await namespace({ display_name: 'Shown', description: 'About', protected: true });
    const r = await h.call('PUT', `${NS}/${name}`, { body: { namespace: `${name}::Renamed`, description: 'New' } });
    assert.equal(r.status, 200);
    conforms('MetadefNamespace', r.body);
    assert.equal(r.body.namespace, `${name}::Renamed`);
    assert.equal(r.body.description, 'New');
    assert.equal('display_name' in r.body, false);
    assert.equal(r.body.visibility, 'private');
    assert.equal(r.body.protected, false);
    assert.equal((await h.call('GET', `${NS}/${name}`)).status, 404);
    assert.equal((await h.call('GET', `${NS}/${name}::Renamed`)).status, 200);
    assert.equal((await h.call('PUT', `${NS}/${name}::Renamed`, { body: { namespace: 'FredCo::Example' } })).status, 409);
    assert.equal((await h.call('PUT', `${NS}/${name}::Renamed`, { body: { description: 'no name' } })).status, 400);
    assert.equal((await h.call('PUT', `${NS}/${name}::Renamed`, { body: { namespace: 'x', self: 'y' } })).status, 403);
    assert.equal((await h.call('PUT', `${NS}/No::Such`, { body: { namespace: 'No::Such' } })).status, 404);
  });

  test('delete: refused while protected, then the namespace and all it holds go', async () => {
    const name = await namespace({ protected: true, objects: [{ name: 'o' }], tags: [{ name: 't' }] });
    const refused = await h.call('DELETE', `${NS}/${name}`);
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /is protected and cannot be deleted/);
    await h.call('PUT', `${NS}/${name}`, { body: { namespace: name, protected: false } });
    assert.equal((await h.call('DELETE', `${NS}/${name}`)).status, 204);
    assert.equal((await h.call('GET', `${NS}/${name}`)).status, 404);
    assert.equal((await h.call('DELETE', `${NS}/${name}`)).status, 404);
    await h.call('POST', NS, { body: { namespace: name } });
    const again = await h.call('GET', `${NS}/${name}`);
    assert.equal('objects' in again.body || 'tags' in again.body, false, 'its content went with it');
  });

  test('objects: create, list, show, update (rename), delete; 409, 404, 400, 403', async () => {
    const ns = await namespace();
    const base = `${NS}/${ns}/objects`;
    const body = { name: 'CPU Limits', description: 'd', required: ['p'], properties: { p: { title: 'P', type: 'integer', maximum: 10 } } };
    const created = await h.call('POST', base, { body });
    assert.equal(created.status, 201);
    conforms('MetadefObject', created.body);
    assert.equal(created.body.self, `${base}/CPU Limits`);
    assert.deepEqual(created.body.properties, body.properties);
    assert.equal((await h.call('POST', base, { body })).status, 409);
    const bare = await h.call('POST', base, { body: { name: 'bare' } });
    assert.deepEqual([bare.body.required, bare.body.properties, 'description' in bare.body], [[], {}, false]);

    const list = await h.call('GET', base, { token: reader.token });
    conforms('MetadefObjectList', list.body);
    assert.deepEqual(list.body.objects.map((o: { name: string }) => o.name), ['CPU Limits', 'bare']);
    assert.equal(list.body.schema, '/v2/schemas/metadefs/objects');
    assert.equal((await h.call('GET', `${base}/CPU Limits`, { token: reader.token })).body.description, 'd');

    const updated = await h.call('PUT', `${base}/CPU Limits`, { body: { name: 'CPU', properties: {} } });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.name, 'CPU');
    assert.deepEqual([updated.body.required, updated.body.properties, 'description' in updated.body], [[], {}, false]);
    assert.equal((await h.call('GET', `${base}/CPU Limits`)).status, 404);
    assert.equal((await h.call('PUT', `${base}/CPU`, { body: { name: 'bare' } })).status, 409);
    assert.equal((await h.call('PUT', `${base}/nothing`, { body: { name: 'x' } })).status, 404);

    assert.equal((await h.call('POST', base, { body: { description: 'no name' } })).status, 400);
    assert.equal((await h.call('POST', base, { body: { name: 'x', properties: { p: { title: 'P' } } } })).status, 400);
    assert.equal((await h.call('POST', base, { body: { name: 'x', required: 'p' } })).status, 400);
    assert.equal((await h.call('POST', base, { body: { name: 'x', self: 'y' } })).status, 403);
    assert.equal((await h.call('POST', `${NS}/No::Such/objects`, { body: { name: 'x' } })).status, 404);

    assert.equal((await h.call('DELETE', `${base}/CPU`, { token: alice.token })).status, 403);
    assert.equal((await h.call('DELETE', `${base}/CPU`)).status, 204);
    assert.equal((await h.call('DELETE', `${base}/CPU`)).status, 404);
    await h.call('PUT', `${NS}/${ns}`, { body: { namespace: ns, visibility: 'public', protected: true } });
    const protectedDelete = await h.call('DELETE', `${base}/bare`);
    assert.equal(protectedDelete.status, 403);
    assert.match(protectedDelete.body.message, /object bare is protected/);
  });

  test('properties: create, list, show (with a resource type prefix), update (rename), delete', async () => {
    const ns = await namespace({ resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }, { name: 'OS::Nova::Server' }] });
    const base = `${NS}/${ns}/properties`;
    const body = { name: 'hypervisor_type', title: 'Hypervisor', type: 'string', enum: ['kvm', 'xen'], description: 'd' };
    const created = await h.call('POST', base, { body });
    assert.equal(created.status, 201);
    conforms('MetadefProperty', created.body);
    assert.deepEqual(created.body, body);
    assert.equal((await h.call('POST', base, { body })).status, 409);
    await h.call('POST', base, { body: { name: 'arr', title: 'A', type: 'array', items: { type: 'string', enum: ['a'] }, uniqueItems: true } });

    const list = await h.call('GET', base, { token: reader.token });
    conforms('MetadefPropertyList', list.body);
    assert.deepEqual(Object.keys(list.body.properties).sort(), ['arr', 'hypervisor_type']);
    assert.equal('name' in list.body.properties.arr, false);

    assert.deepEqual((await h.call('GET', `${base}/hypervisor_type`)).body, body);
    assert.equal((await h.call('GET', `${base}/hw_hypervisor_type?resource_type=OS::Glance::Image`)).body.name, 'hypervisor_type');
    assert.equal((await h.call('GET', `${base}/hypervisor_type?resource_type=OS::Glance::Image`)).status, 404);
    assert.equal((await h.call('GET', `${base}/hypervisor_type?resource_type=OS::Nova::Server`)).status, 404, 'no prefix');
    assert.equal((await h.call('GET', `${base}/hw_hypervisor_type?resource_type=OS::Cinder::Volume`)).status, 404, 'not associated');

    const updated = await h.call('PUT', `${base}/hypervisor_type`, { body: { name: 'hv', title: 'HV', type: 'string' } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body, { name: 'hv', title: 'HV', type: 'string' });
    assert.equal((await h.call('PUT', `${base}/hv`, { body: { name: 'arr', title: 'A', type: 'string' } })).status, 409);
    assert.equal((await h.call('PUT', `${base}/hv`, { body: { title: 'no name', type: 'string' } })).status, 400);

    for (const bad of [{ name: 'x', type: 'string' }, { name: 'x', title: 'X' }, { name: 'x', title: 'X', type: 'string', colour: 1 }, { name: 'x', title: 'X', type: 'string', minLength: -1 }]) {
      assert.equal((await h.call('POST', base, { body: bad })).status, 400, JSON.stringify(bad));
    }
    assert.equal((await h.call('POST', base, { body: { ...body, name: 'y', created_at: 'now' } })).status, 403);

    assert.equal((await h.call('DELETE', `${base}/hv`)).status, 204);
    assert.equal((await h.call('GET', `${base}/hv`)).status, 404);
    assert.equal((await h.call('DELETE', `${base}/hv`)).status, 404);
  });

  test('tags: one, a batch that replaces or appends, rename, delete; list paging', async () => {
    const ns = await namespace();
    const base = `${NS}/${ns}/tags`;
    const one = await h.call('POST', `${base}/solo`);
    assert.equal(one.status, 201);
    conforms('MetadefTag', one.body);
    assert.equal((await h.call('POST', `${base}/solo`)).status, 409);
    assert.equal((await h.call('POST', `${base}/${'x'.repeat(81)}`)).status, 400);

    const batch = await h.call('POST', base, { body: { tags: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } });
    assert.equal(batch.status, 201);
    assert.deepEqual(batch.body, { tags: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    const names = async (q = '') => (await h.call('GET', `${base}${q}`, { token: reader.token })).body.tags.map((t: { name: string }) => t.name);
    assert.deepEqual((await names()).sort(), ['a', 'b', 'c'], 'the batch replaced solo');
    await h.call('POST', base, { body: { tags: [{ name: 'd' }] }, headers: { 'x-openstack-append': 'True' } });
    assert.deepEqual((await names()).sort(), ['a', 'b', 'c', 'd']);
    const dup = await h.call('POST', base, { body: { tags: [{ name: 'e' }, { name: 'a' }] }, headers: { 'x-openstack-append': 'true' } });
    assert.equal(dup.status, 409);
    assert.deepEqual((await names()).sort(), ['a', 'b', 'c', 'd'], 'a refused batch adds nothing');
    assert.equal((await h.call('POST', base, { body: { tags: [{ name: 'x', extra: 1 }] } })).status, 400);
    assert.equal((await h.call('POST', base, { body: { tags: 'x' } })).status, 400);
    const list = await h.call('GET', base);
    conforms('MetadefTagList', list.body);

    assert.deepEqual(await names('?sort_key=name&sort_dir=asc&limit=2'), ['a', 'b']);
    assert.deepEqual(await names('?sort_key=name&sort_dir=asc&limit=2&marker=b'), ['c', 'd']);
    assert.deepEqual(await names('?sort_key=name&sort_dir=desc'), ['d', 'c', 'b', 'a']);
    assert.equal((await h.call('GET', `${base}?marker=nothing`)).status, 404);
    assert.equal((await h.call('GET', `${base}?sort_key=colour`)).status, 400);
    assert.equal((await h.call('GET', `${base}?limit=-2`)).status, 400);

    const renamed = await h.call('PUT', `${base}/a`, { body: { name: 'z' } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'z');
    assert.equal((await h.call('GET', `${base}/z`)).body.name, 'z');
    assert.equal((await h.call('GET', `${base}/a`)).status, 404);
    assert.equal((await h.call('PUT', `${base}/z`, { body: { name: 'b' } })).status, 409);
    assert.equal((await h.call('PUT', `${base}/z`, { body: {} })).status, 400);
    assert.equal((await h.call('DELETE', `${base}/z`)).status, 204);
    assert.equal((await h.call('DELETE', `${base}/z`)).status, 404);
  });

  test('resource type associations: create (a new type too), list, 409, delete, 404, 403 while protected', async () => {
    const ns = await namespace();
    const base = `${NS}/${ns}/resource_types`;
    const created = await h.call('POST', base, { body: { name: 'OS::Cinder::Volume', prefix: 'hw_', properties_target: 'image' } });
    assert.equal(created.status, 201);
    conforms('MetadefResourceTypeAssociation', created.body);
    assert.equal(created.body.properties_target, 'image');
    assert.equal((await h.call('POST', base, { body: { name: 'OS::Cinder::Volume' } })).status, 409);
    assert.equal((await h.call('POST', base, { body: { name: 'Acme::Widget' } })).status, 201);
    const types = (await h.call('GET', '/v2/metadefs/resource_types')).body.resource_types.map((t: { name: string }) => t.name);
    assert.ok(types.includes('Acme::Widget'));
    const list = await h.call('GET', base, { token: reader.token });
    conforms('MetadefResourceTypeAssociationList', list.body);
    assert.deepEqual(list.body.resource_type_associations.map((a: { name: string }) => a.name), ['OS::Cinder::Volume', 'Acme::Widget']);

    assert.equal((await h.call('POST', base, { body: { prefix: 'x' } })).status, 400);
    assert.equal((await h.call('POST', base, { body: { name: 'x', created_at: 'y' } })).status, 403);
    assert.equal((await h.call('POST', base, { body: { name: 'x' }, token: alice.token })).status, 403);

    assert.equal((await h.call('DELETE', `${base}/Acme::Widget`)).status, 204);
    assert.equal((await h.call('DELETE', `${base}/Acme::Widget`)).status, 404);
    await h.call('PUT', `${NS}/${ns}`, { body: { namespace: ns, protected: true } });
    assert.equal((await h.call('DELETE', `${base}/OS::Cinder::Volume`)).status, 403);
  });

  test('delete every object, property or tag of a namespace; refused while it is protected', async () => {
    const ns = await namespace({
      objects: [{ name: 'o1' }, { name: 'o2' }],
      properties: { p: { title: 'P', type: 'string' } },
      tags: [{ name: 't1' }, { name: 't2' }],
    });
    for (const kind of ['objects', 'properties', 'tags']) {
      assert.equal((await h.call('DELETE', `${NS}/${ns}/${kind}`, { token: alice.token })).status, 403, kind);
      assert.equal((await h.call('DELETE', `${NS}/${ns}/${kind}`)).status, 204, kind);
    }
    const after = await h.call('GET', `${NS}/${ns}`);
    for (const k of ['objects', 'properties', 'tags']) assert.equal(k in after.body, false, k);
    const prot = await namespace({ protected: true, tags: [{ name: 't' }] });
    for (const kind of ['objects', 'properties', 'tags']) assert.equal((await h.call('DELETE', `${NS}/${prot}/${kind}`)).status, 403, kind);
    assert.equal((await h.call('DELETE', `${NS}/No::Such/tags`)).status, 404);
  });

  test('schemas: each metadef schema with its name, properties and links', async () => {
    const names: Record<string, string> = {
      namespace: 'namespace',
      namespaces: 'namespaces',
      object: 'object',
      objects: 'objects',
      property: 'property',
      properties: 'properties',
      tag: 'tag',
      tags: 'tags',
      resource_type: 'resource_type_association',
      resource_types: 'resource_type_associations',
    };
    for (const [path, name] of Object.entries(names)) {
      const r = await h.call('GET', `/v2/schemas/metadefs/${path}`, { token: reader.token });
      assert.equal(r.status, 200, path);
      assert.equal(r.body.name, name, path);
      assert.equal(typeof r.body.properties, 'object', path);
      assert.equal(JSON.stringify(r.body).includes('#/components/'), false, `${path}: refs point into definitions`);
      if (path.endsWith('s')) assert.deepEqual(r.body.links.map((l: { rel: string }) => l.rel), ['first', 'next', 'describedby'], path);
    }
    const ns = (await h.call('GET', '/v2/schemas/metadefs/namespace')).body;
    assert.deepEqual(ns.required, ['namespace']);
    assert.equal(ns.additionalProperties, false);
    assert.ok(ns.definitions.MetadefPropertyMap);
    const props = (await h.call('GET', '/v2/schemas/metadefs/properties')).body;
    assert.deepEqual(props.properties.properties.additionalProperties.required, ['type', 'title']);
    assert.equal((await h.call('GET', '/v2/schemas/metadefs/namespace', { token: null })).status, 401);
    assert.equal((await h.call('GET', '/v2/schemas/metadefs/nothing')).status, 404);
    assert.equal((await h.call('GET', '/v2/schemas/image')).status, 200, 'the image schemas are still served');
  });
});
