import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/domains', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  const createDomain = async (domain: Record<string, unknown>) => {
    const r = await h.call('POST', '/v3/domains', { domain });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('DomainShow', r.body);
    return r.body.domain;
  };

  const tokenFor = async (userId: string, scope: { type: 'project'; project_id: string; domain_id: string } | { type: 'domain'; domain_id: string }, roles: string[]) => {
    const { token } = await h.tokens.issue({
      user_id: userId,
      user_domain_id: scope.domain_id,
      methods: ['password'],
      scope,
      roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
      expires_at: new Date(Date.now() + 3600_000),
    });
    return token;
  };

  test('create, show, list, update and delete a domain', async () => {
    const name = `d-${newId()}`;
    const domain = await createDomain({ name });
    assert.deepEqual(Object.keys(domain).sort(), ['description', 'enabled', 'id', 'links', 'name', 'options', 'tags']);
    assert.equal(domain.description, '');
    assert.equal(domain.enabled, true);
    assert.deepEqual(domain.tags, []);
    assert.match(domain.id, /^[0-9a-f]{32}$/);
    assert.match(domain.links.self, new RegExp(`/v3/domains/${domain.id}$`));

    const shown = await h.call('GET', `/v3/domains/${domain.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.domain, domain);

    const list = await h.call('GET', '/v3/domains');
    assert.equal(list.status, 200);
    conforms('DomainList', list.body);
    assert.deepEqual(list.body.domains.find((d: { id: string }) => d.id === domain.id), domain);
    assert.ok(list.body.domains.some((d: { id: string }) => d.id === 'default'));
    assert.deepEqual({ previous: list.body.links.previous, next: list.body.links.next }, { previous: null, next: null });

    const updated = await h.call('PATCH', `/v3/domains/${domain.id}`, { domain: { name: `${name}-2`, description: 'new', tags: ['a', 'b'] } });
    assert.equal(updated.status, 200);
    conforms('DomainShow', updated.body);
    assert.equal(updated.body.domain.name, `${name}-2`);
    assert.equal(updated.body.domain.description, 'new');
    assert.deepEqual(updated.body.domain.tags, ['a', 'b']);
    assert.deepEqual((await h.call('GET', `/v3/domains/${domain.id}`)).body.domain, updated.body.domain);

    const enabledDelete = await h.call('DELETE', `/v3/domains/${domain.id}`);
    assert.equal(enabledDelete.status, 403);
    assert.equal(enabledDelete.body.error.message, 'Cannot delete a domain that is enabled, please disable it first.');
    assert.equal((await h.call('PATCH', `/v3/domains/${domain.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/domains/${domain.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/domains/${domain.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find domain: ${domain.id}.`);
    assert.equal((await h.call('DELETE', `/v3/domains/${domain.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/domains/${domain.id}`, { domain: { enabled: true } })).status, 404);
  });

  test('created disabled, with a description, with an explicit id', async () => {
    const disabled = await createDomain({ name: `d-${newId()}`, enabled: false, description: 'desc' });
    assert.equal(disabled.enabled, false);
    assert.equal(disabled.description, 'desc');
    const id = newId();
    assert.equal((await createDomain({ name: `d-${newId()}`, explicit_domain_id: id })).id, id);
    assert.equal((await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}`, explicit_domain_id: id } })).status, 409);
    assert.equal((await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}`, explicit_domain_id: 'not-a-uuid' } })).status, 400);
  });

  test('list filters: name and enabled', async () => {
    const on = await createDomain({ name: `on-${newId()}` });
    const off = await createDomain({ name: `off-${newId()}`, enabled: false });
    const byName = await h.call('GET', `/v3/domains?name=${on.name}`);
    assert.deepEqual(byName.body.domains, [on]);
    const enabled = (await h.call('GET', '/v3/domains?enabled=true')).body.domains;
    assert.ok(enabled.some((d: { id: string }) => d.id === on.id));
    assert.ok(enabled.every((d: { enabled: boolean }) => d.enabled));
    const disabled = (await h.call('GET', '/v3/domains?enabled=0')).body.domains;
    assert.ok(disabled.some((d: { id: string }) => d.id === off.id));
    assert.ok(disabled.every((d: { enabled: boolean }) => !d.enabled));
  });

  test('bad input is a 400 naming the field; a duplicate name is 409', async () => {
    const cases: [unknown, RegExp][] = [
      [{ domain: {} }, /domain\/name/],
      [{}, /'domain'/],
      [{ domain: { name: '' } }, /domain\/name/],
      [{ domain: { name: 'a'.repeat(65) } }, /domain\/name/],
      [{ domain: { name: 'x', enabled: 'false' } }, /domain\/enabled/],
      [{ domain: { name: 'x', tags: ['a/b'] } }, /domain\/tags\/0/],
      [{ domain: { name: 'x' }, bogus: true }, /bogus/],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/v3/domains', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    const name = `dup-${newId()}`;
    const d = await createDomain({ name });
    const dup = await h.call('POST', '/v3/domains', { domain: { name } });
    assert.equal(dup.status, 409);
    assert.match(dup.body.error.message, /Conflict occurred attempting to store project/);
    const other = await createDomain({ name: `o-${newId()}` });
    assert.equal((await h.call('PATCH', `/v3/domains/${other.id}`, { domain: { name } })).status, 409);
    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: {} })).status, 400);
  });

  test('immutable: only clearing the option is allowed, delete is refused', async () => {
    const d = await createDomain({ name: `imm-${newId()}`, options: { immutable: true }, enabled: false });
    assert.deepEqual(d.options, { immutable: true });
    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { description: 'x' } })).status, 403);
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`)).status, 403);
    const cleared = await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { options: { immutable: null } } });
    assert.equal(cleared.status, 200);
    assert.deepEqual(cleared.body.domain.options, {});
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`)).status, 204);
  });

  test('deleting a domain deletes its projects, users, groups and domain roles', async () => {
    const d = await createDomain({ name: `c-${newId()}` });
    const parent = (await h.call('POST', '/v3/projects', { project: { name: 'p', domain_id: d.id } })).body.project;
    const child = (await h.call('POST', '/v3/projects', { project: { name: 'c', domain_id: d.id, parent_id: parent.id } })).body.project;
    const user = (await h.call('POST', '/v3/users', { user: { name: 'u', domain_id: d.id } })).body.user;
    const group = (await h.call('POST', '/v3/groups', { group: { name: 'g', domain_id: d.id } })).body.group;
    const role = (await h.call('POST', '/v3/roles', { role: { name: 'r', domain_id: d.id } })).body.role;
    const outsider = (await h.call('POST', '/v3/users', { user: { name: `o-${newId()}`, default_project_id: child.id } })).body.user;
    assert.equal((await h.call('PUT', `/v3/groups/${group.id}/users/${user.id}`)).status, 204);
    assert.equal((await h.call('PUT', `/v3/projects/${child.id}/users/${outsider.id}/roles/${h.admin.roleIds.member}`)).status, 204);
    assert.equal((await h.call('PUT', `/v3/domains/${d.id}/users/${user.id}/roles/${h.admin.roleIds.member}`)).status, 204);

    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`)).status, 204);
    for (const url of [`/v3/domains/${d.id}`, `/v3/projects/${parent.id}`, `/v3/projects/${child.id}`, `/v3/users/${user.id}`, `/v3/groups/${group.id}`, `/v3/roles/${role.id}`]) {
      assert.equal((await h.call('GET', url)).status, 404, url);
    }
    const left = (await h.call('GET', `/v3/users/${outsider.id}`)).body.user;
    assert.equal(left.default_project_id, undefined);
    const db = h.database.db;
    assert.equal((await db('assignments').whereIn('target_id', [d.id, parent.id, child.id])).length, 0);
  });

  test('disabling a domain revokes the tokens of its users and of scopes in it', async () => {
    const d = await createDomain({ name: `rv-${newId()}` });
    const project = (await h.call('POST', '/v3/projects', { project: { name: 'p', domain_id: d.id } })).body.project;
    const user = (await h.call('POST', '/v3/users', { user: { name: 'u', domain_id: d.id } })).body.user;
    const projectToken = await tokenFor(user.id, { type: 'project', project_id: project.id, domain_id: d.id }, ['member', 'reader']);
    const domainToken = await tokenFor(user.id, { type: 'domain', domain_id: d.id }, ['admin', 'member', 'reader']);
    assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, projectToken)).status, 200);
    assert.equal((await h.call('GET', `/v3/domains/${d.id}`, undefined, domainToken)).status, 200);
    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await h.call('GET', `/v3/users/${user.id}`, undefined, projectToken)).status, 401);
    assert.equal((await h.call('GET', `/v3/domains/${d.id}`, undefined, domainToken)).status, 401);
    // The administrator (another domain) is unaffected.
    assert.equal((await h.call('GET', `/v3/domains/${d.id}`)).status, 200);
  });

  test('policy: no token is 401; a member may read its own domain only; a domain-scoped token lists its own', async () => {
    assert.equal((await h.call('GET', '/v3/domains', undefined, null)).status, 401);
    assert.equal((await h.call('POST', '/v3/domains', { domain: { name: 'x' } }, null)).status, 401);
    const other = await createDomain({ name: `other-${newId()}` });
    const member = (await h.call('POST', '/v3/users', { user: { name: `m-${newId()}` } })).body.user;
    const token = await tokenFor(member.id, { type: 'project', project_id: h.admin.projectId, domain_id: 'default' }, ['member', 'reader']);
    assert.equal((await h.call('GET', '/v3/domains', undefined, token)).status, 403);
    assert.equal((await h.call('GET', '/v3/domains/default', undefined, token)).status, 200);
    assert.equal((await h.call('GET', `/v3/domains/${other.id}`, undefined, token)).status, 403);
    assert.equal((await h.call('GET', `/v3/domains/${newId()}`, undefined, token)).status, 403);
    assert.equal((await h.call('POST', '/v3/domains', { domain: { name: `n-${newId()}` } }, token)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/domains/${other.id}`, { domain: { description: 'x' } }, token)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/domains/${other.id}`, undefined, token)).status, 403);

    const domainAdmin = await tokenFor(member.id, { type: 'domain', domain_id: other.id }, ['admin', 'member', 'reader']);
    const mine = await h.call('GET', '/v3/domains', undefined, domainAdmin);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.domains.map((d: { id: string }) => d.id), [other.id]);
  });
});
