import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { databaseEngines } from '../support/db.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

for (const [engine, openDatabase] of databaseEngines) {
  describe(`/v3/users (${engine})`, () => {
    let h: IdentityHarness;
    before(async () => {
      h = await startIdentity({ database: await openDatabase() });
    });
    after(() => h.close());

    const createUser = async (user: Record<string, unknown>) => {
      const r = await h.call('POST', '/v3/users', { user });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      conforms('UserShow', r.body);
      return r.body.user;
    };

    /** A token for `userId` minted directly: project-scoped with the given roles (member by default). */
    const tokenFor = async (userId: string, roles = ['member', 'reader'], projectId = h.admin.projectId) => {
      const { token } = await h.tokens.issue({
        user_id: userId,
        user_domain_id: 'default',
        methods: ['password'],
        scope: { type: 'project', project_id: projectId, domain_id: 'default' },
        roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
        expires_at: new Date(Date.now() + 3600_000),
      });
      return token;
    };

    const login = (userId: string, password: string) =>
      h.call('POST', '/v3/auth/tokens', { auth: { identity: { methods: ['password'], password: { user: { id: userId, password } } } } }, null);

    test('create, show, list, update and delete a user; the password is never returned', async () => {
      const name = `u-${newId()}`;
      const user = await createUser({ name, password: 'secret-1', email: `${name}@example.org`, description: 'd' });
      assert.deepEqual(Object.keys(user).sort(), ['description', 'domain_id', 'email', 'enabled', 'id', 'links', 'name', 'options', 'password_expires_at']);
      assert.equal(user.domain_id, 'default');
      assert.equal(user.enabled, true);
      assert.equal(user.email, `${name}@example.org`);
      assert.equal(user.password_expires_at, null);
      assert.deepEqual(user.options, {});
      assert.match(user.links.self, new RegExp(`/v3/users/${user.id}$`));
      const stored = await h.database.db('users').where({ id: user.id }).first('password_hash');
      assert.match(stored.password_hash, /^scrypt\$/);
      assert.ok(!JSON.stringify(user).includes('secret-1'));

      const shown = await h.call('GET', `/v3/users/${user.id}`);
      assert.equal(shown.status, 200);
      assert.deepEqual(shown.body.user, user);

      const list = await h.call('GET', '/v3/users');
      assert.equal(list.status, 200);
      conforms('UserList', list.body);
      assert.deepEqual(list.body.links.previous, null);
      assert.ok(list.body.links.self.endsWith('/v3/users'));
      assert.deepEqual(list.body.users.find((u: { id: string }) => u.id === user.id), user);

      const project = await h.call('POST', '/v3/projects', { project: { name: `p-${newId()}` } });
      const updated = await h.call('PATCH', `/v3/users/${user.id}`, {
        user: { name: `${name}-2`, email: 'new@example.org', project_id: project.body.project.id, default_project_id: project.body.project.id, enabled: false },
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      conforms('UserShow', updated.body);
      assert.equal(updated.body.user.name, `${name}-2`);
      assert.equal(updated.body.user.email, 'new@example.org');
      assert.equal(updated.body.user.project_id, project.body.project.id);
      assert.equal(updated.body.user.default_project_id, project.body.project.id);
      assert.equal(updated.body.user.enabled, false);
      assert.equal(updated.body.user.description, 'd');
      assert.deepEqual((await h.call('GET', `/v3/users/${user.id}`)).body.user, updated.body.user);

      assert.equal((await h.call('DELETE', `/v3/users/${user.id}`)).status, 204);
      const gone = await h.call('GET', `/v3/users/${user.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.message, `Could not find user: ${user.id}.`);
      assert.equal((await h.call('DELETE', `/v3/users/${user.id}`)).status, 404);
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: { name: 'x' } })).status, 404);
    });

    test('bad input is a 400 naming the field', async () => {
      const cases: [unknown, RegExp][] = [
        [{ user: { password: 'x' } }, /user\/name/],
        [{}, /'user'/],
        [{ user: { name: '' } }, /user\/name/],
        [{ user: { name: '   ' } }, /user\/name/],
        [{ user: { name: 'a'.repeat(256) } }, /user\/name/],
        [{ user: { name: 'ok', enabled: 'yes' } }, /user\/enabled/],
        [{ user: { name: 'ok', enabled: 'True' } }, /user\/enabled/],
        [{ user: { name: 'ok', password: 5 } }, /user\/password/],
        [{ user: { name: 'ok', options: { lock_password: 'x' } } }, /user\/options\/lock_password/],
        [{ user: { name: 'ok', options: { bogus: true } } }, /bogus/],
        [{ user: { name: 'ok' }, extra: 1 }, /extra/],
      ];
      for (const [body, field] of cases) {
        const r = await h.call('POST', '/v3/users', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.error.message, field);
      }
      assert.equal((await h.call('POST', '/v3/users')).status, 400);
      const user = await createUser({ name: `u-${newId()}` });
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: {} })).status, 400);
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: { enabled: 1 } })).status, 400);
      const domainChange = await h.call('PATCH', `/v3/users/${user.id}`, { user: { domain_id: newId() } });
      assert.equal(domainChange.status, 400);
      assert.match(domainChange.body.error.message, /Cannot change Domain ID/);
      assert.equal((await h.call('POST', '/v3/users', { user: { name: 'x', default_project_id: 'default' } })).status, 400);
      assert.equal((await h.call('GET', '/v3/users?password_expires_at=lt:yesterday')).status, 400);
      assert.equal((await h.call('GET', '/v3/users?password_expires_at=xx:2020-01-01T00:00:00Z')).status, 400);
    });

    test('duplicate name in a domain is 409; an unknown domain is 404; names are unique per domain only', async () => {
      const name = `dup-${newId()}`;
      await createUser({ name });
      const dup = await h.call('POST', '/v3/users', { user: { name } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.message, `Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID default.`);
      const other = await createUser({ name: `o-${newId()}` });
      assert.equal((await h.call('PATCH', `/v3/users/${other.id}`, { user: { name } })).status, 409);
      const unknown = await h.call('POST', '/v3/users', { user: { name, domain_id: newId() } });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error.message, /Could not find domain/);
      const domain = await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } });
      const elsewhere = await createUser({ name, domain_id: domain.body.domain.id });
      assert.equal(elsewhere.domain_id, domain.body.domain.id);
    });

    test('list filters: name, domain_id, enabled, password_expires_at', async () => {
      const domain = (await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } })).body.domain;
      const a = await createUser({ name: `a-${newId()}`, domain_id: domain.id });
      const b = await createUser({ name: `b-${newId()}`, enabled: false });
      const ids = async (query: string) => (await h.call('GET', `/v3/users?${query}`)).body.users.map((u: { id: string }) => u.id);
      assert.deepEqual(await ids(`name=${a.name}`), [a.id]);
      assert.deepEqual(await ids(`domain_id=${domain.id}`), [a.id]);
      const disabled = await ids('enabled=false');
      assert.ok(disabled.includes(b.id) && !disabled.includes(a.id));
      const enabled = await ids('enabled=true');
      assert.ok(enabled.includes(a.id) && !enabled.includes(b.id));
      assert.deepEqual(await ids('password_expires_at=lt:2000-01-01T00:00:00Z'), []);
    });

    test('no token is 401; a member sees itself but not other users (403)', async () => {
      assert.equal((await h.call('GET', '/v3/users', undefined, null)).status, 401);
      assert.equal((await h.call('POST', '/v3/users', { user: { name: 'x' } }, null)).status, 401);
      const me = await createUser({ name: `me-${newId()}` });
      const other = await createUser({ name: `other-${newId()}` });
      const token = await tokenFor(me.id);
      assert.equal((await h.call('GET', '/v3/users', undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${other.id}`, undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${newId()}`, undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${me.id}`, undefined, token)).status, 200);
      assert.equal((await h.call('POST', '/v3/users', { user: { name: `n-${newId()}` } }, token)).status, 403);
      assert.equal((await h.call('PATCH', `/v3/users/${me.id}`, { user: { enabled: true } }, token)).status, 403);
      assert.equal((await h.call('DELETE', `/v3/users/${other.id}`, undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${other.id}/projects`, undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${me.id}/projects`, undefined, token)).status, 200);
      assert.equal((await h.call('GET', `/v3/users/${other.id}/groups`, undefined, token)).status, 403);
      assert.equal((await h.call('GET', `/v3/users/${me.id}/groups`, undefined, token)).status, 200);
    });

    test('a domain administrator lists only its domain\'s users', async () => {
      const domain = (await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } })).body.domain;
      const inside = await createUser({ name: `in-${newId()}`, domain_id: domain.id });
      const { token } = await h.tokens.issue({
        user_id: inside.id,
        user_domain_id: domain.id,
        methods: ['password'],
        scope: { type: 'domain', domain_id: domain.id },
        roles: [{ id: h.admin.roleIds.admin, name: 'admin' }],
        expires_at: new Date(Date.now() + 3600_000),
      });
      const list = await h.call('GET', '/v3/users', undefined, token);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.users.map((u: { id: string }) => u.id), [inside.id]);
      assert.deepEqual((await h.call('GET', '/v3/users?domain_id=default', undefined, token)).body.users, []);
      // Created in the token's domain when the body names none.
      const made = await h.call('POST', '/v3/users', { user: { name: `m-${newId()}` } }, token);
      assert.equal(made.status, 201);
      assert.equal(made.body.user.domain_id, domain.id);
    });

    test('disabling a user, or an administrator setting its password, revokes its tokens', async () => {
      const user = await createUser({ name: `r-${newId()}`, password: 'pw-1' });
      const token = await tokenFor(user.id);
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token)).status, 200);
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: { password: 'pw-2' } })).status, 200);
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token)).status, 401);
      await sleep(2);
      assert.equal((await login(user.id, 'pw-1')).status, 401);
      const fresh = await login(user.id, 'pw-2');
      assert.equal(fresh.status, 201);
      const token2 = fresh.headers['x-subject-token'];
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token2)).status, 200);
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: { enabled: false } })).status, 200);
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token2)).status, 401);
      assert.equal((await login(user.id, 'pw-2')).status, 401);
    });

    test('deleting a user revokes its tokens and removes its memberships and grants', async () => {
      const user = await createUser({ name: `del-${newId()}` });
      const group = (await h.call('POST', '/v3/groups', { group: { name: `g-${newId()}` } })).body.group;
      assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${user.id}`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${user.id}/roles/${h.admin.roleIds.member}`)).status, 204);
      const token = await tokenFor(user.id);
      assert.equal((await h.call('DELETE', `/v3/users/${user.id}`)).status, 204);
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token)).status, 401);
      const db = h.database.db;
      assert.equal((await db('user_group_membership').where({ user_id: user.id })).length, 0);
      assert.equal((await db('assignments').where({ actor_id: user.id })).length, 0);
    });

    test('the original password, not a token, authorizes a password change (as Keystone)', async () => {
      const user = await createUser({ name: `pw-${newId()}`, password: 'original' });
      const other = await createUser({ name: `x-${newId()}`, password: 'other' });
      const token = await tokenFor(user.id);
      const url = `/v3/users/${user.id}/password`;
      const missing = await h.call('POST', url, { user: { password: 'new' } }, token);
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /original_password/);
      const wrong = await h.call('POST', url, { user: { original_password: 'nope', password: 'new' } }, token);
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.error.message, /Error when changing user password/);
      assert.equal((await h.database.db('users').where({ id: user.id }).first('failed_auth_count')).failed_auth_count, 1);
      // Another user's password without knowing it: refused whoever asks.
      const foreign = await h.call('POST', `/v3/users/${other.id}/password`, { user: { original_password: 'guess', password: 'n' } }, token);
      assert.equal(foreign.status, 401);
      assert.equal((await h.call('POST', `/v3/users/${other.id}/password`, { user: { original_password: 'guess', password: 'n' } })).status, 401);
      assert.equal((await login(other.id, 'other')).status, 201);

      // No token at all: the original password is enough.
      assert.equal((await h.call('POST', url, { user: { original_password: 'original', password: 'new' } }, null)).status, 204);
      assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token)).status, 401);
      assert.equal((await h.database.db('users').where({ id: user.id }).first('failed_auth_count')).failed_auth_count, 0);
      await sleep(2);
      assert.equal((await login(user.id, 'original')).status, 401);
      assert.equal((await login(user.id, 'new')).status, 201);

      // lock_password: an administrator's choice; the user may no longer change it.
      assert.equal((await h.call('PATCH', `/v3/users/${user.id}`, { user: { options: { lock_password: true } } })).status, 200);
      await sleep(2);
      const token2 = await tokenFor(user.id);
      assert.equal((await h.call('POST', url, { user: { original_password: 'new', password: 'newer' } }, token2)).status, 403);
    });

    test('GET /v3/users/{id}/projects: direct, through a group, inherited; GET /v3/users/{id}/groups', async () => {
      const user = await createUser({ name: `pr-${newId()}` });
      const mk = async (body: Record<string, unknown>) => (await h.call('POST', '/v3/projects', { project: { name: `p-${newId()}`, ...body } })).body.project;
      const direct = await mk({});
      const viaGroup = await mk({});
      const parent = await mk({});
      const child = await mk({ parent_id: parent.id });
      await mk({});
      const group = (await h.call('POST', '/v3/groups', { group: { name: `g-${newId()}` } })).body.group;
      const member = h.admin.roleIds.member;
      assert.equal((await h.call('PUT', `/v3/projects/${direct.id}/users/${user.id}/roles/${member}`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${user.id}`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/projects/${viaGroup.id}/groups/${group.id}/roles/${member}`)).status, 204);
      assert.equal((await h.call('PUT', `/v3/OS-INHERIT/projects/${parent.id}/users/${user.id}/roles/${member}/inherited_to_projects`)).status, 204);
      const list = await h.call('GET', `/v3/users/${user.id}/projects`);
      assert.equal(list.status, 200);
      conforms('ProjectList', list.body);
      assert.deepEqual(list.body.projects.map((p: { id: string }) => p.id).sort(), [direct.id, viaGroup.id, child.id].sort());
      assert.deepEqual(list.body.projects.find((p: { id: string }) => p.id === direct.id), direct);
      const byName = await h.call('GET', `/v3/users/${user.id}/projects?name=${direct.name}`);
      assert.deepEqual(byName.body.projects.map((p: { id: string }) => p.id), [direct.id]);

      const groups = await h.call('GET', `/v3/users/${user.id}/groups`);
      assert.equal(groups.status, 200);
      conforms('GroupList', groups.body);
      assert.deepEqual(groups.body.groups, [{ ...group, membership_expires_at: null }]);
      assert.equal((await h.call('GET', `/v3/users/${newId()}/projects`)).status, 404);
      assert.equal((await h.call('GET', `/v3/users/${newId()}/groups`)).status, 404);
    });
  });
}
