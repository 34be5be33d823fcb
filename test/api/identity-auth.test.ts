import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../lib/ids.ts';
import { hashPassword } from '../../lib/passwords.ts';
import type { Db } from '../../lib/db/index.ts';
import { databaseEngines } from '../support/db.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

/** Bus events reach subscribers on a later tick. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

const KEYSTONE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** Rows the tests need that other APIs own (users, projects, groups, domains), written directly. */
async function addDomain(db: Db, name = `dom-${newId().slice(0, 8)}`, enabled = true) {
  const id = newId();
  await db('domains').insert({ id, name, enabled });
  return { id, name };
}
async function addProject(db: Db, domainId: string, opts: { name?: string; parentId?: string; enabled?: boolean } = {}) {
  const id = newId();
  const name = opts.name ?? `proj-${id.slice(0, 8)}`;
  await db('projects').insert({ id, name, domain_id: domainId, parent_id: opts.parentId ?? null, enabled: opts.enabled ?? true });
  return { id, name };
}
async function addUser(db: Db, domainId: string, password: string, opts: { name?: string; enabled?: boolean; defaultProjectId?: string } = {}) {
  const id = newId();
  const name = opts.name ?? `user-${id.slice(0, 8)}`;
  await db('users').insert({
    id, name, domain_id: domainId, enabled: opts.enabled ?? true, password_hash: await hashPassword(password, 10),
    default_project_id: opts.defaultProjectId ?? null,
  });
  return { id, name };
}
async function addGroup(db: Db, domainId: string, memberIds: string[]) {
  const id = newId();
  await db('groups').insert({ id, name: `group-${id.slice(0, 8)}`, domain_id: domainId });
  for (const user_id of memberIds) await db('user_group_membership').insert({ user_id, group_id: id });
  return { id };
}

const passwordAuth = (user: Record<string, unknown>, password: string, scope?: unknown) => ({
  auth: { identity: { methods: ['password'], password: { user: { ...user, password } } }, ...(scope !== undefined ? { scope } : {}) },
});

