import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../lib/ids.ts';
import { hashPassword } from '../../lib/passwords.ts';
import type { Db } from '../../lib/db/index.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

async function addDomain(db: Db) {
  const id = newId();
  const name = `dom-${id.slice(0, 8)}`;
  await db('domains').insert({ id, name });
  return { id, name };
}
async function addProject(db: Db, domainId: string, parentId: string | null = null) {
  const id = newId();
  const name = `proj-${id.slice(0, 8)}`;
  await db('projects').insert({ id, name, domain_id: domainId, parent_id: parentId });
  return { id, name };
}
async function addUser(db: Db, domainId: string, password = 'pw') {
  const id = newId();
  const name = `user-${id.slice(0, 8)}`;
  await db('users').insert({ id, name, domain_id: domainId, password_hash: await hashPassword(password, 10) });
  return { id, name };
}
async function addGroup(db: Db, domainId: string, memberIds: string[] = []) {
  const id = newId();
  const name = `group-${id.slice(0, 8)}`;
  await db('groups').insert({ id, name, domain_id: domainId });
  for (const user_id of memberIds) await db('user_group_membership').insert({ user_id, group_id: id });
  return { id, name };
}

type Assignment = {
  role: { id: string; name?: string };
  user?: { id: string };
  group?: { id: string };
  scope: Record<string, any>;
  links: Record<string, string>;
};

