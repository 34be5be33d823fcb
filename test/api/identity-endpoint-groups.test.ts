import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));
const EP = '/v3/OS-EP-FILTER';

describe('/v3/OS-EP-FILTER', () => {
  let h: IdentityHarness;
  let memberToken: string;
  before(async () => {
    h = await startIdentity();
    memberToken = await h.memberToken();
  });
  after(() => h.close());

  const created = async (url: string, key: string, body: Record<string, unknown>) => {
    const r = await h.call('POST', url, { [key]: body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body[key];
  };
  const service = () => created('/v3/services', 'service', { type: `t-${newId()}`, name: `s-${newId()}` });
  const endpoint = (serviceId: string, iface = 'public') =>
    created('/v3/endpoints', 'endpoint', { service_id: serviceId, interface: iface, url: `http://${newId()}.example/`, region_id: 'RegionOne' });
  const project = () => created('/v3/projects', 'project', { name: `p-${newId()}` });
  const group = async (body: Record<string, unknown>) => {
    const r = await h.call('POST', `${EP}/endpoint_groups`, { endpoint_group: body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('EndpointGroupShow', r.body);
    return r.body.endpoint_group;
  };
  const ids = (list: { id: string }[]) => list.map((x) => x.id).sort();

  test('endpoint groups: create, show, HEAD, list (by name), update, delete', async () => {
    const s = await service();
    const g = await group({ name: 'g1', description: 'first', filters: { service_id: s.id } });
    assert.match(g.id, /^[0-9a-f]{32}$/);
    assert.deepEqual({ ...g, links: undefined }, { id: g.id, name: 'g1', description: 'first', filters: { service_id: s.id }, links: undefined });
    assert.match(g.links.self, new RegExp(`/v3/OS-EP-FILTER/endpoint_groups/${g.id}$`));
    const bare = await group({ name: 'g2', filters: { interface: 'admin' } });
    assert.equal(bare.description, null);

    assert.deepEqual((await h.call('GET', `${EP}/endpoint_groups/${g.id}`)).body.endpoint_group, g);
    assert.equal((await h.call('HEAD', `${EP}/endpoint_groups/${g.id}`)).status, 200);
    const list = await h.call('GET', `${EP}/endpoint_groups`);
    conforms('EndpointGroupList', list.body);
    assert.deepEqual(list.body.endpoint_groups.find((x: { id: string }) => x.id === g.id), g);
    assert.deepEqual((await h.call('GET', `${EP}/endpoint_groups?name=g2`)).body.endpoint_groups, [bare]);

    const s2 = await service();
    const up = await h.call('PATCH', `${EP}/endpoint_groups/${g.id}`, {
      endpoint_group: { name: 'g1b', description: null, filters: { service_id: s2.id, interface: 'public' } },
    });
    assert.equal(up.status, 200);
    conforms('EndpointGroupShow', up.body);
    assert.deepEqual(
      { ...up.body.endpoint_group, links: undefined },
      { id: g.id, name: 'g1b', description: null, filters: { service_id: s2.id, interface: 'public' }, links: undefined },
    );
    assert.deepEqual((await h.call('GET', `${EP}/endpoint_groups/${g.id}`)).body.endpoint_group, up.body.endpoint_group);

    assert.equal((await h.call('DELETE', `${EP}/endpoint_groups/${g.id}`)).status, 204);
    const gone = await h.call('GET', `${EP}/endpoint_groups/${g.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find Endpoint Group: ${g.id}.`);
    assert.equal((await h.call('HEAD', `${EP}/endpoint_groups/${g.id}`)).status, 404);
    assert.equal((await h.call('DELETE', `${EP}/endpoint_groups/${g.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `${EP}/endpoint_groups/${g.id}`, { endpoint_group: { name: 'x' } })).status, 404);
    assert.equal((await h.call('GET', `${EP}/endpoint_groups/${g.id}/endpoints`)).status, 404);
    assert.equal((await h.call('GET', `${EP}/endpoint_groups/${g.id}/projects`)).status, 404);
  });

  test('endpoint groups: bad input is a 400 naming the field', async () => {
    const post = (body: unknown) => h.call('POST', `${EP}/endpoint_groups`, body);
    const noName = await post({ endpoint_group: { filters: { interface: 'public' } } });
    assert.equal(noName.status, 400);
    assert.match(noName.body.error.message, /'endpoint_group\/name'/);
    const noFilters = await post({ endpoint_group: { name: 'x' } });
    assert.equal(noFilters.status, 400);
    assert.match(noFilters.body.error.message, /'endpoint_group\/filters'/);
    const empty = await post({ endpoint_group: { name: 'x', filters: {} } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.message, 'filters field is required and cannot be empty');
    const badKey = await post({ endpoint_group: { name: 'x', filters: { url: 'http://x' } } });
    assert.equal(badKey.status, 400);
    assert.match(badKey.body.error.message, /^Expecting to find service_id or region_id or interface in endpoint_group/);
    const notObject = await post({ endpoint_group: { name: 'x', filters: 'interface=public' } });
    assert.equal(notObject.status, 400);
    assert.match(notObject.body.error.message, /endpoint_group\/filters/);
    const unknown = await post({ endpoint_group: { name: 'x', filters: { interface: 'public' }, colour: 'red' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /endpoint_group\/colour/);

    const g = await group({ name: 'x', filters: { interface: 'public' } });
    const patch = (body: unknown) => h.call('PATCH', `${EP}/endpoint_groups/${g.id}`, body);
    const none = await patch({ endpoint_group: {} });
    assert.equal(none.status, 400);
    assert.match(none.body.error.message, /'endpoint_group'/);
    assert.equal((await patch({ endpoint_group: { filters: { url: 'x' } } })).status, 400);
    const longName = await patch({ endpoint_group: { name: 'n'.repeat(256) } });
    assert.equal(longName.status, 400);
    assert.match(longName.body.error.message, /endpoint_group\/name/);
    const otherId = await patch({ endpoint_group: { id: newId() } });
    assert.equal(otherId.status, 400);
    assert.equal(otherId.body.error.message, 'Cannot change ID');
  });

  test('the endpoints of a group: those matching every filter', async () => {
    const s = await service();
    const pub = await endpoint(s.id, 'public');
    const adm = await endpoint(s.id, 'admin');
    const g = await group({ name: 'by-service', filters: { service_id: s.id } });
    const list = await h.call('GET', `${EP}/endpoint_groups/${g.id}/endpoints`);
    assert.equal(list.status, 200);
    conforms('EndpointFilterEndpointList', list.body);
    assert.deepEqual(ids(list.body.endpoints), [pub.id, adm.id].sort());
    assert.deepEqual(list.body.endpoints.find((e: { id: string }) => e.id === pub.id), pub);
    const narrow = await group({ name: 'admin-of-service', filters: { service_id: s.id, interface: 'admin', region_id: 'RegionOne' } });
    assert.deepEqual(ids((await h.call('GET', `${EP}/endpoint_groups/${narrow.id}/endpoints`)).body.endpoints), [adm.id]);
    const noRegion = await group({ name: 'elsewhere', filters: { service_id: s.id, region_id: 'Nowhere' } });
    assert.deepEqual((await h.call('GET', `${EP}/endpoint_groups/${noRegion.id}/endpoints`)).body.endpoints, []);
  });

  test('endpoint groups of a project: PUT, GET/HEAD, list both ways, DELETE; cascades', async () => {
    const s = await service();
    const e = await endpoint(s.id);
    const p = await project();
    const g = await group({ name: 'pg', filters: { service_id: s.id } });
    const url = `${EP}/endpoint_groups/${g.id}/projects/${p.id}`;

    const missing = await h.call('GET', url);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Endpoint Group Project Association not found');
    assert.equal((await h.call('PUT', url)).status, 204);
    const dup = await h.call('PUT', url);
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, 'Conflict occurred attempting to store project_endpoint_group - Duplicate entry.');

    const shown = await h.call('GET', url);
    assert.equal(shown.status, 200);
    conforms('ProjectEndpointGroupShow', shown.body);
    assert.equal(shown.body.project_endpoint_group.endpoint_group_id, g.id);
    assert.equal(shown.body.project_endpoint_group.project_id, p.id);
    assert.match(shown.body.project_endpoint_group.links.self, new RegExp(`/v3/OS-EP-FILTER/endpoint_groups/${g.id}/projects/${p.id}$`));
    assert.equal((await h.call('HEAD', url)).status, 200);

    const projects = await h.call('GET', `${EP}/endpoint_groups/${g.id}/projects`);
    conforms('EndpointFilterProjectList', projects.body);
    assert.deepEqual(projects.body.projects, [p]);
    const groups = await h.call('GET', `${EP}/projects/${p.id}/endpoint_groups`);
    conforms('EndpointGroupList', groups.body);
    assert.deepEqual(groups.body.endpoint_groups, [g]);
    // The project may use the endpoints the group selects.
    assert.deepEqual(ids((await h.call('GET', `${EP}/projects/${p.id}/endpoints`)).body.endpoints), [e.id]);

    assert.equal((await h.call('PUT', `${EP}/endpoint_groups/${g.id}/projects/${newId()}`)).status, 404);
    assert.equal((await h.call('PUT', `${EP}/endpoint_groups/${newId()}/projects/${p.id}`)).status, 404);
    assert.equal((await h.call('GET', `${EP}/projects/${newId()}/endpoint_groups`)).status, 404);

    assert.equal((await h.call('DELETE', url)).status, 204);
    assert.equal((await h.call('DELETE', url)).status, 404);
    assert.equal((await h.call('HEAD', url)).status, 404);
    assert.deepEqual((await h.call('GET', `${EP}/projects/${p.id}/endpoint_groups`)).body.endpoint_groups, []);

    // Deleting the group or the project deletes the association.
    assert.equal((await h.call('PUT', url)).status, 204);
    assert.equal((await h.call('DELETE', `${EP}/endpoint_groups/${g.id}`)).status, 204);
    assert.deepEqual((await h.call('GET', `${EP}/projects/${p.id}/endpoint_groups`)).body.endpoint_groups, []);
    const g2 = await group({ name: 'pg2', filters: { interface: 'public' } });
    assert.equal((await h.call('PUT', `${EP}/endpoint_groups/${g2.id}/projects/${p.id}`)).status, 204);
    assert.equal((await h.call('DELETE', `/v3/projects/${p.id}`)).status, 204);
    assert.deepEqual((await h.call('GET', `${EP}/endpoint_groups/${g2.id}/projects`)).body.projects, []);
    assert.equal(await h.database.db('project_endpoint_groups').where({ project_id: p.id }).count('* as n').first().then((r: any) => Number(r.n)), 0);
  });

  test('endpoints of a project: PUT, GET/HEAD 204, list both ways, DELETE; cascades', async () => {
    const s = await service();
    const e1 = await endpoint(s.id, 'public');
    const e2 = await endpoint(s.id, 'internal');
    const p = await project();
    const url = `${EP}/projects/${p.id}/endpoints/${e1.id}`;

    const missing = await h.call('GET', url);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, `Endpoint ${e1.id} not found in project ${p.id}`);
    assert.equal((await h.call('PUT', url)).status, 204);
    assert.equal((await h.call('PUT', url)).status, 409);
    assert.equal((await h.call('GET', url)).status, 204);
    assert.equal((await h.call('HEAD', url)).status, 204);

    const eps = await h.call('GET', `${EP}/projects/${p.id}/endpoints`);
    conforms('EndpointFilterEndpointList', eps.body);
    assert.deepEqual(eps.body.endpoints, [e1]);
    const projects = await h.call('GET', `${EP}/endpoints/${e1.id}/projects`);
    conforms('EndpointFilterProjectList', projects.body);
    assert.deepEqual(projects.body.projects, [p]);
    assert.deepEqual((await h.call('GET', `${EP}/endpoints/${e2.id}/projects`)).body.projects, []);

    // Direct and group associations together, each endpoint once.
    const g = await group({ name: 'svc', filters: { service_id: s.id } });
    await h.call('PUT', `${EP}/endpoint_groups/${g.id}/projects/${p.id}`);
    assert.deepEqual(ids((await h.call('GET', `${EP}/projects/${p.id}/endpoints`)).body.endpoints), [e1.id, e2.id].sort());

    assert.equal((await h.call('PUT', `${EP}/projects/${p.id}/endpoints/${newId()}`)).status, 404);
    assert.equal((await h.call('PUT', `${EP}/projects/${newId()}/endpoints/${e1.id}`)).status, 404);
    assert.equal((await h.call('GET', `${EP}/projects/${newId()}/endpoints`)).status, 404);
    assert.equal((await h.call('GET', `${EP}/endpoints/${newId()}/projects`)).status, 404);

    assert.equal((await h.call('DELETE', url)).status, 204);
    assert.equal((await h.call('DELETE', url)).status, 404);
    assert.equal((await h.call('GET', url)).status, 404);

    // Deleting the endpoint deletes the association.
    assert.equal((await h.call('PUT', `${EP}/projects/${p.id}/endpoints/${e2.id}`)).status, 204);
    assert.equal((await h.call('DELETE', `/v3/endpoints/${e2.id}`)).status, 204);
    assert.equal(await h.database.db('project_endpoints').where({ endpoint_id: e2.id }).count('* as n').first().then((r: any) => Number(r.n)), 0);
  });

  test("a member's token gets 403 on every call", async () => {
    const s = await service();
    const e = await endpoint(s.id);
    const p = await project();
    const g = await group({ name: 'm', filters: { service_id: s.id } });
    const calls: [string, string, unknown?][] = [
      ['GET', `${EP}/endpoint_groups`],
      ['POST', `${EP}/endpoint_groups`, { endpoint_group: { name: 'x', filters: { interface: 'public' } } }],
      ['POST', `${EP}/endpoint_groups`, { endpoint_group: {} }],
      ['GET', `${EP}/endpoint_groups/${g.id}`],
      ['PATCH', `${EP}/endpoint_groups/${g.id}`, { endpoint_group: { name: 'y' } }],
      ['DELETE', `${EP}/endpoint_groups/${g.id}`],
      ['GET', `${EP}/endpoint_groups/${g.id}/endpoints`],
      ['GET', `${EP}/endpoint_groups/${g.id}/projects`],
      ['PUT', `${EP}/endpoint_groups/${g.id}/projects/${p.id}`],
      ['GET', `${EP}/endpoint_groups/${g.id}/projects/${p.id}`],
      ['DELETE', `${EP}/endpoint_groups/${g.id}/projects/${p.id}`],
      ['GET', `${EP}/projects/${p.id}/endpoint_groups`],
      ['GET', `${EP}/projects/${p.id}/endpoints`],
      ['PUT', `${EP}/projects/${p.id}/endpoints/${e.id}`],
      ['GET', `${EP}/projects/${p.id}/endpoints/${e.id}`],
      ['DELETE', `${EP}/projects/${p.id}/endpoints/${e.id}`],
      ['GET', `${EP}/endpoints/${e.id}/projects`],
    ];
    for (const [method, url, body] of calls) {
      assert.equal((await h.call(method, url, body, memberToken)).status, 403, `${method} ${url}`);
    }
    assert.equal((await h.call('GET', `${EP}/endpoint_groups`, undefined, null)).status, 401);
    assert.equal((await h.call('GET', `${EP}/endpoint_groups/${g.id}`)).status, 200);
  });
});