for (const [engine, openDatabase] of databaseEngines) {
  describe(`POST/GET/HEAD/DELETE /v3/auth/tokens on ${engine}`, () => {
    let h: IdentityHarness;
    let db: Db;
    let project: { id: string; name: string };
    let alice: { id: string; name: string };
    let memberRoleId: string;

    before(async () => {
      h = await startIdentity({ database: await openDatabase() });
      db = h.database.db;
      project = await addProject(db, 'default');
      alice = await addUser(db, 'default', 'alicepw');
      memberRoleId = h.admin.roleIds.member;
      const r = await h.call('PUT', `/v3/projects/${project.id}/users/${alice.id}/roles/${memberRoleId}`);
      assert.equal(r.status, 204);
    });
    after(() => h.close());

    test('password by user name and domain name, scoped to a project by name: 201 with the Keystone body', async () => {
      const r = await h.call(
        'POST',
        '/v3/auth/tokens',
        passwordAuth({ name: alice.name, domain: { name: 'Default' } }, 'alicepw', { project: { name: project.name, domain: { id: 'default' } } }),
        null,
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
      conforms('TokenResponse', r.body);
      assert.ok(typeof r.headers['x-subject-token'] === 'string' && r.headers['x-subject-token'].length > 20);
      const t = r.body.token;
      assert.deepEqual(t.methods, ['password']);
      assert.deepEqual(t.user, { domain: { id: 'default', name: 'Default' }, id: alice.id, name: alice.name, password_expires_at: null });
      assert.deepEqual(t.project, { domain: { id: 'default', name: 'Default' }, id: project.id, name: project.name });
      assert.equal(t.is_domain, false);
      // member implies reader.
      assert.deepEqual(t.roles.map((x: { name: string }) => x.name).sort(), ['member', 'reader']);
      assert.match(t.expires_at, KEYSTONE_TIME);
      assert.match(t.issued_at, KEYSTONE_TIME);
      assert.ok(t.expires_at > t.issued_at);
      assert.equal(t.audit_ids.length, 1);
      assert.ok(Array.isArray(t.catalog));
      const identity = t.catalog.find((s: { type: string }) => s.type === 'identity');
      assert.ok(identity, 'the catalog lists identity');
      for (const e of identity.endpoints) assert.deepEqual(Object.keys(e).sort(), ['id', 'interface', 'region', 'region_id', 'url']);
    });

    test('password by user id, project scope by id; ?nocatalog leaves the catalog out', async () => {
      const r = await h.call('POST', '/v3/auth/tokens?nocatalog', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id } }), null);
      assert.equal(r.status, 201);
      assert.equal(r.body.token.project.id, project.id);
      assert.equal(r.body.token.catalog, undefined);
    });

    test('no scope and no default project: an unscoped token without roles or catalog', async () => {
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw'), null);
      assert.equal(r.status, 201);
      conforms('TokenResponse', r.body);
      const t = r.body.token;
      assert.equal(t.project, undefined);
      assert.equal(t.roles, undefined);
      assert.equal(t.catalog, undefined);
    });

    test('no scope: scoped to the default project when the user has a role there (admin); "unscoped" opts out', async () => {
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: 'admin', domain: { id: 'default' } }, 'secretadmin'), null);
      assert.equal(r.status, 201);
      assert.equal(r.body.token.project.id, h.admin.projectId);
      assert.deepEqual(r.body.token.roles.map((x: { name: string }) => x.name).sort(), ['admin', 'member', 'reader']);
      const u = await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: 'admin', domain: { id: 'default' } }, 'secretadmin', 'unscoped'), null);
      assert.equal(u.status, 201);
      assert.equal(u.body.token.project, undefined);
    });

    test('any bad credential is the same 401 body: wrong password, unknown user, wrong domain, disabled user', async () => {
      const disabled = await addUser(db, 'default', 'pw-disabled', { enabled: false });
      const other = await addDomain(db);
      const attempts = [
        passwordAuth({ id: alice.id }, 'wrong'),
        passwordAuth({ name: alice.name, domain: { id: 'default' } }, 'wrong'),
        passwordAuth({ name: 'nobody-at-all', domain: { id: 'default' } }, 'alicepw'),
        passwordAuth({ id: newId() }, 'alicepw'),
        passwordAuth({ name: alice.name, domain: { name: other.name } }, 'alicepw'),
        passwordAuth({ name: alice.name, domain: { name: 'no-such-domain' } }, 'alicepw'),
        passwordAuth({ id: disabled.id }, 'pw-disabled'),
      ];
      const bodies = [];
      for (const body of attempts) {
        const r = await h.call('POST', '/v3/auth/tokens', body, null);
        assert.equal(r.status, 401, JSON.stringify(body));
        assert.equal(r.headers['x-subject-token'], undefined);
        bodies.push(r.body);
      }
      for (const b of bodies) assert.deepEqual(b, bodies[0]);
      assert.deepEqual(bodies[0], { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    });

    test('malformed requests are 400s naming the field', async () => {
      const missing = await h.call('POST', '/v3/auth/tokens', { notauth: {} }, null);
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /'auth'/);
      const noMethods = await h.call('POST', '/v3/auth/tokens', { auth: { identity: {} } }, null);
      assert.equal(noMethods.status, 400);
      assert.match(noMethods.body.error.message, /methods/);
      const noIdOrName = await h.call('POST', '/v3/auth/tokens', passwordAuth({ domain: { id: 'default' } }, 'x'), null);
      assert.equal(noIdOrName.status, 400);
      assert.match(noIdOrName.body.error.message, /identity\/password\/user/);
      const noData = await h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['password'] } } }, null);
      assert.equal(noData.status, 400);
      assert.match(noData.body.error.message, /password/);
      const twoScopes = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id }, domain: { id: 'default' } }), null);
      assert.equal(twoScopes.status, 400);
      const unsupported = await h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['totp'], totp: {} } } }, null);
      assert.equal(unsupported.status, 401);
    });

    test('a project scope without a role on it, or a disabled or unknown project: 401', async () => {
      const bare = await addProject(db, 'default');
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: bare.id } }), null);
      assert.equal(r.status, 401);
      const off = await addProject(db, 'default', { enabled: false });
      await h.call('PUT', `/v3/projects/${off.id}/users/${alice.id}/roles/${memberRoleId}`);
      const d = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: off.id } }), null);
      assert.equal(d.status, 401);
      const u = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: newId() } }), null);
      assert.equal(u.status, 401);
    });

    test('domain and system scopes carry the roles granted there', async () => {
      const dom = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { domain: { id: 'default' } }), null);
      assert.equal(dom.status, 401, 'no role on the domain yet');
      assert.equal((await h.call('PUT', `/v3/domains/default/users/${alice.id}/roles/${h.admin.roleIds.reader}`)).status, 204);
      const dom2 = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { domain: { name: 'Default' } }), null);
      assert.equal(dom2.status, 201);
      conforms('TokenResponse', dom2.body);
      assert.deepEqual(dom2.body.token.domain, { id: 'default', name: 'Default' });
      assert.deepEqual(dom2.body.token.roles.map((x: { name: string }) => x.name), ['reader']);
      assert.ok(Array.isArray(dom2.body.token.catalog));

      const sys = await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: 'admin', domain: { id: 'default' } }, 'secretadmin', { system: { all: true } }), null);
      assert.equal(sys.status, 201);
      conforms('TokenResponse', sys.body);
      assert.deepEqual(sys.body.token.system, { all: true });
      assert.deepEqual(sys.body.token.roles.map((x: { name: string }) => x.name).sort(), ['admin', 'member', 'reader']);
      const noSys = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { system: { all: true } }), null);
      assert.equal(noSys.status, 401);
    });

    test('roles reach a token through groups, inheritance from the domain and parent projects, and implied roles', async () => {
      const dom = await addDomain(db);
      const parent = await addProject(db, dom.id);
      const child = await addProject(db, dom.id, { parentId: parent.id });
      const bob = await addUser(db, dom.id, 'bobpw');
      const group = await addGroup(db, dom.id, [bob.id]);
      const roleA = (await h.call('POST', '/v3/roles', { role: { name: `a-${newId()}` } })).body.role;
      const roleB = (await h.call('POST', '/v3/roles', { role: { name: `b-${newId()}` } })).body.role;
      const roleC = (await h.call('POST', '/v3/roles', { role: { name: `c-${newId()}` } })).body.role;
      assert.equal((await h.call('PUT', `/v3/roles/${roleA.id}/implies/${roleB.id}`)).status, 201);
      // group grant on the child; inherited grant on the parent; inherited domain grant.
      assert.equal((await h.call('PUT', `/v3/projects/${child.id}/groups/${group.id}/roles/${roleA.id}`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/OS-INHERIT/projects/${parent.id}/users/${bob.id}/roles/${roleC.id}/inherited_to_projects`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/OS-INHERIT/domains/${dom.id}/groups/${group.id}/roles/${h.admin.roleIds.member}/inherited_to_projects`)).status, 204);

      const t = await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: bob.name, domain: { id: dom.id } }, 'bobpw', { project: { id: child.id } }), null);
      assert.equal(t.status, 201, JSON.stringify(t.body));
      assert.deepEqual(
        t.body.token.roles.map((x: { id: string }) => x.id).sort(),
        [roleA.id, roleB.id, roleC.id, h.admin.roleIds.member, h.admin.roleIds.reader].sort(),
      );
      // On the parent only the domain-inherited role applies (an inherited grant skips its own project).
      const p = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: bob.id }, 'bobpw', { project: { id: parent.id } }), null);
      assert.equal(p.status, 201);
      assert.deepEqual(p.body.token.roles.map((x: { name: string }) => x.name).sort(), ['member', 'reader']);
    });

    test('GET returns the body POST returned; HEAD is 200; ?nocatalog; the subject token is echoed', async () => {
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id } }), null);
      const subject = r.headers['x-subject-token'];
      const headers = { 'x-auth-token': h.admin.token, 'x-subject-token': subject };
      const got = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers });
      assert.equal(got.statusCode, 200);
      assert.equal(got.headers['x-subject-token'], subject);
      assert.deepEqual(JSON.parse(got.body), r.body);
      // A second validation (cached) is identical too.
      const again = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers });
      assert.deepEqual(JSON.parse(again.body), r.body);
      const head = await h.app.inject({ method: 'HEAD', url: '/v3/auth/tokens', headers });
      assert.equal(head.statusCode, 200);
      const noCatalog = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens?nocatalog', headers });
      assert.equal(JSON.parse(noCatalog.body).token.catalog, undefined);
      // A user may validate their own token with itself.
      const own = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers: { 'x-auth-token': subject, 'x-subject-token': subject } });
      assert.equal(own.statusCode, 200);
    });

    test('validated bodies are cached until an identity.changed event; a disabled project then fails validation', async () => {
      const p = await addProject(db, 'default');
      await h.call('PUT', `/v3/projects/${p.id}/users/${alice.id}/roles/${memberRoleId}`);
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: p.id } }), null);
      const headers = { 'x-auth-token': h.admin.token, 'x-subject-token': r.headers['x-subject-token'] };
      const validate = async () => h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers });
      await db('projects').where({ id: p.id }).update({ name: `${p.name}-renamed` });
      assert.equal(JSON.parse((await validate()).body).token.project.name, p.name, 'served from the cache');
      await h.bus.publish('identity.changed', { project_id: p.id });
      await settle();
      assert.equal(JSON.parse((await validate()).body).token.project.name, `${p.name}-renamed`);
      await db('projects').where({ id: p.id }).update({ enabled: false });
      await h.bus.publish('identity.changed', { project_id: p.id });
      await settle();
      assert.equal((await validate()).statusCode, 404);
    });

    test('an invalid subject token is 404; no X-Auth-Token is 401', async () => {
      const bad = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers: { 'x-auth-token': h.admin.token, 'x-subject-token': 'garbage' } });
      assert.equal(bad.statusCode, 404);
      assert.match(JSON.parse(bad.body).error.message, /Could not find token/);
      const anon = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers: { 'x-subject-token': h.admin.token } });
      assert.equal(anon.statusCode, 401);
    });

    test('DELETE revokes: validating it is then 404 and it no longer authenticates', async () => {
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id } }), null);
      const subject = r.headers['x-subject-token'];
      const headers = { 'x-auth-token': h.admin.token, 'x-subject-token': subject };
      assert.equal((await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers })).statusCode, 200);
      const del = await h.app.inject({ method: 'DELETE', url: '/v3/auth/tokens', headers });
      assert.equal(del.statusCode, 204);
      assert.equal((await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers })).statusCode, 404);
      assert.equal((await h.app.inject({ method: 'DELETE', url: '/v3/auth/tokens', headers })).statusCode, 404);
      assert.equal((await h.call('GET', '/v3/auth/projects', undefined, subject)).status, 401);
    });

    test('rescoping with the token method keeps the user, expiry and audit chain; revoking the child spares the parent', async () => {
      const p2 = await addProject(db, 'default');
      await h.call('PUT', `/v3/projects/${p2.id}/users/${alice.id}/roles/${memberRoleId}`);
      const unscoped = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw'), null);
      const parent = unscoped.headers['x-subject-token'];
      const scoped = await h.call('POST', '/v3/auth/tokens', {
        auth: { identity: { methods: ['token'], token: { id: parent } }, scope: { project: { name: project.name, domain: { id: 'default' } } } },
      }, null);
      assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
      const t = scoped.body.token;
      assert.equal(t.expires_at, unscoped.body.token.expires_at);
      assert.deepEqual(new Set(t.methods), new Set(['token', 'password']));
      assert.deepEqual(t.user, unscoped.body.token.user);
      assert.equal(t.project.id, project.id);
      assert.equal(t.audit_ids.length, 2);
      assert.equal(t.audit_ids[1], unscoped.body.token.audit_ids[0]);

      await h.app.inject({ method: 'DELETE', url: '/v3/auth/tokens', headers: { 'x-auth-token': h.admin.token, 'x-subject-token': scoped.headers['x-subject-token'] } });
      const second = await h.call('POST', '/v3/auth/tokens', {
        auth: { identity: { methods: ['token'], token: { id: parent } }, scope: { project: { id: p2.id } } },
      }, null);
      assert.equal(second.status, 201);
      assert.equal(second.body.token.project.id, p2.id);
      assert.equal(second.body.token.audit_ids[1], unscoped.body.token.audit_ids[0]);

      const bogus = await h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['token'], token: { id: 'nope' } } } }, null);
      assert.equal(bogus.status, 404, 'as Keystone: the token is not found');
      const revokedParent = (await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: 'admin', domain: { id: 'default' } }, 'secretadmin'), null)).headers['x-subject-token'] as string;
      const revoke = await h.app.inject({ method: 'DELETE', url: '/v3/auth/tokens', headers: { 'x-auth-token': revokedParent, 'x-subject-token': revokedParent } });
      assert.equal(revoke.statusCode, 204);
      const fromRevoked = await h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['token'], token: { id: revokedParent } } } }, null);
      assert.equal(fromRevoked.status, 404);
    });

    test('a system-scoped token cannot be rescoped to a project', async () => {
      const sys = await h.call('POST', '/v3/auth/tokens', passwordAuth({ name: 'admin', domain: { id: 'default' } }, 'secretadmin', { system: { all: true } }), null);
      const r = await h.call('POST', '/v3/auth/tokens', {
        auth: { identity: { methods: ['token'], token: { id: sys.headers['x-subject-token'] } }, scope: { project: { id: h.admin.projectId } } },
      }, null);
      assert.equal(r.status, 403);
    });

    test('removing a grant makes the user\'s token for that project fail', async () => {
      const p3 = await addProject(db, 'default');
      await h.call('PUT', `/v3/projects/${p3.id}/users/${alice.id}/roles/${memberRoleId}`);
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: p3.id } }), null);
      const subject = r.headers['x-subject-token'];
      assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, subject)).status, 200);
      const other = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id } }), null);
      assert.equal((await h.call('DELETE', `/v3/projects/${p3.id}/users/${alice.id}/roles/${memberRoleId}`)).status, 204);
      assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, subject)).status, 401);
      const v = await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers: { 'x-auth-token': h.admin.token, 'x-subject-token': subject } });
      assert.equal(v.statusCode, 404);
      // Her token on another project still works.
      assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, other.headers['x-subject-token'])).status, 200);
    });

    test('/v3/auth/projects, /domains, /system and /catalog list what the token\'s user can scope to', async () => {
      const r = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw', { project: { id: project.id } }), null);
      const tok = r.headers['x-subject-token'];
      const projects = await h.call('GET', '/v3/auth/projects', undefined, tok);
      assert.equal(projects.status, 200);
      conforms('AuthProjectsResponse', projects.body);
      assert.ok(projects.body.projects.some((p: { id: string }) => p.id === project.id));
      assert.ok(!projects.body.projects.some((p: { id: string }) => p.id === h.admin.projectId));
      const domains = await h.call('GET', '/v3/auth/domains', undefined, tok);
      assert.equal(domains.status, 200);
      conforms('AuthDomainsResponse', domains.body);
      assert.ok(Array.isArray(domains.body.domains));
      const system = await h.call('GET', '/v3/auth/system', undefined, tok);
      conforms('AuthSystemResponse', system.body);
      assert.deepEqual(system.body.system, []);
      const adminSystem = await h.call('GET', '/v3/auth/system');
      assert.deepEqual(adminSystem.body.system, [{ all: true }]);
      const catalog = await h.call('GET', '/v3/auth/catalog', undefined, tok);
      assert.equal(catalog.status, 200);
      conforms('AuthCatalogResponse', catalog.body);
      assert.deepEqual(catalog.body.catalog, r.body.token.catalog);
      const unscoped = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'alicepw'), null);
      assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, unscoped.headers['x-subject-token'])).status, 403);
    });
  });
}