describe('grants and /v3/role_assignments', () => {
  let h: IdentityHarness;
  let db: Db;
  let role: { id: string; name: string };
  before(async () => {
    h = await startIdentity();
    db = h.database.db;
    role = (await h.call('POST', '/v3/roles', { role: { name: `tester-${newId()}` } })).body.role;
  });
  after(() => h.close());

  const listAssignments = async (query: string) => {
    const r = await h.call('GET', `/v3/role_assignments${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    conforms('RoleAssignmentList', r.body);
    return r.body.role_assignments as Assignment[];
  };

  test('user and group grants on a project, a domain and the system: PUT 204, HEAD/GET 204, list, DELETE 204', async () => {
    const dom = await addDomain(db);
    const project = await addProject(db, dom.id);
    const user = await addUser(db, dom.id);
    const group = await addGroup(db, dom.id);
    const bases = [
      `/v3/projects/${project.id}/users/${user.id}/roles`,
      `/v3/projects/${project.id}/groups/${group.id}/roles`,
      `/v3/domains/${dom.id}/users/${user.id}/roles`,
      `/v3/domains/${dom.id}/groups/${group.id}/roles`,
      `/v3/system/users/${user.id}/roles`,
      `/v3/system/groups/${group.id}/roles`,
    ];
    for (const base of bases) {
      assert.equal((await h.call('HEAD', `${base}/${role.id}`)).status, 404, base);
      assert.equal((await h.call('PUT', `${base}/${role.id}`)).status, 204, base);
      assert.equal((await h.call('PUT', `${base}/${role.id}`)).status, 204, `${base} again`);
      assert.equal((await h.call('HEAD', `${base}/${role.id}`)).status, 204, base);
      assert.equal((await h.call('GET', `${base}/${role.id}`)).status, 204, base);
      const list = await h.call('GET', base);
      assert.equal(list.status, 200);
      conforms('GrantRoleList', list.body);
      assert.deepEqual(list.body.roles.map((r: { id: string }) => r.id), [role.id]);
      assert.equal(list.body.roles[0].name, role.name);
      assert.ok(list.body.links.self.endsWith(base));
    }
    const direct = await listAssignments(`?user.id=${user.id}`);
    assert.equal(direct.length, 3);
    const sys = direct.find((a) => a.scope.system);
    assert.deepEqual(sys, {
      role: { id: role.id },
      user: { id: user.id },
      scope: { system: { all: true } },
      links: { assignment: `http://localhost:80/v3/system/users/${user.id}/roles/${role.id}` },
    });
    for (const base of bases) {
      assert.equal((await h.call('DELETE', `${base}/${role.id}`)).status, 204, base);
      assert.equal((await h.call('DELETE', `${base}/${role.id}`)).status, 404, base);
      assert.equal((await h.call('GET', base)).body.roles.length, 0);
    }
  });

  test('unknown user, group, project, domain or role: 404', async () => {
    const project = await addProject(db, 'default');
    const user = await addUser(db, 'default');
    const missing = newId();
    for (const url of [
      `/v3/projects/${project.id}/users/${missing}/roles/${role.id}`,
      `/v3/projects/${project.id}/groups/${missing}/roles/${role.id}`,
      `/v3/projects/${missing}/users/${user.id}/roles/${role.id}`,
      `/v3/domains/${missing}/users/${user.id}/roles/${role.id}`,
      `/v3/projects/${project.id}/users/${user.id}/roles/${missing}`,
      `/v3/system/users/${missing}/roles/${role.id}`,
    ]) {
      const r = await h.call('PUT', url);
      assert.equal(r.status, 404, url);
      assert.match(r.body.error.message, /Could not find/);
    }
  });

  test('a domain-specific role is granted only on projects of its domain and never reaches a token or the effective list', async () => {
    const other = await addDomain(db);
    const project = await addProject(db, 'default');
    const foreign = await addProject(db, other.id);
    const user = await addUser(db, 'default');
    const domainRole = (await h.call('POST', '/v3/roles', { role: { name: `dr-${newId()}`, domain_id: 'default' } })).body.role;
    assert.equal((await h.call('PUT', `/v3/projects/${foreign.id}/users/${user.id}/roles/${domainRole.id}`)).status, 403);
    assert.equal((await h.call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${domainRole.id}`)).status, 204);
    assert.deepEqual(await listAssignments(`?scope.project.id=${project.id}&user.id=${user.id}&effective`), []);
    // But what it implies does reach them.
    await h.call('PUT', `/v3/roles/${domainRole.id}/implies/${role.id}`);
    const eff = await listAssignments(`?scope.project.id=${project.id}&user.id=${user.id}&effective`);
    assert.deepEqual(eff.map((a) => a.role.id), [role.id]);
  });

  test('effective role assignments expand a group grant into its members and add implied roles', async () => {
    const dom = await addDomain(db);
    const project = await addProject(db, dom.id);
    const u1 = await addUser(db, dom.id);
    const u2 = await addUser(db, dom.id);
    const group = await addGroup(db, dom.id, [u1.id, u2.id]);
    const member = h.admin.roleIds.member;
    const reader = h.admin.roleIds.reader;
    await h.call('PUT', `/v3/projects/${project.id}/groups/${group.id}/roles/${member}`);

    const direct = await listAssignments(`?scope.project.id=${project.id}`);
    assert.deepEqual(direct, [
      {
        role: { id: member },
        group: { id: group.id },
        scope: { project: { id: project.id } },
        links: { assignment: `http://localhost:80/v3/projects/${project.id}/groups/${group.id}/roles/${member}` },
      },
    ]);

    const eff = await listAssignments(`?scope.project.id=${project.id}&effective`);
    assert.equal(eff.length, 4);
    for (const u of [u1, u2]) {
      const mine = eff.filter((a) => a.user?.id === u.id);
      assert.deepEqual(mine.map((a) => a.role.id).sort(), [member, reader].sort());
      const viaGroup = mine.find((a) => a.role.id === member)!;
      assert.equal(viaGroup.links.assignment, `http://localhost:80/v3/projects/${project.id}/groups/${group.id}/roles/${member}`);
      assert.equal(viaGroup.links.membership, `http://localhost:80/v3/groups/${group.id}/users/${u.id}`);
      const implied = mine.find((a) => a.role.id === reader)!;
      assert.equal(implied.links.assignment, `http://localhost:80/v3/projects/${project.id}/groups/${group.id}/roles/${member}`);
      assert.ok(implied.links.prior_role);
      assert.equal(implied.group, undefined);
    }
    const one = await listAssignments(`?user.id=${u1.id}&effective&role.id=${reader}`);
    assert.equal(one.length, 1);
    assert.deepEqual(one[0].scope, { project: { id: project.id } });

    const named = await listAssignments(`?user.id=${u1.id}&effective&include_names`);
    const n = named.find((a) => a.role.id === member)!;
    assert.deepEqual(n.role, { id: member, name: 'member' });
    assert.deepEqual(n.scope.project, { id: project.id, name: project.name, domain: { id: dom.id, name: dom.name } });
    assert.deepEqual((n as any).user, { id: u1.id, name: u1.name, domain: { id: dom.id, name: dom.name } });
  });

  test('inherited grants: listed with OS-INHERIT:inherited_to, and effective on the projects below', async () => {
    const dom = await addDomain(db);
    const parent = await addProject(db, dom.id);
    const child = await addProject(db, dom.id, parent.id);
    const user = await addUser(db, dom.id);
    const url = `/v3/OS-INHERIT/domains/${dom.id}/users/${user.id}/roles/${role.id}/inherited_to_projects`;
    assert.equal((await h.call('PUT', url)).status, 204);
    assert.equal((await h.call('HEAD', url)).status, 204);
    const list = await h.call('GET', `/v3/OS-INHERIT/domains/${dom.id}/users/${user.id}/roles/inherited_to_projects`);
    assert.deepEqual(list.body.roles.map((r: { id: string }) => r.id), [role.id]);
    // Not a direct domain grant.
    assert.equal((await h.call('GET', `/v3/domains/${dom.id}/users/${user.id}/roles`)).body.roles.length, 0);

    const direct = await listAssignments(`?user.id=${user.id}`);
    assert.deepEqual(direct, [
      {
        role: { id: role.id },
        user: { id: user.id },
        scope: { domain: { id: dom.id }, 'OS-INHERIT:inherited_to': 'projects' },
        links: { assignment: `http://localhost:80/v3/OS-INHERIT/domains/${dom.id}/users/${user.id}/roles/${role.id}/inherited_to_projects` },
      },
    ]);
    const eff = await listAssignments(`?user.id=${user.id}&effective`);
    assert.deepEqual(eff.map((a) => a.scope.project.id).sort(), [parent.id, child.id].sort());
    for (const a of eff) assert.equal(a.scope['OS-INHERIT:inherited_to'], 'projects');
    const onChild = await listAssignments(`?user.id=${user.id}&scope.project.id=${child.id}&effective`);
    assert.equal(onChild.length, 1);

    const projectUrl = `/v3/OS-INHERIT/projects/${parent.id}/users/${user.id}/roles/${h.admin.roleIds.reader}/inherited_to_projects`;
    assert.equal((await h.call('PUT', projectUrl)).status, 204);
    const below = await listAssignments(`?user.id=${user.id}&role.id=${h.admin.roleIds.reader}&effective`);
    assert.deepEqual(below.map((a) => a.scope.project.id), [child.id]);
    const tree = await listAssignments(`?scope.project.id=${parent.id}&include_subtree=true&user.id=${user.id}&effective`);
    assert.ok(tree.some((a) => a.scope.project.id === child.id && a.role.id === h.admin.roleIds.reader));
    assert.equal((await h.call('DELETE', projectUrl)).status, 204);
    assert.equal((await h.call('DELETE', url)).status, 204);
    assert.deepEqual(await listAssignments(`?user.id=${user.id}&effective`), []);
  });

  test('filters: scope.system, role.id, group.id; contradictions are 400', async () => {
    const sys = await listAssignments('?scope.system=all');
    assert.ok(sys.some((a) => a.user?.id === h.admin.userId && a.role.id === h.admin.roleIds.admin));
    assert.ok(sys.every((a) => a.scope.system));
    const admins = await listAssignments(`?role.id=${h.admin.roleIds.admin}`);
    assert.ok(admins.some((a) => a.scope.project?.id === h.admin.projectId));
    for (const q of [
      '?scope.project.id=a&scope.domain.id=b',
      '?scope.system=all&scope.domain.id=b',
      '?scope.system=all&scope.project.id=a',
      '?user.id=a&group.id=b',
      '?group.id=b&effective',
      '?scope.domain.id=b&scope.OS-INHERIT:inherited_to=projects&effective',
      '?include_subtree=true',
    ]) {
      const r = await h.call('GET', `/v3/role_assignments${q}`);
      assert.equal(r.status, 400, q);
    }
  });

  test('revoking a group grant revokes the members\' tokens on that project', async () => {
    const project = await addProject(db, 'default');
    const user = await addUser(db, 'default', 'pw');
    const group = await addGroup(db, 'default', [user.id]);
    await h.call('PUT', `/v3/projects/${project.id}/groups/${group.id}/roles/${h.admin.roleIds.member}`);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: 'pw' } } }, scope: { project: { id: project.id } } },
    }, null);
    assert.equal(t.status, 201);
    const token = t.headers['x-subject-token'];
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, token)).status, 200);
    assert.equal((await h.call('DELETE', `/v3/projects/${project.id}/groups/${group.id}/roles/${h.admin.roleIds.member}`)).status, 204);
    assert.equal((await h.call('GET', '/v3/auth/catalog', undefined, token)).status, 401);
  });

  test('a project member cannot grant roles: 403', async () => {
    const user = await addUser(db, 'default', 'pw');
    await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${user.id}/roles/${h.admin.roleIds.member}`);
    const t = await h.call('POST', '/v3/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: 'pw' } } }, scope: { project: { id: h.admin.projectId } } },
    }, null);
    const token = t.headers['x-subject-token'];
    const r = await h.call('PUT', `/v3/projects/${h.admin.projectId}/users/${user.id}/roles/${h.admin.roleIds.admin}`, undefined, token);
    assert.equal(r.status, 403);
  });
});
