import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { effectiveLimit } from '../../api/identity/limits/effective.ts';
import { identityPolicyNewDefaults } from '../../api/identity/policy-rules.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));
const ids = (list: { id: string }[]) => list.map((x) => x.id).sort();
const expecting = (attribute: string, target: string) => new RegExp(`^Expecting to find ${attribute} in ${target}\\. `);

/** Helpers over one harness: catalog and project fixtures, and limit calls. */
function fixtures(h: IdentityHarness) {
  const created = async (url: string, key: string, body: Record<string, unknown>, token?: string) => {
    const r = await h.call('POST', url, { [key]: body }, token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body[key];
  };
  const service = (type = `t-${newId()}`, token?: string) => created('/v3/services', 'service', { type, name: `s-${newId()}` }, token);
  const region = () => created('/v3/regions', 'region', { id: `r-${newId()}` });
  const project = () => created('/v3/projects', 'project', { name: `p-${newId()}` });
  const domain = () => created('/v3/domains', 'domain', { name: `d-${newId()}` });
  const registered = async (items: Record<string, unknown>[], token?: string) => {
    const r = await h.call('POST', '/v3/registered_limits', { registered_limits: items }, token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('RegisteredLimitsCreated', r.body);
    return r.body.registered_limits;
  };
  const limits = async (items: Record<string, unknown>[], token?: string) => {
    const r = await h.call('POST', '/v3/limits', { limits: items }, token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('LimitsCreated', r.body);
    return r.body.limits;
  };
  /** A token of the bootstrap admin with the given scope and admin ⊃ member ⊃ reader. */
  const adminToken = async (scope: { type: 'system' } | { type: 'domain'; domain_id: string }, roles = ['admin', 'member', 'reader']) =>
    (
      await h.tokens.issue({
        user_id: h.admin.userId,
        user_domain_id: h.admin.domainId,
        methods: ['password'],
        scope,
        roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
        expires_at: new Date(Date.now() + 3600_000),
      })
    ).token;
  return { service, region, project, domain, registered, limits, adminToken };
}

describe('unified limits', () => {
  let h: IdentityHarness;
  let f: ReturnType<typeof fixtures>;
  let memberToken: string;
  before(async () => {
    h = await startIdentity();
    f = fixtures(h);
    memberToken = await h.memberToken();
  });
  after(() => h.close());

  test('GET /v3/limits/model: flat, for any token', async () => {
    const r = await h.call('GET', '/v3/limits/model', undefined, memberToken);
    assert.equal(r.status, 200);
    conforms('LimitModelShow', r.body);
    assert.deepEqual(r.body, {
      model: { name: 'flat', description: 'Limit enforcement and validation does not take project hierarchy into consideration.' },
    });
    assert.equal((await h.call('GET', '/v3/limits/model', undefined, null)).status, 401);
  });

  test('registered limits: create (batch), show, list with filters, update, delete', async () => {
    const s = await f.service();
    const [volumes, snapshots] = await f.registered([
      { service_id: s.id, resource_name: 'volume', default_limit: 10, description: 'Number of volumes' },
      { service_id: s.id, region_id: 'RegionOne', resource_name: 'snapshot', default_limit: -1 },
    ]);
    assert.match(volumes.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...volumes, links: undefined },
      { id: volumes.id, service_id: s.id, region_id: null, resource_name: 'volume', default_limit: 10, description: 'Number of volumes', links: undefined },
    );
    assert.match(volumes.links.self, new RegExp(`/v3/registered_limits/${volumes.id}$`));
    assert.equal(snapshots.region_id, 'RegionOne');
    assert.equal(snapshots.description, null);

    const shown = await h.call('GET', `/v3/registered_limits/${volumes.id}`);
    assert.equal(shown.status, 200);
    conforms('RegisteredLimitShow', shown.body);
    assert.deepEqual(shown.body.registered_limit, volumes);

    const list = await h.call('GET', `/v3/registered_limits?service_id=${s.id}`);
    assert.equal(list.status, 200);
    conforms('RegisteredLimitList', list.body);
    assert.deepEqual(ids(list.body.registered_limits), ids([volumes, snapshots]));
    assert.deepEqual((await h.call('GET', `/v3/registered_limits?service_id=${s.id}&region_id=RegionOne`)).body.registered_limits, [snapshots]);
    assert.deepEqual((await h.call('GET', `/v3/registered_limits?service_id=${s.id}&resource_name=volume`)).body.registered_limits, [volumes]);
    assert.deepEqual((await h.call('GET', `/v3/registered_limits?service_id=${newId()}`)).body.registered_limits, []);

    const r2 = await f.region();
    const updated = await h.call('PATCH', `/v3/registered_limits/${volumes.id}`, {
      registered_limit: { default_limit: 20, description: null, region_id: r2.id },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    conforms('RegisteredLimitShow', updated.body);
    assert.deepEqual({ ...updated.body.registered_limit }, { ...volumes, default_limit: 20, description: null, region_id: r2.id });
    assert.deepEqual((await h.call('GET', `/v3/registered_limits/${volumes.id}`)).body.registered_limit, updated.body.registered_limit);
    assert.equal((await h.call('PATCH', `/v3/registered_limits/${volumes.id}`, { registered_limit: {} })).status, 200);

    assert.equal((await h.call('DELETE', `/v3/registered_limits/${volumes.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/registered_limits/${volumes.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find registered limit for ${volumes.id}.`);
    assert.equal((await h.call('DELETE', `/v3/registered_limits/${volumes.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/registered_limits/${volumes.id}`, { registered_limit: { default_limit: 1 } })).status, 404);
  });

  test('registered limits: bad input is a 400; unknown service or region a 400 as Keystone', async () => {
    const s = await f.service();
    const post = (item: Record<string, unknown>) => h.call('POST', '/v3/registered_limits', { registered_limits: [item] });
    const good = { service_id: s.id, resource_name: 'cores', default_limit: 5 };
    for (const field of ['service_id', 'resource_name', 'default_limit']) {
      const { [field]: _, ...rest } = good as Record<string, unknown>;
      const r = await post(rest);
      assert.equal(r.status, 400, field);
      assert.match(r.body.error.message, new RegExp(`'registered_limits/0/${field}' is a required property`));
    }
    for (const bad of [
      { default_limit: -2 },
      { default_limit: 2 ** 31 },
      { default_limit: 1.5 },
      { default_limit: '5' },
      { resource_name: '' },
      { resource_name: 'x'.repeat(256) },
      { service_id: 'not/an/id' },
      { region_id: 5 },
      { description: 5 },
      { colour: 'blue' },
    ]) {
      const r = await post({ ...good, ...bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body.error.message, /^Invalid input for field 'registered_limits\/0/);
    }
    assert.equal((await h.call('POST', '/v3/registered_limits', { registered_limits: [] })).status, 400);
    assert.equal((await h.call('POST', '/v3/registered_limits', {})).status, 400);
    assert.equal((await h.call('POST', '/v3/registered_limits', { registered_limits: good })).status, 400);

    const noService = await post({ ...good, service_id: newId() });
    assert.equal(noService.status, 400);
    assert.match(noService.body.error.message, expecting('service_id', 'registered_limit'));
    const noRegion = await post({ ...good, region_id: `r-${newId()}` });
    assert.equal(noRegion.status, 400);
    assert.match(noRegion.body.error.message, expecting('region_id', 'registered_limit'));

    // -1 (unlimited) and 0 are limits.
    const [unlimited, zero] = await f.registered([
      { ...good, default_limit: -1 },
      { ...good, resource_name: 'ram', default_limit: 0 },
    ]);
    assert.equal(unlimited.default_limit, -1);
    assert.equal(zero.default_limit, 0);

    const r = unlimited.id;
    assert.equal((await h.call('PATCH', `/v3/registered_limits/${r}`, { registered_limit: { default_limit: -2 } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/registered_limits/${r}`, { registered_limit: { id: r } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/registered_limits/${r}`, {})).status, 400);
    const patchNoService = await h.call('PATCH', `/v3/registered_limits/${r}`, { registered_limit: { service_id: newId() } });
    assert.equal(patchNoService.status, 400);
    assert.match(patchNoService.body.error.message, expecting('service_id', 'registered_limit'));
  });

  test('registered limits: a second one for the same service, region and resource is a 409, all or none', async () => {
    const s = await f.service();
    await f.registered([
      { service_id: s.id, resource_name: 'volume', default_limit: 10 },
      { service_id: s.id, region_id: 'RegionOne', resource_name: 'volume', default_limit: 5 },
    ]);
    for (const region of [{}, { region_id: null }, { region_id: 'RegionOne' }]) {
      const dup = await h.call('POST', '/v3/registered_limits', {
        registered_limits: [{ service_id: s.id, resource_name: 'volume', default_limit: 1, ...region }],
      });
      assert.equal(dup.status, 409, JSON.stringify(region));
      assert.equal(dup.body.error.message, 'Conflict occurred attempting to store registered_limit - Duplicate entry.');
    }
    // A duplicate inside the batch: nothing of the batch is created.
    const batch = await h.call('POST', '/v3/registered_limits', {
      registered_limits: [
        { service_id: s.id, resource_name: 'snapshot', default_limit: 1 },
        { service_id: s.id, resource_name: 'snapshot', default_limit: 2 },
      ],
    });
    assert.equal(batch.status, 409);
    assert.deepEqual((await h.call('GET', `/v3/registered_limits?service_id=${s.id}&resource_name=snapshot`)).body.registered_limits, []);

    // Another service or another region is another registered limit.
    const other = await f.service();
    const r2 = await f.region();
    await f.registered([
      { service_id: other.id, resource_name: 'volume', default_limit: 1 },
      { service_id: s.id, region_id: r2.id, resource_name: 'volume', default_limit: 1 },
    ]);
    // Updating into an existing one is a 409 too.
    const [backup] = await f.registered([{ service_id: s.id, resource_name: 'backup', default_limit: 1 }]);
    const clash = await h.call('PATCH', `/v3/registered_limits/${backup.id}`, { registered_limit: { resource_name: 'volume' } });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.message, 'Conflict occurred attempting to store registered_limit - Duplicate entry.');
  });

  test('limits: create (batch, project and domain), show, list with filters, update, delete', async () => {
    const s = await f.service();
    const [p, d] = [await f.project(), await f.domain()];
    const [volumes, snapshots] = await f.registered([
      { service_id: s.id, resource_name: 'volume', default_limit: 10 },
      { service_id: s.id, region_id: 'RegionOne', resource_name: 'snapshot', default_limit: 5 },
    ]);
    const [pv, ds] = await f.limits([
      { project_id: p.id, service_id: s.id, resource_name: 'volume', resource_limit: 11, description: 'Number of volumes' },
      { domain_id: d.id, service_id: s.id, region_id: 'RegionOne', resource_name: 'snapshot', resource_limit: 3 },
    ]);
    assert.match(pv.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...pv, links: undefined },
      {
        id: pv.id,
        project_id: p.id,
        domain_id: null,
        service_id: s.id,
        region_id: null,
        resource_name: 'volume',
        resource_limit: 11,
        description: 'Number of volumes',
        links: undefined,
      },
    );
    assert.match(pv.links.self, new RegExp(`/v3/limits/${pv.id}$`));
    assert.deepEqual([ds.project_id, ds.domain_id, ds.region_id, ds.description], [null, d.id, 'RegionOne', null]);

    const shown = await h.call('GET', `/v3/limits/${pv.id}`);
    assert.equal(shown.status, 200);
    conforms('LimitShow', shown.body);
    assert.deepEqual(shown.body.limit, pv);

    const list = await h.call('GET', `/v3/limits?service_id=${s.id}`);
    assert.equal(list.status, 200);
    conforms('LimitList', list.body);
    assert.deepEqual(list.body.limits.map((l: { id: string }) => l.id).sort(), ids([pv, ds]));
    for (const [query, expected] of [
      [`service_id=${s.id}&resource_name=volume`, [pv]],
      [`service_id=${s.id}&region_id=RegionOne`, [ds]],
      [`project_id=${p.id}`, [pv]],
      [`domain_id=${d.id}`, [ds]],
      [`project_id=${p.id}&resource_name=snapshot`, []],
    ] as const) {
      assert.deepEqual((await h.call('GET', `/v3/limits?${query}`)).body.limits, expected, query);
    }

    const updated = await h.call('PATCH', `/v3/limits/${pv.id}`, { limit: { resource_limit: 0, description: null } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    conforms('LimitShow', updated.body);
    assert.deepEqual(updated.body.limit, { ...pv, resource_limit: 0, description: null });
    assert.deepEqual((await h.call('GET', `/v3/limits/${pv.id}`)).body.limit, updated.body.limit);
    assert.deepEqual((await h.call('PATCH', `/v3/limits/${pv.id}`, { limit: {} })).body.limit, updated.body.limit);

    // A registered limit that limits refer to can be neither changed nor deleted.
    for (const [method, body] of [['PATCH', { registered_limit: { default_limit: 1 } }], ['DELETE', undefined]] as const) {
      const refused = await h.call(method, `/v3/registered_limits/${volumes.id}`, body);
      assert.equal(refused.status, 403, method);
      assert.equal(
        refused.body.error.message,
        `Unable to update or delete registered limit ${volumes.id} because there are project limits associated with it.`,
      );
    }

    assert.equal((await h.call('DELETE', `/v3/limits/${pv.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/limits/${pv.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find limit for ${pv.id}.`);
    assert.equal((await h.call('DELETE', `/v3/limits/${pv.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/limits/${pv.id}`, { limit: { resource_limit: 1 } })).status, 404);
    // Once no limit refers to it, the registered limit can go.
    assert.equal((await h.call('DELETE', `/v3/registered_limits/${volumes.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/registered_limits/${snapshots.id}`)).status, 200);
  });

  test('limits: bad input, unknown references, no registered limit, duplicates', async () => {
    const s = await f.service();
    const p = await f.project();
    await f.registered([{ service_id: s.id, region_id: 'RegionOne', resource_name: 'cores', default_limit: 5 }]);
    const good = { project_id: p.id, service_id: s.id, region_id: 'RegionOne', resource_name: 'cores', resource_limit: 8 };
    const post = (item: Record<string, unknown>) => h.call('POST', '/v3/limits', { limits: [item] });

    for (const field of ['service_id', 'resource_name', 'resource_limit']) {
      const { [field]: _, ...rest } = good as Record<string, unknown>;
      const r = await post(rest);
      assert.equal(r.status, 400, field);
      assert.match(r.body.error.message, new RegExp(`'limits/0/${field}' is a required property`));
    }
    const { project_id: _p, ...neither } = good;
    assert.equal((await post(neither)).status, 400);
    assert.equal((await post({ ...good, domain_id: h.admin.domainId })).status, 400);
    for (const bad of [
      { resource_limit: -2 },
      { resource_limit: 2 ** 31 },
      { resource_limit: 'lots' },
      { region_id: null },
      { project_id: '' },
      { resource_name: '' },
      { registered_limit_id: newId() },
    ]) {
      const r = await post({ ...good, ...bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body.error.message, /^Invalid input for field 'limits\/0/);
    }
    assert.equal((await h.call('POST', '/v3/limits', { limits: [] })).status, 400);
    assert.equal((await h.call('POST', '/v3/limits', {})).status, 400);

    for (const [field, value] of [
      ['service_id', newId()],
      ['region_id', `r-${newId()}`],
      ['project_id', newId()],
    ] as const) {
      const r = await post({ ...good, [field]: value });
      assert.equal(r.status, 400, field);
      assert.match(r.body.error.message, expecting(field, 'limit'));
    }
    const { project_id: _q, ...domainLess } = good;
    const noDomain = await post({ ...domainLess, domain_id: newId() });
    assert.equal(noDomain.status, 400);
    assert.match(noDomain.body.error.message, expecting('domain_id', 'limit'));

    // No registered limit for that service, region and resource: 403, as Keystone.
    for (const other of [{ resource_name: 'ram' }, { region_id: undefined }, { service_id: (await f.service()).id }]) {
      const r = await post({ ...good, ...other });
      assert.equal(r.status, 403, JSON.stringify(other));
      assert.equal(r.body.error.message, 'Unable to create a limit that has no corresponding registered limit.');
    }

    const [limit] = await f.limits([good]);
    const dup = await post({ ...good, resource_limit: 1 });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, 'Conflict occurred attempting to store limit - Duplicate entry.');
    // All or none: a batch with one duplicate creates nothing.
    const q = await f.project();
    const batch = await h.call('POST', '/v3/limits', { limits: [{ ...good, project_id: q.id }, good] });
    assert.equal(batch.status, 409);
    assert.deepEqual((await h.call('GET', `/v3/limits?project_id=${q.id}`)).body.limits, []);

    // A domain's id given as project_id makes a domain limit, as in Keystone.
    const [asDomain] = await f.limits([{ ...good, project_id: h.admin.domainId }]);
    assert.deepEqual([asDomain.project_id, asDomain.domain_id], [null, h.admin.domainId]);

    for (const bad of [{ resource_limit: -2 }, { resource_name: 'ram' }, { project_id: q.id }, { id: limit.id }]) {
      const r = await h.call('PATCH', `/v3/limits/${limit.id}`, { limit: bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
    }
    assert.equal((await h.call('PATCH', `/v3/limits/${limit.id}`, {})).status, 400);
  });

  test('deleting a project, domain, service or region takes the limits on it along', async () => {
    const [s, s2] = [await f.service(), await f.service()];
    const r = await f.region();
    const [p, d] = [await f.project(), await f.domain()];
    const [regs, onRegion] = await f.registered([
      { service_id: s.id, resource_name: 'volume', default_limit: 10 },
      { service_id: s2.id, region_id: r.id, resource_name: 'volume', default_limit: 10 },
    ]);
    const [forP, forD, forRegion] = await f.limits([
      { project_id: p.id, service_id: s.id, resource_name: 'volume', resource_limit: 1 },
      { domain_id: d.id, service_id: s.id, resource_name: 'volume', resource_limit: 2 },
      { project_id: h.admin.projectId, service_id: s2.id, region_id: r.id, resource_name: 'volume', resource_limit: 3 },
    ]);

    assert.equal((await h.call('DELETE', `/v3/projects/${p.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/limits/${forP.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/limits/${forD.id}`)).status, 404);
    // No limit refers to it any more: the registered limit may go.
    assert.equal((await h.call('DELETE', `/v3/registered_limits/${regs.id}`)).status, 204);

    assert.equal((await h.call('DELETE', `/v3/regions/${r.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/registered_limits/${onRegion.id}`)).status, 404);
    assert.equal((await h.call('GET', `/v3/limits/${forRegion.id}`)).status, 404);

    const [onService] = await f.registered([{ service_id: s2.id, resource_name: 'ram', default_limit: 1 }]);
    const [forService] = await f.limits([{ project_id: h.admin.projectId, service_id: s2.id, resource_name: 'ram', resource_limit: 2 }]);
    assert.equal((await h.call('DELETE', `/v3/services/${s2.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/registered_limits/${onService.id}`)).status, 404);
    assert.equal((await h.call('GET', `/v3/limits/${forService.id}`)).status, 404);
  });

  test("policy: a member may read registered limits and its project's limits, and change nothing", async () => {
    const s = await f.service();
    const other = await f.project();
    const [reg] = await f.registered([{ service_id: s.id, resource_name: 'volume', default_limit: 10 }]);
    const [mine, theirs] = await f.limits([
      { project_id: h.admin.projectId, service_id: s.id, resource_name: 'volume', resource_limit: 1 },
      { project_id: other.id, service_id: s.id, resource_name: 'volume', resource_limit: 2 },
    ]);

    assert.equal((await h.call('GET', '/v3/registered_limits', undefined, memberToken)).status, 200);
    assert.equal((await h.call('GET', `/v3/registered_limits/${reg.id}`, undefined, memberToken)).status, 200);
    const listed = await h.call('GET', `/v3/limits?service_id=${s.id}`, undefined, memberToken);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.limits, [mine]);
    // Asking for another project's limits shows none of them.
    assert.deepEqual((await h.call('GET', `/v3/limits?project_id=${other.id}`, undefined, memberToken)).body.limits, []);
    assert.deepEqual((await h.call('GET', `/v3/limits/${mine.id}`, undefined, memberToken)).body.limit, mine);
    assert.equal((await h.call('GET', `/v3/limits/${theirs.id}`, undefined, memberToken)).status, 403);
    // The rule is checked before a missing limit is a 404.
    assert.equal((await h.call('GET', `/v3/limits/${newId()}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', `/v3/limits/${newId()}`)).status, 404);
    // The admin sees every project's.
    assert.deepEqual(ids((await h.call('GET', `/v3/limits?service_id=${s.id}`)).body.limits), ids([mine, theirs]));

    const item = { service_id: s.id, resource_name: 'other', default_limit: 1 };
    for (const [method, url, body] of [
      ['POST', '/v3/registered_limits', { registered_limits: [item] }],
      ['POST', '/v3/registered_limits', { registered_limits: [] }],
      ['PATCH', `/v3/registered_limits/${reg.id}`, { registered_limit: { default_limit: 1 } }],
      ['DELETE', `/v3/registered_limits/${reg.id}`, undefined],
      ['POST', '/v3/limits', { limits: [{ project_id: h.admin.projectId, service_id: s.id, resource_name: 'volume', resource_limit: 5 }] }],
      ['PATCH', `/v3/limits/${mine.id}`, { limit: { resource_limit: 100 } }],
      ['DELETE', `/v3/limits/${mine.id}`, undefined],
    ] as const) {
      const r = await h.call(method, url, body, memberToken);
      assert.equal(r.status, 403, `${method} ${url}`);
    }
    for (const url of ['/v3/registered_limits', '/v3/limits', `/v3/limits/${mine.id}`]) {
      assert.equal((await h.call('GET', url, undefined, null)).status, 401, url);
    }
  });

  test('policy: a system admin manages limits; a domain reader sees its domain’s', async () => {
    const system = await f.adminToken({ type: 'system' });
    const s = await f.service();
    const d = await f.domain();
    const inD = await h.call('POST', '/v3/projects', { project: { name: `p-${newId()}`, domain_id: d.id } });
    assert.equal(inD.status, 201);
    const [reg] = await f.registered([{ service_id: s.id, resource_name: 'volume', default_limit: 10 }], system);
    const [forDomain, forProject, elsewhere] = await f.limits(
      [
        { domain_id: d.id, service_id: s.id, resource_name: 'volume', resource_limit: 1 },
        { project_id: inD.body.project.id, service_id: s.id, resource_name: 'volume', resource_limit: 2 },
        { project_id: h.admin.projectId, service_id: s.id, resource_name: 'volume', resource_limit: 3 },
      ],
      system,
    );
    assert.deepEqual(ids((await h.call('GET', `/v3/limits?service_id=${s.id}`, undefined, system)).body.limits), ids([forDomain, forProject, elsewhere]));
    const [unused] = await f.registered([{ service_id: s.id, resource_name: 'ram', default_limit: 1 }], system);
    const patched = await h.call('PATCH', `/v3/registered_limits/${unused.id}`, { registered_limit: { description: 'x' } }, system);
    assert.equal(patched.status, 200);
    assert.equal((await h.call('DELETE', `/v3/registered_limits/${unused.id}`, undefined, system)).status, 204);
    assert.equal((await h.call('GET', `/v3/registered_limits/${reg.id}`, undefined, system)).status, 200);

    const domainReader = await f.adminToken({ type: 'domain', domain_id: d.id }, ['reader']);
    const seen = await h.call('GET', `/v3/limits?service_id=${s.id}`, undefined, domainReader);
    assert.deepEqual(ids(seen.body.limits), ids([forDomain, forProject]));
    assert.equal((await h.call('GET', `/v3/limits/${forProject.id}`, undefined, domainReader)).status, 200);
    assert.equal((await h.call('GET', `/v3/limits/${elsewhere.id}`, undefined, domainReader)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/limits/${forProject.id}`, { limit: { resource_limit: 9 } }, domainReader)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/limits/${forProject.id}`, { limit: { resource_limit: 9 } }, system)).status, 200);
  });

  test('effectiveLimit: the project limit, else the registered default, else undefined', async () => {
    const type = `quota-${newId()}`;
    const s = await f.service(type);
    const [p, q] = [await f.project(), await f.project()];
    const r2 = await f.region();
    const db = h.database.db;
    const ask = (projectId: string, resourceName: string, regionId?: string | null) =>
      effectiveLimit(db, { serviceType: type, projectId, resourceName, regionId });

    assert.equal(await ask(p.id, 'image_count_total'), undefined);
    await f.registered([
      { service_id: s.id, resource_name: 'image_count_total', default_limit: 10 },
      { service_id: s.id, region_id: r2.id, resource_name: 'image_count_total', default_limit: 20 },
      { service_id: s.id, region_id: r2.id, resource_name: 'image_size_total', default_limit: -1 },
    ]);
    assert.equal(await ask(p.id, 'image_count_total'), 10);
    assert.equal(await ask(p.id, 'image_count_total', null), 10);
    assert.equal(await ask(p.id, 'image_count_total', 'RegionOne'), 10, 'no registered limit for RegionOne: the region-less one');
    assert.equal(await ask(p.id, 'image_count_total', r2.id), 20, "the region's own default first");
    assert.equal(await ask(p.id, 'image_size_total'), undefined, 'registered for another region only');
    assert.equal(await ask(p.id, 'image_size_total', r2.id), -1);
    assert.equal(await effectiveLimit(db, { serviceType: `other-${newId()}`, projectId: p.id, resourceName: 'image_count_total' }), undefined);

    const [limit] = await f.limits([{ project_id: p.id, service_id: s.id, resource_name: 'image_count_total', resource_limit: 3 }]);
    assert.equal(await ask(p.id, 'image_count_total'), 3);
    assert.equal(await ask(p.id, 'image_count_total', r2.id), 3, "the project's own limit wins over any default");
    assert.equal(await ask(q.id, 'image_count_total'), 10, 'another project keeps the default');
    await f.limits([{ project_id: p.id, service_id: s.id, region_id: r2.id, resource_name: 'image_count_total', resource_limit: 4 }]);
    assert.equal(await ask(p.id, 'image_count_total', r2.id), 4, "the region's project limit first");
    assert.equal(await ask(p.id, 'image_count_total'), 3);

    assert.equal((await h.call('PATCH', `/v3/limits/${limit.id}`, { limit: { resource_limit: 0 } })).status, 200);
    assert.equal(await ask(p.id, 'image_count_total'), 0);
    // A domain limit does not apply to its projects under the flat model.
    await f.limits([{ domain_id: h.admin.domainId, service_id: s.id, resource_name: 'image_count_total', resource_limit: 1 }]);
    assert.equal(await ask(q.id, 'image_count_total'), 10);
  });
});

describe('unified limits with only the new (Zed) defaults', () => {
  let h: IdentityHarness;
  let f: ReturnType<typeof fixtures>;
  before(async () => {
    h = await startIdentity({ policy: identityPolicyNewDefaults });
    f = fixtures(h);
  });
  after(() => h.close());

  test('only a system admin creates limits; a project admin is refused', async () => {
    const system = await f.adminToken({ type: 'system' });
    const s = await f.service(undefined, system);
    const item = { service_id: s.id, resource_name: 'volume', default_limit: 10 };
    assert.equal((await h.call('POST', '/v3/registered_limits', { registered_limits: [item] })).status, 403);
    await f.registered([item], system);
    const limit = { project_id: h.admin.projectId, service_id: s.id, resource_name: 'volume', resource_limit: 1 };
    assert.equal((await h.call('POST', '/v3/limits', { limits: [limit] })).status, 403);
    const [created] = await f.limits([limit], system);
    // The project's own limit is visible to its (project-scoped) users.
    assert.equal((await h.call('GET', `/v3/limits/${created.id}`)).status, 200);
  });
});