describe('password lockout', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity({ overrides: { 'identity.lockout_failure_attempts': 3, 'identity.lockout_duration': 600 } });
  });
  after(() => h.close());

  test('after 3 wrong passwords the user is locked (same 401), until the lockout runs out', async () => {
    const db = h.database.db;
    const carol = await addUser(db, 'default', 'carolpw');
    const good = passwordAuth({ id: carol.id }, 'carolpw');
    const bad = passwordAuth({ id: carol.id }, 'nope');
    const first = await h.call('POST', '/v3/auth/tokens', bad, null);
    assert.equal(first.status, 401);
    // A success resets the count.
    assert.equal((await h.call('POST', '/v3/auth/tokens', good, null)).status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await h.call('POST', '/v3/auth/tokens', bad, null)).status, 401);
    const locked = await h.call('POST', '/v3/auth/tokens', good, null);
    assert.equal(locked.status, 401);
    assert.deepEqual(locked.body, first.body);
    // The lockout expires.
    await db('users').where({ id: carol.id }).update({ failed_auth_at: new Date(Date.now() - 601_000) });
    assert.equal((await h.call('POST', '/v3/auth/tokens', good, null)).status, 201);
    const row = await db('users').where({ id: carol.id }).first('failed_auth_count');
    assert.equal(row.failed_auth_count, 0);
  });
});

