import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { assertServerGroupMembersQuota } from '../../api/compute/server-groups/service.ts';
import type { ComputeContext } from '../../api/compute/context.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addInstance } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova server groups', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser; // another project
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
  });
  after(() => h.close());

  const db = () => h.identity.database.db;
  const create = (server_group: Record<string, unknown>, opts: { token?: string; version?: string } = {}) =>
    h.call('POST', '/v2.1/os-server-groups', { body: { server_group }, token: opts.token ?? alice.token, version: opts.version });
  const list = (query = '', opts: { token?: string; version?: string } = {}) =>
    h.call('GET', `/v2.1/os-server-groups${query}`, { token: opts.token ?? alice.token, version: opts.version });

  test('at 2.1: create (200) with one policy in `policies` and empty metadata; show, list, delete (204), then 404', async () => {
    const r = await create({ name: 'web', policies: ['anti-affinity'] });
    assert.equal(r.status, 200);
    conforms('ServerGroupResponse', r.body);
    const g = r.body.server_group;
    assert.deepEqual(Object.keys(g).sort(), ['id', 'members', 'metadata', 'name', 'policies']);
    assert.deepEqual(g.policies, ['anti-affinity']);
    assert.deepEqual(g.metadata, {});
    assert.deepEqual(g.members, []);

    const shown = await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token });
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.server_group, g);
    const listed = await list();
    conforms('ServerGroupList', listed.body);
    assert.deepEqual(listed.body.server_groups.find((x: any) => x.id === g.id), g);

    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).status, 204);
    const gone = await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token });
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { itemNotFound: { code: 404, message: `Instance group ${g.id} could not be found.` } });
    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).status, 404);
    assert.equal((await h.call('GET', '/v2.1/os-server-groups/not-a-uuid', { token: alice.token })).status, 404);
  });

  test('project_id and user_id from 2.13; two groups may share a name', async () => {
    const a = await create({ name: 'same', policies: ['affinity'] }, { version: '2.13' });
    const b = await create({ name: 'same', policies: ['affinity'] }, { version: '2.13' });
    assert.equal(a.status, 200);
    assert.equal(a.body.server_group.project_id, alice.projectId);
    assert.equal(a.body.server_group.user_id, alice.userId);
    assert.notEqual(a.body.server_group.id, b.body.server_group.id);
    for (const g of [a, b]) await h.call('DELETE', `/v2.1/os-server-groups/${g.body.server_group.id}`, { token: alice.token });
  });

  test('soft policies from 2.15; policy and rules (max_server_per_host, anti-affinity only) from 2.64', async () => {
    assert.equal((await create({ name: 'soft', policies: ['soft-affinity'] })).status, 400);
    const soft = await create({ name: 'soft', policies: ['soft-anti-affinity'] }, { version: '2.15' });
    assert.equal(soft.status, 200);
    assert.deepEqual(soft.body.server_group.policies, ['soft-anti-affinity']);

    const r = await create({ name: 'spread', policy: 'anti-affinity', rules: { max_server_per_host: 3 } }, { version: '2.64' });
    assert.equal(r.status, 200);
    conforms('ServerGroupResponse', r.body);
    const g = r.body.server_group;
    assert.deepEqual(Object.keys(g).sort(), ['id', 'members', 'name', 'policy', 'project_id', 'rules', 'user_id']);
    assert.equal(g.policy, 'anti-affinity');
    assert.deepEqual(g.rules, { max_server_per_host: 3 });
    // The same group through older eyes.
    const old = await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token, version: '2.63' });
    assert.deepEqual(old.body.server_group.policies, ['anti-affinity']);
    assert.equal(old.body.server_group.rules, undefined);
    // The stored rule is a number, as the scheduler reads it.
    assert.deepEqual((await db()('server_groups').where({ uuid: g.id }).first()).rules, { max_server_per_host: 3 });

    const text = await create({ name: 'spread2', policy: 'anti-affinity', rules: { max_server_per_host: '2' } }, { version: '2.64' });
    assert.deepEqual(text.body.server_group.rules, { max_server_per_host: 2 });
    const plain = await create({ name: 'plain', policy: 'affinity' }, { version: '2.64' });
    assert.deepEqual(plain.body.server_group.rules, {});

    const onAffinity = await create({ name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } }, { version: '2.64' });
    assert.equal(onAffinity.status, 400);
    assert.equal(onAffinity.body.badRequest.message, 'Only anti-affinity policy supports rules.');
    for (const bad of [
      { name: 'x', policies: ['affinity'] },
      { name: 'x', policy: 'legacy' },
      { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 0 } },
      { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 'two' } },
      { name: 'x', policy: 'anti-affinity', rules: { other: 1 } },
    ]) {
      assert.equal((await create(bad, { version: '2.64' })).status, 400, JSON.stringify(bad));
    }
    assert.equal((await create({ name: 'x', policy: 'affinity' }, { version: '2.63' })).status, 400);
    for (const g2 of [soft, r, text, plain]) await h.call('DELETE', `/v2.1/os-server-groups/${g2.body.server_group.id}`, { token: alice.token });
  });

  test('bad bodies are 400s: no name, blank or padded name, two policies, unknown policy, extra field', async () => {
    for (const bad of [
      { policies: ['affinity'] },
      { name: '', policies: ['affinity'] },
      { name: ' pad ', policies: ['affinity'] },
      { name: 'x', policies: ['affinity', 'anti-affinity'] },
      { name: 'x', policies: [] },
      { name: 'x', policies: ['legacy'] },
      { name: 'x', policies: ['affinity'], metadata: {} },
    ]) {
      const r = await create(bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body.badRequest.message, /^Invalid input for field/);
    }
    assert.equal((await h.call('POST', '/v2.1/os-server-groups', { body: { name: 'x' }, token: alice.token })).status, 400);
  });

  test('members are the group\'s servers that are not deleted', async () => {
    const g = (await create({ name: 'members', policies: ['affinity'] })).body.server_group;
    const live = await addInstance(db(), { projectId: alice.projectId, userId: alice.userId });
    const deleted = await addInstance(db(), { projectId: alice.projectId, userId: alice.userId, deletedAt: new Date(), terminatedAt: new Date() });
    await db()('server_group_members').insert([
      { group_uuid: g.id, instance_uuid: live },
      { group_uuid: g.id, instance_uuid: deleted },
    ]);
    assert.deepEqual((await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).body.server_group.members, [live]);
    assert.deepEqual((await list()).body.server_groups.find((x: any) => x.id === g.id).members, [live]);
    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).status, 204);
    assert.equal((await db()('server_group_members').where({ group_uuid: g.id })).length, 0);
  });

  test('another project\'s group is a 403 to show or delete, and not in one\'s list; admins see it', async () => {
    const g = (await create({ name: 'bobs', policies: ['affinity'] }, { token: bob.token })).body.server_group;
    assert.equal((await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).status, 403);
    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`, { token: alice.token })).status, 403);
    assert.ok(!(await list()).body.server_groups.some((x: any) => x.id === g.id));
    assert.equal((await h.call('GET', `/v2.1/os-server-groups/${g.id}`)).status, 200);
    // all_projects: every project's groups for an admin (whatever its value), one's own for others.
    assert.ok((await h.call('GET', '/v2.1/os-server-groups?all_projects=True')).body.server_groups.some((x: any) => x.id === g.id));
    assert.ok((await h.call('GET', '/v2.1/os-server-groups?all_projects=0')).body.server_groups.some((x: any) => x.id === g.id));
    assert.ok(!(await h.call('GET', '/v2.1/os-server-groups')).body.server_groups.some((x: any) => x.id === g.id));
    assert.ok(!(await list('?all_projects=True')).body.server_groups.some((x: any) => x.id === g.id));
    assert.equal((await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`)).status, 204);
  });

  test('a reader may list and show; creating takes the member rule (which Zed\'s deprecated owner rule still lets a project\'s reader pass)', async () => {
    const reader = await h.userToken(alice.projectId, ['reader']);
    const g = (await create({ name: 'r', policies: ['affinity'] })).body.server_group;
    assert.equal((await list('', { token: reader.token })).status, 200);
    assert.equal((await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: reader.token })).status, 200);
    await h.call('DELETE', `/v2.1/os-server-groups/${g.id}`, { token: alice.token });
    // With the new defaults alone (the member rule without the deprecated one), a reader may not.
    const strict = await startCompute({ policy: { 'os_compute_api:os-server-groups:create': 'role:member and project_id:%(project_id)s' } });
    try {
      const member = await strict.projectToken();
      const onlyReader = await strict.userToken(member.projectId, ['reader']);
      const body = { server_group: { name: 'r2', policies: ['affinity'] } };
      assert.equal((await strict.call('POST', '/v2.1/os-server-groups', { body, token: onlyReader.token })).status, 403);
      assert.equal((await strict.call('POST', '/v2.1/os-server-groups', { body, token: member.token })).status, 200);
    } finally {
      await strict.close();
    }
  });

  test('limit and offset page the list; bad values are 400s; unknown parameters are refused from 2.75', async () => {
    const carol = await h.projectToken();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await create({ name: `p${i}`, policies: ['affinity'] }, { token: carol.token })).body.server_group.id);
    const page = async (q: string) => (await list(q, { token: carol.token })).body.server_groups.map((g: any) => g.id);
    assert.deepEqual(await page(''), ids);
    assert.deepEqual(await page('?limit=2'), ids.slice(0, 2));
    assert.deepEqual(await page('?limit=2&offset=2'), ids.slice(2));
    assert.deepEqual(await page('?offset=3'), ids.slice(3));
    assert.deepEqual(await page('?limit=0'), ids);
    for (const q of ['?limit=-1', '?offset=x', '?limit=1.5']) assert.equal((await list(q, { token: carol.token })).status, 400, q);
    assert.equal((await list('?foo=1', { token: carol.token })).status, 200);
    assert.equal((await list('?foo=1', { token: carol.token, version: '2.75' })).status, 400);
  });

  test('the server_groups quota: per project and per user, counted in limits and quota details', async () => {
    const dave = await h.projectToken();
    const erin = await h.userToken(dave.projectId);
    const quota = (body: Record<string, unknown>, user?: string) =>
      h.call('PUT', `/v2.1/os-quota-sets/${dave.projectId}${user ? `?user_id=${user}` : ''}`, { body: { quota_set: body } });
    assert.equal((await quota({ server_groups: 2 })).status, 200);
    assert.equal((await create({ name: 'q1', policies: ['affinity'] }, { token: dave.token })).status, 200);
    const limits = await h.call('GET', '/v2.1/limits', { token: dave.token });
    assert.equal(limits.body.limits.absolute.totalServerGroupsUsed, 1);
    assert.equal((await create({ name: 'q2', policies: ['affinity'] }, { token: erin.token })).status, 200);
    const over = await create({ name: 'q3', policies: ['affinity'] }, { token: dave.token });
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, { forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' } });
    const detail = await h.call('GET', `/v2.1/os-quota-sets/${dave.projectId}/detail`);
    assert.equal(detail.body.quota_set.server_groups.in_use, 2);
    const userDetail = await h.call('GET', `/v2.1/os-quota-sets/${dave.projectId}/detail?user_id=${erin.userId}`);
    assert.equal(userDetail.body.quota_set.server_groups.in_use, 1);

    // A user's own limit binds that user within the project's.
    assert.equal((await quota({ server_groups: 10 })).status, 200);
    assert.equal((await quota({ server_groups: 1 }, erin.userId)).status, 200);
    assert.equal((await create({ name: 'q4', policies: ['affinity'] }, { token: erin.token })).status, 403);
    assert.equal((await create({ name: 'q4', policies: ['affinity'] }, { token: dave.token })).status, 200);
    // Unlimited.
    assert.equal((await quota({ server_groups: -1 })).status, 200);
    assert.equal((await create({ name: 'q5', policies: ['affinity'] }, { token: dave.token })).status, 200);
  });

  test('concurrent creations do not exceed the quota', async () => {
    const frank = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${frank.projectId}`, { body: { quota_set: { server_groups: 3 } } });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => create({ name: `c${i}`, policies: ['affinity'] }, { token: frank.token })));
    assert.equal(results.filter((r) => r.status === 200).length, 3);
    assert.equal(results.filter((r) => r.status === 403).length, 3);
  });

  test('the server_group_members quota counts the group\'s live members of the user', async () => {
    const gina = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${gina.projectId}`, { body: { quota_set: { server_group_members: 2 } } });
    const g = (await create({ name: 'm', policies: ['anti-affinity'] }, { token: gina.token })).body.server_group;
    const ctx = { db: db(), config: h.identity.config } as unknown as ComputeContext;
    const group = { uuid: g.id, project_id: gina.projectId };
    const check = (adding: number, userId = gina.userId) => db().transaction((trx) => assertServerGroupMembersQuota(ctx, trx, group, userId, adding));
    await check(2);
    await assertRejectsQuota(check(3));
    const member = await addInstance(db(), { projectId: gina.projectId, userId: gina.userId });
    const deleted = await addInstance(db(), { projectId: gina.projectId, userId: gina.userId, deletedAt: new Date() });
    const othersMember = await addInstance(db(), { projectId: gina.projectId, userId: randomUUID() });
    await db()('server_group_members').insert([member, deleted, othersMember].map((instance_uuid) => ({ group_uuid: g.id, instance_uuid })));
    await check(1);
    await assertRejectsQuota(check(2));
  });

  const assertRejectsQuota = (p: Promise<unknown>) =>
    assert.rejects(p, (e: any) => e.status === 403 && e.message === 'Quota exceeded, too many servers in group');
});
