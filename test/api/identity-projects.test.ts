import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/projects', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  const createProject = async (project: Record<string, unknown>) => {
    const r = await h.call('POST', '/v3/projects', { project: { name: `p-${newId()}`, ...project } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('ProjectShow', r.body);
    return r.body.project;
  };
  const createDomain = async () => (await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } })).body.domain;

  const memberToken = async (projectId: string, roles = ['member', 'reader']) => {
    const user = (await h.call('POST', '/v3/users', { user: { name: `m-${newId()}` } })).body.user;
    const { token } = await h.tokens.issue({
      user_id: user.id,
      user_domain_id: 'default',
      methods: ['password'],
      scope: { type: 'project', project_id: projectId, domain_id: 'default' },
      roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
      expires_at: new Date(Date.now() + 3600_000),
    });
    return token;
  };

  test('create, show, list, update and delete a project', async () => {
    const project = await createProject({ description: 'desc', tags: ['b', 'a'], custom: 'kept' });
    assert.deepEqual(Object.keys(project).sort(), [
      'custom', 'description', 'domain_id', 'enabled', 'id', 'is_domain', 'links', 'name', 'options', 'parent_id', 'tags',
    ]);
    assert.equal(project.domain_id, 'default');
    assert.equal(project.parent_id, 'default');
    assert.equal(project.is_domain, false);
    assert.equal(project.enabled, true);
    assert.equal(project.custom, 'kept');
    assert.deepEqual(project.tags, ['a', 'b']);
    assert.match(project.links.self, new RegExp(`/v3/projects/${project.id}$`));

    const shown = await h.call('GET', `/v3/projects/${project.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.project, project);
    const list = await h.call('GET', '/v3/projects');
    assert.equal(list.status, 200);
    conforms('ProjectList', list.body);
    assert.deepEqual(list.body.projects.find((p: { id: string }) => p.id === project.id), project);
    assert.deepEqual({ previous: list.body.links.previous, next: list.body.links.next }, { previous: null, next: null });

    const updated = await h.call('PATCH', `/v3/projects/${project.id}`, { project: { name: `${project.name}-2`, description: null, enabled: false } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    conforms('ProjectShow', updated.body);
    assert.equal(updated.body.project.name, `${project.name}-2`);
    assert.equal(updated.body.project.description, '');
    assert.equal(updated.body.project.enabled, false);
    assert.deepEqual(updated.body.project.tags, ['a', 'b']);
    assert.deepEqual((await h.call('GET', `/v3/projects/${project.id}`)).body.project, updated.body.project);

    assert.equal((await h.call('DELETE', `/v3/projects/${project.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/projects/${project.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find project: ${project.id}.`);
    assert.equal((await h.call('DELETE', `/v3/projects/${project.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/projects/${project.id}`, { project: { name: 'x' } })).status, 404);
  });

  test('bad input is a 400 naming the field; duplicates are 409', async () => {
    const cases: [unknown, RegExp][] = [
      [{ project: { description: 'x' } }, /project\/name/],
      [{}, /'project'/],
      [{ project: { name: '' } }, /project\/name/],
      [{ project: { name: 'a'.repeat(65) } }, /project\/name/],
      [{ project: { name: 'x', enabled: 'true' } }, /project\/enabled/],
      [{ project: { name: 'x', tags: ['a,b'] } }, /project\/tags\/0/],
      [{ project: { name: 'x', tags: ['a', 'a'] } }, /project\/tags/],
      [{ project: { name: 'x', tags: Array.from({ length: 81 }, (_, i) => `t${i}`) } }, /project\/tags/],
      [{ project: { name: 'x', domain_id: 5 } }, /project\/domain_id/],
      [{ project: { name: 'x' }, other: 1 }, /other/],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/v3/projects', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    assert.equal((await h.call('POST', '/v3/projects', { project: { name: 'x', is_domain: true } })).status, 400);
    assert.equal((await h.call('POST', '/v3/projects', { project: { name: 'x', domain_id: newId() } })).status, 400);
    assert.equal((await h.call('POST', '/v3/projects', { project: { name: 'x', parent_id: newId() } })).status, 400);

    const name = `dup-${newId()}`;
    const p = await createProject({ name });
    const dup = await h.call('POST', '/v3/projects', { project: { name } });
    assert.equal(dup.status, 409);
    assert.match(dup.body.error.message, /^Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name/);
    const other = await createProject({});
    assert.equal((await h.call('PATCH', `/v3/projects/${other.id}`, { project: { name } })).status, 409);
    // Same name in another domain is fine.
    const d = await createDomain();
    assert.equal((await createProject({ name, domain_id: d.id })).domain_id, d.id);

    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: {} })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { domain_id: d.id } })).status, 400);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { parent_id: other.id } })).status, 403);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { parent_id: 'default' } })).status, 200);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { is_domain: true } })).status, 400);
  });

  test('hierarchy: parent_id, disabled branches, depth, leaf-only delete, parents/subtree as ids', async () => {
    const d = await createDomain();
    const a = await createProject({ domain_id: d.id });
    assert.equal(a.parent_id, d.id);
    const b = await createProject({ domain_id: d.id, parent_id: a.id });
    const c = await createProject({ domain_id: d.id, parent_id: b.id });
    const e = await createProject({ domain_id: d.id, parent_id: b.id });
    assert.equal(c.parent_id, b.id);
    // A parent in another domain (the token's default domain is used when none is given).
    const crossed = await h.call('POST', '/v3/projects', { project: { name: 'x', parent_id: a.id } });
    assert.equal(crossed.status, 400);
    assert.match(crossed.body.error.message, /parent in a different domain/);

    const parents = await h.call('GET', `/v3/projects/${c.id}?parents_as_ids`);
    assert.deepEqual(parents.body.project.parents, { [b.id]: { [a.id]: { [d.id]: null } } });
    const subtree = await h.call('GET', `/v3/projects/${a.id}?subtree_as_ids=1`);
    assert.deepEqual(subtree.body.project.subtree, { [b.id]: { [c.id]: null, [e.id]: null } });
    assert.equal((await h.call('GET', `/v3/projects/${a.id}?subtree_as_ids=0`)).body.project.subtree, undefined);
    assert.equal((await h.call('GET', `/v3/projects/${c.id}?subtree_as_ids`)).body.project.subtree, null);
    // The _as_list forms show only the projects the caller has a role on.
    for (const p of [a, c]) {
      assert.equal((await h.call('PUT', `/v3/projects/${p.id}/users/${h.admin.userId}/roles/${h.admin.roleIds.member}`)).status, 204);
    }
    const parentList = await h.call('GET', `/v3/projects/${c.id}?parents_as_list`);
    assert.deepEqual(parentList.body.project.parents, [{ project: a }]);
    const subtreeList = await h.call('GET', `/v3/projects/${a.id}?subtree_as_list`);
    assert.deepEqual(subtreeList.body.project.subtree.map((x: { project: { id: string } }) => x.project.id), [c.id]);
    assert.equal((await h.call('GET', `/v3/projects/${a.id}?subtree_as_list&subtree_as_ids`)).status, 400);
    assert.equal((await h.call('GET', `/v3/projects/${a.id}?parents_as_list&parents_as_ids`)).status, 400);

    const children = await h.call('GET', `/v3/projects?parent_id=${b.id}`);
    assert.deepEqual(children.body.projects.map((p: { id: string }) => p.id).sort(), [c.id, e.id].sort());
    const top = await h.call('GET', `/v3/projects?parent_id=${d.id}`);
    assert.deepEqual(top.body.projects.map((p: { id: string }) => p.id), [a.id]);

    const notLeaf = await h.call('DELETE', `/v3/projects/${b.id}`);
    assert.equal(notLeaf.status, 403);
    assert.match(notLeaf.body.error.message, /not a leaf/);

    const cannotDisable = await h.call('PATCH', `/v3/projects/${b.id}`, { project: { enabled: false } });
    assert.equal(cannotDisable.status, 403);
    assert.match(cannotDisable.body.error.message, /subtree contains enabled projects/);
    for (const p of [c, e, b]) assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { enabled: false } })).status, 200);
    const underDisabled = await h.call('POST', '/v3/projects', { project: { name: 'x', domain_id: d.id, parent_id: b.id } });
    assert.equal(underDisabled.status, 400);
    assert.match(underDisabled.body.error.message, /branch containing a disabled project/);
    const enableChild = await h.call('PATCH', `/v3/projects/${c.id}`, { project: { enabled: true } });
    assert.equal(enableChild.status, 403);
    assert.match(enableChild.body.error.message, /disabled parents/);

    // Depth: a top-level project is at depth 1; 5 is the most.
    let parent = await createProject({ domain_id: d.id });
    for (let depth = 2; depth <= 5; depth++) parent = await createProject({ domain_id: d.id, parent_id: parent.id });
    const tooDeep = await h.call('POST', '/v3/projects', { project: { name: 'deep', domain_id: d.id, parent_id: parent.id } });
    assert.equal(tooDeep.status, 403);
    assert.match(tooDeep.body.error.message, /Max hierarchy depth/);

    for (const p of [c, e, b, a]) assert.equal((await h.call('DELETE', `/v3/projects/${p.id}`)).status, 204);
  });

  test('list filters: name, domain_id, enabled, is_domain and tags', async () => {
    const d = await createDomain();
    const p1 = await createProject({ domain_id: d.id, tags: ['red', 'blue'] });
    const p2 = await createProject({ domain_id: d.id, tags: ['red'], enabled: false });
    const p3 = await createProject({ domain_id: d.id, tags: ['green'] });
    const ids = async (query: string) =>
      (await h.call('GET', `/v3/projects?domain_id=${d.id}&${query}`)).body.projects.map((p: { id: string }) => p.id).sort();
    assert.deepEqual(await ids(''), [p1.id, p2.id, p3.id].sort());
    assert.deepEqual(await ids(`name=${p1.name}`), [p1.id]);
    assert.deepEqual(await ids('enabled=false'), [p2.id]);
    assert.deepEqual(await ids('enabled=true'), [p1.id, p3.id].sort());
    assert.deepEqual(await ids('is_domain=false'), [p1.id, p2.id, p3.id].sort());
    assert.deepEqual(await ids('is_domain=true'), []);
    assert.deepEqual(await ids('tags=red,blue'), [p1.id]);
    assert.deepEqual(await ids('tags=red'), [p1.id, p2.id].sort());
    assert.deepEqual(await ids('tags-any=blue,green'), [p1.id, p3.id].sort());
    assert.deepEqual(await ids('not-tags=red,blue'), [p2.id, p3.id].sort());
    assert.deepEqual(await ids('not-tags-any=red,green'), []);
    assert.deepEqual(await ids('not-tags-any=blue'), [p2.id, p3.id].sort());
  });

  test('tags: list, replace, add, check, remove one, remove all', async () => {
    const p = await createProject({});
    const base = `/v3/projects/${p.id}/tags`;
    const empty = await h.call('GET', base);
    assert.equal(empty.status, 200);
    conforms('ProjectTags', empty.body);
    assert.deepEqual(empty.body.tags, []);
    const add = await h.call('PUT', `${base}/one`);
    assert.equal(add.status, 201);
    assert.match(add.headers.location, new RegExp(`/v3/projects/${p.id}/tags/one$`));
    assert.equal((await h.call('PUT', `${base}/one`)).status, 201);
    assert.equal((await h.call('GET', `${base}/one`)).status, 204);
    assert.equal((await h.call('GET', `${base}/two`)).status, 404);
    const replaced = await h.call('PUT', base, { tags: ['x', 'y', 'z'] });
    assert.equal(replaced.status, 200);
    assert.deepEqual(replaced.body.tags, ['x', 'y', 'z']);
    assert.deepEqual((await h.call('GET', base)).body.tags, ['x', 'y', 'z']);
    assert.deepEqual((await h.call('GET', `/v3/projects/${p.id}`)).body.project.tags, ['x', 'y', 'z']);
    assert.equal((await h.call('DELETE', `${base}/x`)).status, 204);
    assert.equal((await h.call('GET', `${base}/x`)).status, 404);
    assert.equal((await h.call('DELETE', `${base}/x`)).status, 404);
    assert.equal((await h.call('DELETE', base)).status, 204);
    assert.deepEqual((await h.call('GET', base)).body.tags, []);
    assert.equal((await h.call('PUT', base, { tags: ['a/b'] })).status, 400);
    assert.equal((await h.call('PUT', base, {})).status, 400);
    assert.equal((await h.call('PUT', `${base}/a,b`)).status, 400);
    assert.equal((await h.call('PUT', base, { tags: Array.from({ length: 80 }, (_, i) => `t${i}`) })).status, 200);
    assert.equal((await h.call('PUT', `${base}/one-too-many`)).status, 400);
    assert.equal((await h.call('GET', `/v3/projects/${newId()}/tags`)).status, 404);
  });

  test('immutable projects refuse updates, tag changes and deletion until cleared', async () => {
    const p = await createProject({ options: { immutable: true } });
    assert.deepEqual(p.options, { immutable: true });
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { description: 'x' } })).status, 403);
    assert.equal((await h.call('PUT', `/v3/projects/${p.id}/tags/t`)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/projects/${p.id}`)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { options: { immutable: false } } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/projects/${p.id}`)).status, 204);
  });

  test('disabling or deleting a project revokes the tokens scoped to it; deleting removes its grants', async () => {
    const p = await createProject({});
    const token = await memberToken(p.id);
    assert.equal((await h.call('GET', `/v3/projects/${p.id}`, undefined, token)).status, 200);
    assert.equal((await h.call('PATCH', `/v3/projects/${p.id}`, { project: { enabled: false } })).status, 200);
    assert.equal((await h.call('GET', `/v3/projects/${p.id}`, undefined, token)).status, 401);

    const q = await createProject({});
    const user = (await h.call('POST', '/v3/users', { user: { name: `u-${newId()}`, default_project_id: q.id } })).body.user;
    assert.equal((await h.call('PUT', `/v3/projects/${q.id}/users/${user.id}/roles/${h.admin.roleIds.member}`)).status, 204);
    const token2 = await memberToken(q.id);
    assert.equal((await h.call('DELETE', `/v3/projects/${q.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, token2)).status, 401);
    assert.equal((await h.database.db('assignments').where({ target_id: q.id })).length, 0);
    assert.equal((await h.call('GET', `/v3/users/${user.id}`)).body.user.default_project_id, undefined);
  });

  test('policy: no token 401; a member sees its own project but not others, and cannot change them', async () => {
    assert.equal((await h.call('GET', '/v3/projects', undefined, null)).status, 401);
    const mine = await createProject({});
    const other = await createProject({});
    const token = await memberToken(mine.id);
    assert.equal((await h.call('GET', '/v3/projects', undefined, token)).status, 403);
    assert.equal((await h.call('GET', `/v3/projects/${mine.id}`, undefined, token)).status, 200);
    assert.equal((await h.call('GET', `/v3/projects/${mine.id}/tags`, undefined, token)).status, 200);
    assert.equal((await h.call('GET', `/v3/projects/${other.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('GET', `/v3/projects/${newId()}`, undefined, token)).status, 403);
    assert.equal((await h.call('POST', '/v3/projects', { project: { name: `n-${newId()}` } }, token)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/projects/${mine.id}`, { project: { description: 'x' } }, token)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/projects/${mine.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('PUT', `/v3/projects/${mine.id}/tags/t`, undefined, token)).status, 403);
  });

  test('a domain-scoped token lists the projects of its domain and creates projects there', async () => {
    const d = await createDomain();
    const inside = await createProject({ domain_id: d.id });
    const user = (await h.call('POST', '/v3/users', { user: { name: `u-${newId()}`, domain_id: d.id } })).body.user;
    const { token } = await h.tokens.issue({
      user_id: user.id,
      user_domain_id: d.id,
      methods: ['password'],
      scope: { type: 'domain', domain_id: d.id },
      roles: [{ id: h.admin.roleIds.admin, name: 'admin' }],
      expires_at: new Date(Date.now() + 3600_000),
    });
    const list = await h.call('GET', '/v3/projects', undefined, token);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.projects.map((p: { id: string }) => p.id), [inside.id]);
    const made = await h.call('POST', '/v3/projects', { project: { name: `n-${newId()}` } }, token);
    assert.equal(made.status, 201);
    assert.equal(made.body.project.domain_id, d.id);
  });
});
