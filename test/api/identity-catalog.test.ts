import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { listCatalog } from '../../api/identity/catalog/store.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/regions, /v3/services, /v3/endpoints', () => {
  let h: IdentityHarness;
  let memberToken: string;
  before(async () => {
    h = await startIdentity();
    memberToken = await h.memberToken();
  });
  after(() => h.close());

  const create = async (kind: 'region' | 'service' | 'endpoint', body: Record<string, unknown>) => {
    const r = await h.call('POST', `/v3/${kind}s`, { [kind]: body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms(`${kind[0].toUpperCase()}${kind.slice(1)}Show`, r.body);
    return r.body[kind];
  };
  const service = (extra: Record<string, unknown> = {}) => create('service', { type: `t-${newId()}`, name: `s-${newId()}`, ...extra });

  test('regions: create (generated id, body id, PUT id), show, list by parent, update, delete', async () => {
    const r1 = await create('region', { description: 'one' });
    assert.match(r1.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(Object.keys(r1).sort(), ['description', 'id', 'links', 'parent_region_id']);
    assert.equal(r1.parent_region_id, null);
    assert.match(r1.links.self, new RegExp(`/v3/regions/${r1.id}$`));
    const named = await create('region', { id: `Region-${newId()}`, parent_region_id: r1.id });
    assert.equal(named.parent_region_id, r1.id);
    assert.equal(named.description, '');
    const putId = `Put-${newId()}`;
    const put = await h.call('PUT', `/v3/regions/${putId}`, { region: { description: 'via put' } });
    assert.equal(put.status, 201);
    assert.equal(put.body.region.id, putId);
    assert.equal((await h.call('PUT', `/v3/regions/${putId}`, { region: {} })).status, 409);
    const mismatch = await h.call('PUT', `/v3/regions/x-${newId()}`, { region: { id: 'other' } });
    assert.equal(mismatch.status, 400);
    const dup = await h.call('POST', '/v3/regions', { region: { id: named.id } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, `Conflict occurred attempting to store region - Duplicate ID, ${named.id}.`);
    assert.equal((await h.call('POST', '/v3/regions', { region: { parent_region_id: newId() } })).status, 404);

    assert.deepEqual((await h.call('GET', `/v3/regions/${named.id}`)).body.region, named);
    const list = await h.call('GET', '/v3/regions');
    conforms('RegionList', list.body);
    assert.deepEqual(list.body.regions.find((r: { id: string }) => r.id === r1.id), r1);
    const children = await h.call('GET', `/v3/regions?parent_region_id=${r1.id}`);
    assert.deepEqual(children.body.regions, [named]);

    const r2 = await create('region', {});
    const moved = await h.call('PATCH', `/v3/regions/${named.id}`, { region: { description: 'moved', parent_region_id: r2.id } });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.region.parent_region_id, r2.id);
    assert.equal(moved.body.region.description, 'moved');
    const cycle = await h.call('PATCH', `/v3/regions/${r2.id}`, { region: { parent_region_id: named.id } });
    assert.equal(cycle.status, 400);
    assert.match(cycle.body.error.message, /circular region hierarchy/);
    assert.equal((await h.call('PATCH', `/v3/regions/${r2.id}`, { region: { parent_region_id: r2.id } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/regions/${r2.id}`, { region: { id: 'other' } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/regions/${r2.id}`, { region: {} })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/regions/${newId()}`, { region: { description: 'x' } })).status, 404);

    // Deleting a region deletes the regions below it.
    assert.equal((await h.call('DELETE', `/v3/regions/${r2.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/regions/${named.id}`)).status, 404);
    const gone = await h.call('GET', `/v3/regions/${r2.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find region: ${r2.id}.`);
    assert.equal((await h.call('DELETE', `/v3/regions/${r2.id}`)).status, 404);
  });

  test('services: create, show, list by type, update, delete (with its endpoints)', async () => {
    const type = `t-${newId()}`;
    const s = await create('service', { type, name: 'svc', description: 'desc' });
    assert.deepEqual(Object.keys(s).sort(), ['description', 'enabled', 'id', 'links', 'name', 'type']);
    assert.equal(s.enabled, true);
    const bare = await create('service', { type: `t-${newId()}` });
    assert.equal(bare.name, '');
    assert.equal(bare.description, undefined);
    assert.deepEqual((await h.call('GET', `/v3/services/${s.id}`)).body.service, s);
    const byType = await h.call('GET', `/v3/services?type=${type}`);
    conforms('ServiceList', byType.body);
    assert.deepEqual(byType.body.services, [s]);
    const updated = await h.call('PATCH', `/v3/services/${s.id}`, { service: { description: 'new', enabled: false } });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.service.description, 'new');
    assert.equal(updated.body.service.enabled, false);
    assert.deepEqual((await h.call('GET', `/v3/services/${s.id}`)).body.service, updated.body.service);

    const e = await create('endpoint', { service_id: s.id, interface: 'public', url: 'http://x.example/' });
    assert.equal((await h.call('DELETE', `/v3/services/${s.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/services/${s.id}`)).status, 404);
    assert.equal((await h.call('GET', `/v3/endpoints/${e.id}`)).status, 404);
    assert.equal((await h.call('DELETE', `/v3/services/${s.id}`)).status, 404);

    for (const body of [{ service: {} }, { service: { type: '' } }, { service: { type: 'x', enabled: 'true' } }, {}]) {
      assert.equal((await h.call('POST', '/v3/services', body)).status, 400, JSON.stringify(body));
    }
    const missing = await h.call('POST', '/v3/services', { service: { name: 'x' } });
    assert.match(missing.body.error.message, /service\/type/);
  });

  test('endpoints: create (region or region_id), show, list filters, update, delete', async () => {
    const s = await service();
    const s2 = await service();
    const regionName = `auto-${newId()}`;
    const e = await create('endpoint', { service_id: s.id, interface: 'public', url: 'http://api.example:8774/v2.1/$(project_id)s', region: regionName });
    assert.deepEqual(Object.keys(e).sort(), ['enabled', 'id', 'interface', 'links', 'region', 'region_id', 'service_id', 'url']);
    assert.equal(e.region, regionName);
    assert.equal(e.region_id, regionName);
    assert.equal(e.enabled, true);
    // `region` alone creates the region, as Keystone does.
    assert.equal((await h.call('GET', `/v3/regions/${regionName}`)).status, 200);
    const r = await create('region', {});
    const e2 = await create('endpoint', { service_id: s2.id, interface: 'internal', url: 'http://internal.example/', region_id: r.id, enabled: false, name: 'n' });
    assert.equal(e2.region_id, r.id);
    assert.equal(e2.name, 'n');
    const e3 = await create('endpoint', { service_id: s.id, interface: 'admin', url: 'http://admin.example/' });
    assert.equal(e3.region_id, null);
    assert.equal(e3.region, null);

    assert.deepEqual((await h.call('GET', `/v3/endpoints/${e.id}`)).body.endpoint, e);
    const ids = async (q: string) => (await h.call('GET', `/v3/endpoints?${q}`)).body.endpoints.map((x: { id: string }) => x.id).sort();
    const all = await h.call('GET', '/v3/endpoints');
    conforms('EndpointList', all.body);
    assert.deepEqual(await ids(`service_id=${s.id}`), [e.id, e3.id].sort());
    assert.deepEqual(await ids(`service_id=${s.id}&interface=admin`), [e3.id]);
    assert.deepEqual(await ids(`region_id=${r.id}`), [e2.id]);
    assert.equal((await h.call('GET', '/v3/endpoints?interface=private')).status, 400);

    const r2Name = `auto2-${newId()}`;
    const updated = await h.call('PATCH', `/v3/endpoints/${e.id}`, {
      endpoint: { service_id: s2.id, interface: 'internal', url: 'http://new.example/', region: r2Name, enabled: false },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.endpoint.service_id, s2.id);
    assert.equal(updated.body.endpoint.interface, 'internal');
    assert.equal(updated.body.endpoint.region, r2Name);
    assert.equal(updated.body.endpoint.enabled, false);
    assert.deepEqual((await h.call('GET', `/v3/endpoints/${e.id}`)).body.endpoint, updated.body.endpoint);

    // A region with endpoints (or endpoints below it) cannot be deleted.
    const blocked = await h.call('DELETE', `/v3/regions/${r.id}`);
    assert.equal(blocked.status, 403);
    assert.match(blocked.body.error.message, /associated endpoints/);

    for (const x of [e, e2, e3]) assert.equal((await h.call('DELETE', `/v3/endpoints/${x.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/endpoints/${e.id}`)).status, 404);
    const gone = await h.call('DELETE', `/v3/endpoints/${e.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find endpoint: ${e.id}.`);
    assert.equal((await h.call('DELETE', `/v3/regions/${r.id}`)).status, 204);
  });

  test('endpoints: bad input', async () => {
    const s = await service();
    const ok = { service_id: s.id, interface: 'public', url: 'http://x.example/' };
    const cases: [unknown, RegExp][] = [
      [{ endpoint: { ...ok, interface: 'private' } }, /endpoint\/interface/],
      [{ endpoint: { ...ok, interface: undefined } }, /endpoint\/interface/],
      [{ endpoint: { ...ok, url: undefined } }, /endpoint\/url/],
      [{ endpoint: { ...ok, url: 'not a url' } }, /endpoint\/url/],
      [{ endpoint: { ...ok, service_id: undefined } }, /endpoint\/service_id/],
      [{ endpoint: { ...ok, enabled: 'False' } }, /endpoint\/enabled/],
      [{ endpoint: { ...ok, enabled: 'True' } }, /endpoint\/enabled/],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/v3/endpoints', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    const unknownService = await h.call('POST', '/v3/endpoints', { endpoint: { ...ok, service_id: newId() } });
    assert.equal(unknownService.status, 400);
    assert.match(unknownService.body.error.message, /endpoint service_id in service table/);
    const unknownRegion = await h.call('POST', '/v3/endpoints', { endpoint: { ...ok, region_id: newId() } });
    assert.equal(unknownRegion.status, 400);
    assert.match(unknownRegion.body.error.message, /endpoint region_id in region table/);
    const badPlaceholder = await h.call('POST', '/v3/endpoints', { endpoint: { ...ok, url: 'http://x.example/$(admin_token)s' } });
    assert.equal(badPlaceholder.status, 400);
    assert.match(badPlaceholder.body.error.message, /invalid URL/);
    const e = await create('endpoint', ok);
    assert.equal((await h.call('PATCH', `/v3/endpoints/${e.id}`, { endpoint: { enabled: 'True' } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/endpoints/${e.id}`, { endpoint: {} })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/endpoints/${e.id}`, { endpoint: { service_id: newId() } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/endpoints/${newId()}`, { endpoint: { enabled: true } })).status, 404);
  });

  test('listCatalog: enabled services with their enabled endpoints', async () => {
    const s = await service();
    const disabled = await service({ enabled: false });
    const r = await create('region', {});
    const pub = await create('endpoint', { service_id: s.id, interface: 'public', url: 'http://pub.example/', region_id: r.id });
    await create('endpoint', { service_id: s.id, interface: 'internal', url: 'http://off.example/', enabled: false });
    await create('endpoint', { service_id: disabled.id, interface: 'public', url: 'http://disabled.example/' });
    const catalog = await listCatalog(h.database.db);
    const entry = catalog.find((c) => c.id === s.id);
    assert.deepEqual(entry, {
      id: s.id,
      type: s.type,
      name: s.name,
      endpoints: [{ id: pub.id, interface: 'public', region: r.id, region_id: r.id, url: 'http://pub.example/' }],
    });
    assert.ok(!catalog.some((c) => c.id === disabled.id));
    // Bootstrap's identity service is there.
    assert.ok(catalog.some((c) => c.type === 'identity' && c.endpoints.length > 0));
  });

  test('policy: regions are readable by any token; services and endpoints need an admin; no token is 401', async () => {
    assert.equal((await h.call('GET', '/v3/regions', undefined, null)).status, 401);
    assert.equal((await h.call('GET', '/v3/services', undefined, null)).status, 401);
    assert.equal((await h.call('GET', '/v3/endpoints', undefined, null)).status, 401);
    const r = await create('region', {});
    const s = await service();
    const e = await create('endpoint', { service_id: s.id, interface: 'public', url: 'http://x.example/' });
    assert.equal((await h.call('GET', '/v3/regions', undefined, memberToken)).status, 200);
    assert.equal((await h.call('GET', `/v3/regions/${r.id}`, undefined, memberToken)).status, 200);
    assert.equal((await h.call('POST', '/v3/regions', { region: {} }, memberToken)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/regions/${r.id}`, { region: { description: 'x' } }, memberToken)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/regions/${r.id}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', '/v3/services', undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', `/v3/services/${s.id}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('POST', '/v3/services', { service: { type: 'x' } }, memberToken)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/services/${s.id}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', '/v3/endpoints', undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', `/v3/endpoints/${e.id}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/endpoints/${e.id}`, { endpoint: { enabled: false } }, memberToken)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/endpoints/${e.id}`, undefined, memberToken)).status, 403);
  });
});
