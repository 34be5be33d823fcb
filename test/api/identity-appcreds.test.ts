import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../lib/ids.ts';
import { hashPassword } from '../../lib/passwords.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/users/{user_id}/application_credentials and the application_credential method', () => {
  let h: IdentityHarness;
  let user: { id: string; name: string };
  let project: { id: string; name: string };
  let token: string;
  before(async () => {
    h = await startIdentity();
    const db = h.database.db;
    project = { id: newId(), name: `proj-${newId().slice(0, 8)}` };
    await db('projects').insert({ ...project, domain_id: 'default' });
    user = { id: newId(), name: `dev-${newId().slice(0, 8)}` };
    await db('users').insert({ ...user, domain_id: 'default', password_hash: await hashPassword('devpw', 10) });
    await h.call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${h.admin.roleIds.member}`);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: 'devpw' } } }, scope: { project: { id: project.id } } },
    }, null);
    assert.equal(t.status, 201);
    token = t.headers['x-subject-token'];
  });
  after(() => h.close());

  const base = () => `/v3/users/${user.id}/application_credentials`;
  const create = async (body: Record<string, unknown>) => {
    const r = await h.call('POST', base(), { application_credential: body }, token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('ApplicationCredentialShow', r.body);
    return r.body.application_credential;
  };
  const appCredAuth = (cred: Record<string, unknown>) => ({ auth: { identity: { methods: ['application_credential'], application_credential: cred } } });

  test('create returns the secret once; show and list never do', async () => {
    const cred = await create({ name: `mon-${newId()}`, description: 'monitoring' });
    assert.equal(typeof cred.secret, 'string');
    assert.ok(cred.secret.length >= 32);
    assert.equal(cred.project_id, project.id);
    assert.equal(cred.unrestricted, false);
    assert.equal(cred.expires_at, null);
    assert.deepEqual(cred.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    assert.match(cred.links.self, new RegExp(`/v3/users/${user.id}/application_credentials/${cred.id}$`));

    const shown = await h.call('GET', `${base()}/${cred.id}`, undefined, token);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.application_credential.secret, undefined);
    assert.deepEqual({ ...shown.body.application_credential }, (({ secret: _s, ...rest }) => rest)(cred));

    const list = await h.call('GET', base(), undefined, token);
    assert.equal(list.status, 200);
    conforms('ApplicationCredentialList', list.body);
    assert.ok(list.body.application_credentials.some((c: { id: string }) => c.id === cred.id));
    assert.ok(list.body.application_credentials.every((c: { secret?: string }) => c.secret === undefined));
    const byName = await h.call('GET', `${base()}?name=${cred.name}`, undefined, token);
    assert.deepEqual(byName.body.application_credentials.map((c: { id: string }) => c.id), [cred.id]);
  });

  test('a given secret, an expiry printed back exactly, a duplicate name (409), a role the user lacks (400)', async () => {
    const name = `ci-${newId()}`;
    const expires = '2099-03-04T05:06:07.123456';
    const cred = await create({ name, secret: 'my-own-secret', expires_at: expires, roles: [{ name: 'reader' }] });
    assert.equal(cred.secret, 'my-own-secret');
    assert.equal(cred.expires_at, expires);
    assert.deepEqual(cred.roles.map((r: { name: string }) => r.name), ['reader']);
    assert.equal((await h.call('POST', base(), { application_credential: { name } }, token)).status, 409);
    const admin = await h.call('POST', base(), { application_credential: { name: `x-${newId()}`, roles: [{ id: h.admin.roleIds.admin }] } }, token);
    assert.equal(admin.status, 400);
    const past = await h.call('POST', base(), { application_credential: { name: `x-${newId()}`, expires_at: '2001-01-01T00:00:00' } }, token);
    assert.equal(past.status, 400);
    const noName = await h.call('POST', base(), { application_credential: {} }, token);
    assert.equal(noName.status, 400);
    assert.match(noName.body.error.message, /name/);
  });

  test('authenticating by id + secret gives a token on the credential\'s project with only its roles', async () => {
    const cred = await create({ name: `ro-${newId()}`, roles: [{ name: 'reader' }] });
    const r = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: cred.secret }), null);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('TokenResponse', r.body);
    const t = r.body.token;
    assert.deepEqual(t.methods, ['application_credential']);
    assert.equal(t.project.id, project.id);
    assert.equal(t.user.id, user.id);
    assert.deepEqual(t.roles.map((x: { name: string }) => x.name), ['reader']);
    assert.deepEqual(t.application_credential, { id: cred.id, name: cred.name, restricted: true });
    assert.ok(Array.isArray(t.catalog));
    // And GET gives the same body.
    const v = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers: { 'x-auth-token': h.admin.token, 'x-subject-token': r.headers['x-subject-token'] } });
    assert.deepEqual(JSON.parse(v.body), r.body);
  });

  test('a role granted after the token was issued can be given to a credential (Keystone recomputes token roles)', async () => {
    const extra = (await h.call('POST', '/v3/roles', { role: { name: `extra-${newId()}` } })).body.role;
    assert.equal((await h.call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${extra.id}`)).status, 204);
    const cred = await create({ name: `late-${newId()}`, roles: [{ id: extra.id }] });
    assert.deepEqual(cred.roles.map((r: { id: string }) => r.id), [extra.id]);
    const r = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: cred.secret }), null);
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.token.roles.map((x: { id: string }) => x.id), [extra.id]);
  });

  test('authenticating by name + user (by name and domain, or by id)', async () => {
    const cred = await create({ name: `byname-${newId()}` });
    const a = await h.call('POST', '/v3/auth/tokens', appCredAuth({ name: cred.name, secret: cred.secret, user: { name: user.name, domain: { id: 'default' } } }), null);
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.token.project.id, project.id);
    const b = await h.call('POST', '/v3/auth/tokens', appCredAuth({ name: cred.name, secret: cred.secret, user: { id: user.id } }), null);
    assert.equal(b.status, 201);
  });

  test('wrong secret, unknown id, expired credential, a requested scope: 401', async () => {
    const cred = await create({ name: `bad-${newId()}` });
    const wrong = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: 'nope' }), null);
    assert.equal(wrong.status, 401);
    const unknown = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: newId(), secret: cred.secret }), null);
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    const scoped = await h.call('POST', '/v3/auth/tokens', { ...appCredAuth({ id: cred.id, secret: cred.secret }), auth: { ...appCredAuth({ id: cred.id, secret: cred.secret }).auth, scope: { project: { id: project.id } } } }, null);
    assert.equal(scoped.status, 401);
    await h.database.db('application_credentials').where({ id: cred.id }).update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: cred.secret }), null);
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body, wrong.body);
  });

  test('a restricted credential\'s token cannot manage credentials or be rescoped; an unrestricted one can create', async () => {
    const restricted = await create({ name: `r-${newId()}` });
    const rt = (await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: restricted.id, secret: restricted.secret }), null)).headers['x-subject-token'];
    assert.equal((await h.call('POST', base(), { application_credential: { name: `n-${newId()}` } }, rt)).status, 403);
    assert.equal((await h.call('DELETE', `${base()}/${restricted.id}`, undefined, rt)).status, 403);
    const rescope = await h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['token'], token: { id: rt } }, scope: { project: { id: project.id } } } }, null);
    assert.equal(rescope.status, 403);

    const open = await create({ name: `u-${newId()}`, unrestricted: true });
    const ut = (await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: open.id, secret: open.secret }), null)).headers['x-subject-token'];
    const made = await h.call('POST', base(), { application_credential: { name: `m-${newId()}` } }, ut);
    assert.equal(made.status, 201);
  });

  test('only the owner sees them; deleting one revokes its tokens', async () => {
    const cred = await create({ name: `del-${newId()}` });
    // Another user (a project member) cannot list or read them.
    const db = h.database.db;
    const other = { id: newId(), name: `o-${newId().slice(0, 8)}` };
    await db('users').insert({ ...other, domain_id: 'default', password_hash: await hashPassword('opw', 10) });
    await h.call('PUT', `/v3/projects/${project.id}/users/${other.id}/roles/${h.admin.roleIds.member}`);
    const ot = (await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: other.id, password: 'opw' } } }, scope: { project: { id: project.id } } },
    }, null)).headers['x-subject-token'];
    assert.equal((await h.call('GET', base(), undefined, ot)).status, 403);
    assert.equal((await h.call('GET', `${base()}/${cred.id}`, undefined, ot)).status, 403);
    assert.equal((await h.call('DELETE', `${base()}/${cred.id}`, undefined, ot)).status, 403);
    assert.equal((await h.call('POST', `/v3/users/${other.id}/application_credentials`, { application_credential: { name: 'x' } }, token)).status, 403);

    const at = (await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: cred.secret }), null)).headers['x-subject-token'];
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, at)).status, 200);
    assert.equal((await h.call('DELETE', `${base()}/${cred.id}`, undefined, token)).status, 204);
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, at)).status, 401);
    assert.equal((await h.call('GET', `${base()}/${cred.id}`, undefined, token)).status, 404);
    assert.equal((await h.call('DELETE', `${base()}/${cred.id}`, undefined, token)).status, 404);
  });

  test('the credential\'s roles are cut to what the user still holds', async () => {
    const cred = await create({ name: `cut-${newId()}` });
    // Replace member by reader on the project: the credential keeps only reader.
    await h.call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${h.admin.roleIds.reader}`);
    await h.call('DELETE', `/v3/projects/${project.id}/users/${user.id}/roles/${h.admin.roleIds.member}`);
    const r = await h.call('POST', '/v3/auth/tokens', appCredAuth({ id: cred.id, secret: cred.secret }), null);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const names = r.body.token.roles.map((x: { name: string }) => x.name);
    assert.ok(names.includes('reader'));
    assert.ok(!names.includes('member'));
    assert.ok(cred.roles.some((x: { name: string }) => x.name === 'member'));
  });
});
