import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/groups', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  const createGroup = async (group: Record<string, unknown>) => {
    const r = await h.call('POST', '/v3/groups', { group: { name: `g-${newId()}`, ...group } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('GroupShow', r.body);
    return r.body.group;
  };
  const createUser = async (user: Record<string, unknown> = {}) =>
    (await h.call('POST', '/v3/users', { user: { name: `u-${newId()}`, ...user } })).body.user;

  const tokenFor = async (userId: string, roles = ['member', 'reader']) => {
    const { token } = await h.tokens.issue({
      user_id: userId,
      user_domain_id: 'default',
      methods: ['password'],
      scope: { type: 'project', project_id: h.admin.projectId, domain_id: 'default' },
      roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
      expires_at: new Date(Date.now() + 3600_000),
    });
    return token;
  };

  test('create, show, list, update and delete a group', async () => {
    const group = await createGroup({ description: 'd', extra_attr: 1 });
    assert.deepEqual(Object.keys(group).sort(), ['description', 'domain_id', 'extra_attr', 'id', 'links', 'name']);
    assert.equal(group.domain_id, 'default');
    assert.match(group.links.self, new RegExp(`/v3/groups/${group.id}$`));
    assert.equal((await createGroup({})).description, '');

    const shown = await h.call('GET', `/v3/groups/${group.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.group, group);
    const list = await h.call('GET', '/v3/groups');
    assert.equal(list.status, 200);
    conforms('GroupList', list.body);
    assert.deepEqual(list.body.groups.find((g: { id: string }) => g.id === group.id), group);

    const renamed = await h.call('PATCH', `/v3/groups/${group.id}`, { group: { name: `${group.name}-2` } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.group.name, `${group.name}-2`);
    assert.equal(renamed.body.group.description, 'd');
    assert.deepEqual((await h.call('GET', `/v3/groups/${group.id}`)).body.group, renamed.body.group);

    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/groups/${group.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find group: ${group.id}.`);
    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}`)).status, 404);
  });

  test('bad input is a 400 naming the field; duplicate is 409; unknown domain is 404', async () => {
    const cases: [unknown, RegExp][] = [
      [{ group: { description: 'x' } }, /group\/name/],
      [{}, /'group'/],
      [{ group: { name: '' } }, /group\/name/],
      [{ group: { name: 'a'.repeat(256) } }, /group\/name/],
      [{ group: { name: 'x', description: 5 } }, /group\/description/],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/v3/groups', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    const name = `dup-${newId()}`;
    const g = await createGroup({ name });
    const dup = await h.call('POST', '/v3/groups', { group: { name } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, `Conflict occurred attempting to store group - Duplicate entry found with name ${name} at domain ID default.`);
    const other = await createGroup({});
    assert.equal((await h.call('PATCH', `/v3/groups/${other.id}`, { group: { name } })).status, 409);
    assert.equal((await h.call('PATCH', `/v3/groups/${g.id}`, { group: {} })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/groups/${g.id}`, { group: { domain_id: newId() } })).status, 400);
    assert.equal((await h.call('POST', '/v3/groups', { group: { name, domain_id: newId() } })).status, 404);
  });

  test('list filters: name and domain_id', async () => {
    const d = (await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } })).body.domain;
    const a = await createGroup({ domain_id: d.id });
    const b = await createGroup({});
    const ids = async (q: string) => (await h.call('GET', `/v3/groups?${q}`)).body.groups.map((g: { id: string }) => g.id);
    assert.deepEqual(await ids(`domain_id=${d.id}`), [a.id]);
    assert.deepEqual(await ids(`name=${b.name}`), [b.id]);
  });

  test('membership: add, check (GET and HEAD), list, remove', async () => {
    const group = await createGroup({});
    const users = [await createUser(), await createUser(), await createUser()];
    for (const u of users) assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
    assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${users[0].id}`)).status, 204);
    const members = await h.call('GET', `/v3/groups/${group.id}/users`);
    assert.equal(members.status, 200);
    conforms('UserList', members.body);
    const byName = (list: { name: string }[]) => [...list].sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(byName(members.body.users), byName(users));
    const filtered = await h.call('GET', `/v3/groups/${group.id}/users?name=${users[1].name}`);
    assert.deepEqual(filtered.body.users.map((u: { id: string }) => u.id), [users[1].id]);

    for (const u of users) {
      assert.equal((await h.call('HEAD', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
      assert.equal((await h.call('GET', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
      assert.equal((await h.call('DELETE', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
    }
    assert.deepEqual((await h.call('GET', `/v3/groups/${group.id}/users`)).body.users, []);
    const notMember = await h.call('GET', `/v3/groups/${group.id}/users/${users[0].id}`);
    assert.equal(notMember.status, 404);
    assert.equal(notMember.body.error.message, `User '${users[0].id}' not found in group '${group.id}'`);
    assert.equal((await h.call('HEAD', `/v3/groups/${group.id}/users/${users[0].id}`)).status, 404);
    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}/users/${users[0].id}`)).status, 404);
    const noUser = await h.call('PUT', `/v3/groups/${group.id}/users/${newId()}`);
    assert.equal(noUser.status, 404);
    assert.match(noUser.body.error.message, /Could not find user/);
    const noGroup = await h.call('PUT', `/v3/groups/${newId()}/users/${users[0].id}`);
    assert.equal(noGroup.status, 404);
    assert.match(noGroup.body.error.message, /Could not find group/);
    assert.equal((await h.call('GET', `/v3/groups/${newId()}/users`)).status, 404);
  });

  test('removing a user from a group revokes its tokens; deleting a group with grants revokes its members\'', async () => {
    const group = await createGroup({});
    const a = await createUser();
    const b = await createUser();
    for (const u of [a, b]) assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
    const tokenA = await tokenFor(a.id);
    const tokenB = await tokenFor(b.id);
    assert.equal((await h.call('GET', `/v3/users/${a.id}`, undefined, tokenA)).status, 200);
    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}/users/${a.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/users/${a.id}`, undefined, tokenA)).status, 401);
    assert.equal((await h.call('GET', `/v3/users/${b.id}`, undefined, tokenB)).status, 200);

    assert.equal((await h.call('PUT', `/v3/projects/${h.admin.projectId}/groups/${group.id}/roles/${h.admin.roleIds.member}`)).status, 204);
    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/users/${b.id}`, undefined, tokenB)).status, 401);
    assert.equal((await h.database.db('assignments').where({ actor_id: group.id })).length, 0);
    assert.equal((await h.database.db('user_group_membership').where({ group_id: group.id })).length, 0);
  });

  test('policy: no token 401; a member may not list, read or change groups', async () => {
    assert.equal((await h.call('GET', '/v3/groups', undefined, null)).status, 401);
    const group = await createGroup({});
    const me = await createUser();
    const token = await tokenFor(me.id);
    assert.equal((await h.call('GET', '/v3/groups', undefined, token)).status, 403);
    assert.equal((await h.call('GET', `/v3/groups/${group.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('POST', '/v3/groups', { group: { name: `n-${newId()}` } }, token)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/groups/${group.id}`, { group: { name: 'x' } }, token)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/groups/${group.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${me.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('GET', `/v3/groups/${group.id}/users`, undefined, token)).status, 403);
  });
});