test('renaming a project shows in GET /v3/auth/tokens at once, though bodies are cached', async () => {
  const h = await startIdentity();
  try {
    const headers = { 'x-auth-token': h.admin.token, 'x-subject-token': h.admin.token };
    const show = async () => JSON.parse((await h.app.inject({ method: 'GET', url: '/v3/auth/tokens', headers })).body);
    assert.equal((await show()).token.project.name, 'admin');
    assert.equal((await h.call('PATCH', `/v3/projects/${h.admin.projectId}`, { project: { name: 'renamed' } })).status, 200);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await show()).token.project.name, 'renamed');
  } finally {
    await h.close();
  }
});

test('issuing by token reflects a grant change at once, though resolutions are memoized', async () => {
  const h = await startIdentity();
  try {
    const db = h.database.db;
    const project = await addProject(db, 'default');
    const alice = await addUser(db, 'default', 'pw-alice');
    const grant = `/v3/projects/${project.id}/users/${alice.id}/roles/${h.admin.roleIds.member}`;
    assert.equal((await h.call('PUT', grant)).status, 204);
    const scope = { project: { id: project.id } };
    const first = await h.call('POST', '/v3/auth/tokens', passwordAuth({ id: alice.id }, 'pw-alice', scope), null);
    assert.equal(first.status, 201);
    const parent = first.headers['x-subject-token'] as string;
    const byToken = () =>
      h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['token'], token: { id: parent } }, scope } }, null);
    const before = await byToken();
    assert.equal(before.status, 201);
    assert.deepEqual(before.body.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);

    // A second grant shows in the very next token.
    assert.equal((await h.call('PUT', `/v3/projects/${project.id}/users/${alice.id}/roles/${h.admin.roleIds.admin}`)).status, 204);
    const more = await byToken();
    assert.deepEqual(more.body.token.roles.map((r: { name: string }) => r.name).sort(), ['admin', 'member', 'reader']);
    // The project renamed: the next token's body shows the new name.
    assert.equal((await h.call('PATCH', `/v3/projects/${project.id}`, { project: { name: 'renamed-at-once' } })).status, 200);
    assert.equal((await byToken()).body.token.project.name, 'renamed-at-once');
  } finally {
    await h.close();
  }
});
