import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../lib/ids.ts';
import { hashPassword } from '../../lib/passwords.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/roles and implied roles', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  const createRole = async (role: Record<string, unknown>) => {
    const r = await h.call('POST', '/v3/roles', { role });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('RoleShow', r.body);
    return r.body.role;
  };

  test('create, show, update, list and delete a role', async () => {
    const name = `role-${newId()}`;
    const role = await createRole({ name, description: 'd' });
    assert.deepEqual(Object.keys(role).sort(), ['description', 'domain_id', 'id', 'links', 'name', 'options']);
    assert.equal(role.domain_id, null);
    assert.match(role.links.self, new RegExp(`/v3/roles/${role.id}$`));

    const shown = await h.call('GET', `/v3/roles/${role.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.role, role);

    const renamed = await h.call('PATCH', `/v3/roles/${role.id}`, { role: { name: `${name}-new` } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.role.name, `${name}-new`);

    const list = await h.call('GET', '/v3/roles');
    assert.equal(list.status, 200);
    conforms('RoleList', list.body);
    assert.ok(list.body.roles.some((r: { id: string }) => r.id === role.id));
    assert.ok(list.body.links.self.endsWith('/v3/roles'));
    const byName = await h.call('GET', `/v3/roles?name=${name}-new`);
    assert.deepEqual(byName.body.roles.map((r: { id: string }) => r.id), [role.id]);

    assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/roles/${role.id}`)).status, 404);
    assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`)).status, 404);
  });

  test('bad input: 400 naming the field; duplicate name: 409; domain_id cannot change', async () => {
    const noName = await h.call('POST', '/v3/roles', { role: { description: 'x' } });
    assert.equal(noName.status, 400);
    assert.match(noName.body.error.message, /name/);
    const noRole = await h.call('POST', '/v3/roles', {});
    assert.equal(noRole.status, 400);
    assert.match(noRole.body.error.message, /role/);
    const name = `dup-${newId()}`;
    await createRole({ name });
    assert.equal((await h.call('POST', '/v3/roles', { role: { name } })).status, 409);
    const r = await createRole({ name: `x-${newId()}` });
    assert.equal((await h.call('PATCH', `/v3/roles/${r.id}`, { role: { name } })).status, 409);
    assert.equal((await h.call('PATCH', `/v3/roles/${r.id}`, { role: { domain_id: 'default' } })).status, 400);
  });

  test('domain-specific roles: same name allowed per domain; listed only with domain_id', async () => {
    const name = `dr-${newId()}`;
    const global = await createRole({ name });
    const domainRole = await createRole({ name, domain_id: 'default' });
    assert.equal(domainRole.domain_id, 'default');
    assert.equal((await h.call('POST', '/v3/roles', { role: { name, domain_id: 'default' } })).status, 409);
    const globals = await h.call('GET', '/v3/roles');
    assert.ok(globals.body.roles.some((r: { id: string }) => r.id === global.id));
    assert.ok(!globals.body.roles.some((r: { id: string }) => r.id === domainRole.id));
    const inDomain = await h.call('GET', '/v3/roles?domain_id=default');
    assert.deepEqual(inDomain.body.roles.map((r: { id: string }) => r.id), [domainRole.id]);
    assert.equal((await h.call('POST', '/v3/roles', { role: { name, domain_id: newId() } })).status, 404);
  });

  test('implied roles: PUT 201, GET 200, HEAD 204, list, role_inferences, DELETE 204 then 404', async () => {
    const a = await createRole({ name: `a-${newId()}` });
    const b = await createRole({ name: `b-${newId()}` });
    const c = await createRole({ name: `c-${newId()}` });
    const put = await h.call('PUT', `/v3/roles/${a.id}/implies/${b.id}`);
    assert.equal(put.status, 201);
    conforms('RoleInferenceShow', put.body);
    assert.equal(put.body.role_inference.prior_role.id, a.id);
    assert.equal(put.body.role_inference.implies.id, b.id);
    for (const key of ['id', 'links', 'name']) {
      assert.ok(key in put.body.role_inference.prior_role);
      assert.ok(key in put.body.role_inference.implies);
    }
    assert.match(put.body.links.self, new RegExp(`/v3/roles/${a.id}/implies/${b.id}$`));
    await h.call('PUT', `/v3/roles/${a.id}/implies/${c.id}`);

    const get = await h.call('GET', `/v3/roles/${a.id}/implies/${b.id}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, put.body);
    assert.equal((await h.call('HEAD', `/v3/roles/${a.id}/implies/${b.id}`)).status, 204);
    assert.equal((await h.call('HEAD', `/v3/roles/${b.id}/implies/${a.id}`)).status, 404);

    const list = await h.call('GET', `/v3/roles/${a.id}/implies`);
    assert.equal(list.status, 200);
    conforms('RoleInferenceList', list.body);
    assert.deepEqual(list.body.role_inference.implies.map((r: { id: string }) => r.id).sort(), [b.id, c.id].sort());

    const all = await h.call('GET', '/v3/role_inferences');
    assert.equal(all.status, 200);
    conforms('RoleInferencesAll', all.body);
    const mine = all.body.role_inferences.find((r: { prior_role: { id: string } }) => r.prior_role.id === a.id);
    assert.equal(mine.implies.length, 2);
    // Bootstrap's admin ⊃ member ⊃ reader are there too.
    assert.ok(all.body.role_inferences.some((r: { prior_role: { name: string } }) => r.prior_role.name === 'admin'));

    assert.equal((await h.call('DELETE', `/v3/roles/${a.id}/implies/${b.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/roles/${a.id}/implies/${b.id}`)).status, 404);
    assert.equal((await h.call('DELETE', `/v3/roles/${a.id}/implies/${b.id}`)).status, 404);
    assert.equal((await h.call('PUT', `/v3/roles/${a.id}/implies/${newId()}`)).status, 404);
  });

  test('a global role cannot imply a domain role, and nothing may imply admin: 403', async () => {
    const global = await createRole({ name: `g-${newId()}` });
    const d1 = await createRole({ name: `d1-${newId()}`, domain_id: 'default' });
    const d2 = await createRole({ name: `d2-${newId()}`, domain_id: 'default' });
    assert.equal((await h.call('PUT', `/v3/roles/${d1.id}/implies/${d2.id}`)).status, 201);
    assert.equal((await h.call('PUT', `/v3/roles/${d1.id}/implies/${global.id}`)).status, 201);
    assert.equal((await h.call('PUT', `/v3/roles/${global.id}/implies/${d1.id}`)).status, 403);
    assert.equal((await h.call('PUT', `/v3/roles/${global.id}/implies/${h.admin.roleIds.admin}`)).status, 403);
  });

  test('deleting a role removes its grants and revokes the tokens that carried it', async () => {
    const db = h.database.db;
    const role = await createRole({ name: `doomed-${newId()}` });
    const userId = newId();
    await db('users').insert({ id: userId, name: `u-${userId}`, domain_id: 'default', password_hash: await hashPassword('pw', 10) });
    assert.equal((await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${userId}/roles/${role.id}`)).status, 204);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: userId, password: 'pw' } } }, scope: { project: { id: h.admin.projectId } } },
    }, null);
    assert.equal(t.status, 201);
    const token = t.headers['x-subject-token'];
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, token)).status, 200);
    assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`)).status, 204);
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, token)).status, 401);
    const left = await db('assignments').where({ role_id: role.id });
    assert.equal(left.length, 0);
  });

  test('deleting an inference rule revokes tokens of the prior role', async () => {
    const db = h.database.db;
    const prior = await createRole({ name: `p-${newId()}` });
    const implied = await createRole({ name: `i-${newId()}` });
    await h.call('PUT', `/v3/roles/${prior.id}/implies/${implied.id}`);
    const userId = newId();
    await db('users').insert({ id: userId, name: `u-${userId}`, domain_id: 'default', password_hash: await hashPassword('pw', 10) });
    await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${userId}/roles/${prior.id}`);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: userId, password: 'pw' } } }, scope: { project: { id: h.admin.projectId } } },
    }, null);
    assert.deepEqual(t.body.token.roles.map((r: { id: string }) => r.id).sort(), [prior.id, implied.id].sort());
    assert.equal((await h.call('DELETE', `/v3/roles/${prior.id}/implies/${implied.id}`)).status, 204);
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, t.headers['x-subject-token'])).status, 401);
  });

  test('a member (not admin) cannot create roles; no token is 401', async () => {
    const db = h.database.db;
    const userId = newId();
    await db('users').insert({ id: userId, name: `u-${userId}`, domain_id: 'default', password_hash: await hashPassword('pw', 10) });
    await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${userId}/roles/${h.admin.roleIds.member}`);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: userId, password: 'pw' } } }, scope: { project: { id: h.admin.projectId } } },
    }, null);
    const token = t.headers['x-subject-token'];
    assert.equal((await h.call('POST', '/v3/roles', { role: { name: `nope-${newId()}` } }, token)).status, 403);
    assert.equal((await h.call('GET', '/v3/roles', undefined, null)).status, 401);
  });
});
