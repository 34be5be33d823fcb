import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startImage, type ImageHarness } from '../support/image.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('image'));
const PATCH = 'application/openstack-images-v2.1-json-patch';

type Project = { projectId: string; token: string };

describe('Glance v2 image members', () => {
  let h: ImageHarness;
  let alice: Project; // owns the images
  let bob: Project; // a member
  let dave: Project; // another member
  let carol: Project; // a stranger
  before(async () => {
    h = await startImage();
    [alice, bob, dave, carol] = [await h.projectToken(), await h.projectToken(), await h.projectToken(), await h.projectToken()];
  });
  after(() => h.close());

  const newImage = async (body: Record<string, unknown> = {}) => {
    const r = await h.call('POST', '/v2/images', { body: { name: 'shared', ...body }, token: alice.token });
    assert.equal(r.status, 201);
    return r.body.id as string;
  };
  const members = (id: string) => `/v2/images/${id}/members`;
  const add = (id: string, member: unknown, token = alice.token) => h.call('POST', members(id), { body: { member }, token });
  const setStatus = (id: string, member: string, status: unknown, token: string) =>
    h.call('PUT', `${members(id)}/${member}`, { body: { status }, token });
  const setVisibility = (id: string, visibility: string) =>
    h.call('PATCH', `/v2/images/${id}`, { body: [{ op: 'replace', path: '/visibility', value: visibility }], token: alice.token, contentType: PATCH });
  /** A token with only the reader role in `projectId`. */
  const readerOf = async (projectId: string) => {
    const { admin } = h.identity;
    const { token } = await h.identity.tokens.issue({
      user_id: randomUUID(),
      user_domain_id: admin.domainId,
      methods: ['password'],
      scope: { type: 'project', project_id: projectId, domain_id: admin.domainId },
      roles: [{ id: admin.roleIds.reader, name: 'reader' }],
      expires_at: new Date(Date.now() + 3600_000),
    });
    return token;
  };
  /** The ids in `project`'s image list with the given query. */
  const listed = async (project: Project, query = '') => {
    const r = await h.call('GET', `/v2/images${query}`, { token: project.token });
    assert.equal(r.status, 200);
    return (r.body.images as { id: string }[]).map((i) => i.id);
  };

  test('the owner adds a member to a shared image: 200, pending, with its schema', async () => {
    const id = await newImage();
    const r = await add(id, bob.projectId);
    assert.equal(r.status, 200);
    conforms('ImageMember', r.body);
    assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'image_id', 'member_id', 'schema', 'status', 'updated_at']);
    assert.equal(r.body.image_id, id);
    assert.equal(r.body.member_id, bob.projectId);
    assert.equal(r.body.status, 'pending');
    assert.equal(r.body.schema, '/v2/schemas/member');
    assert.match(r.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(r.body.updated_at, r.body.created_at);
    const shown = await h.call('GET', `${members(id)}/${bob.projectId}`, { token: alice.token });
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, r.body);
  });

  test('adding refuses a non-shared image (403), a duplicate (409), and bad bodies (400)', async () => {
    for (const visibility of ['private', 'community']) {
      const id = await newImage({ visibility });
      const r = await add(id, bob.projectId);
      assert.equal(r.status, 403, visibility);
      assert.match(r.body.message, /Only shared images have members/);
    }
    const id = await newImage();
    assert.equal((await add(id, bob.projectId)).status, 200);
    const dup = await add(id, bob.projectId);
    assert.equal(dup.status, 409);
    assert.match(dup.body.message, new RegExp(bob.projectId));
    const missing = await h.call('POST', members(id), { body: {}, token: alice.token });
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /member/);
    for (const member of ['', 5, null, 'x'.repeat(256)]) {
      const r = await add(id, member);
      assert.equal(r.status, 400, JSON.stringify(member));
      assert.match(r.body.message, /member/);
    }
    assert.equal((await h.call('POST', members(id), { token: alice.token })).status, 400);
    assert.equal((await h.call('POST', members(id), { body: ['x'], token: alice.token })).status, 400);
  });

  test('only the owner adds members: a member gets 403, a stranger 404; an unknown image is 404', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    assert.equal((await add(id, dave.projectId, bob.token)).status, 403);
    assert.equal((await add(id, dave.projectId, carol.token)).status, 404);
    assert.equal((await add(randomUUID(), bob.projectId)).status, 404);
    assert.equal((await add('not-a-uuid', bob.projectId)).status, 404);
    // A reader of the owner's project may look but not share.
    const reader = await readerOf(alice.projectId);
    assert.equal((await h.call('GET', members(id), { token: reader })).status, 200);
    assert.equal((await add(id, dave.projectId, reader)).status, 403);
    // The admin may add to anyone's shared image.
    assert.equal((await add(id, dave.projectId, h.adminToken)).status, 200);
  });

  test('the owner lists every member; a member sees only itself; a stranger sees nothing', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    await add(id, dave.projectId);
    const owner = await h.call('GET', members(id), { token: alice.token });
    assert.equal(owner.status, 200);
    conforms('ImageMemberList', owner.body);
    assert.equal(owner.body.schema, '/v2/schemas/members');
    assert.deepEqual(owner.body.members.map((m: { member_id: string }) => m.member_id).sort(), [bob.projectId, dave.projectId].sort());
    for (const m of owner.body.members) conforms('ImageMember', m);
    const member = await h.call('GET', members(id), { token: bob.token });
    assert.equal(member.status, 200);
    assert.deepEqual(member.body.members.map((m: { member_id: string }) => m.member_id), [bob.projectId]);
    assert.equal((await h.call('GET', members(id), { token: carol.token })).status, 404);
    const admin = await h.call('GET', members(id));
    assert.equal(admin.body.members.length, 2);
    // One membership: the owner sees any, a member its own, anything else is a 404.
    assert.equal((await h.call('GET', `${members(id)}/${dave.projectId}`, { token: alice.token })).status, 200);
    assert.equal((await h.call('GET', `${members(id)}/${bob.projectId}`, { token: bob.token })).status, 200);
    assert.equal((await h.call('GET', `${members(id)}/${dave.projectId}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', `${members(id)}/${bob.projectId}`, { token: carol.token })).status, 404);
    const none = await h.call('GET', `${members(id)}/${carol.projectId}`, { token: alice.token });
    assert.equal(none.status, 404);
    assert.match(none.body.message, /not found in the member list/);
    // Members of a non-shared image: the list is a 403, one membership a 404.
    const priv = await newImage({ visibility: 'private' });
    assert.equal((await h.call('GET', members(priv), { token: alice.token })).status, 403);
    assert.equal((await h.call('GET', `${members(priv)}/${bob.projectId}`, { token: alice.token })).status, 404);
  });

  test('only the member sets its status; the owner gets 403; a bad status is a 400', async () => {
    const id = await newImage();
    const created = (await add(id, bob.projectId)).body;
    await add(id, dave.projectId);
    const owner = await setStatus(id, bob.projectId, 'accepted', alice.token);
    assert.equal(owner.status, 403);
    for (const status of ['maybe', 5, null]) {
      const r = await setStatus(id, bob.projectId, status, bob.token);
      assert.equal(r.status, 400, JSON.stringify(status));
      assert.match(r.body.message, /status/);
    }
    const missing = await h.call('PUT', `${members(id)}/${bob.projectId}`, { body: {}, token: bob.token });
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /status/);
    // A member cannot answer for another, nor a stranger for anyone.
    assert.equal((await setStatus(id, dave.projectId, 'accepted', bob.token)).status, 404);
    assert.equal((await setStatus(id, bob.projectId, 'accepted', carol.token)).status, 404);
    assert.equal((await setStatus(id, carol.projectId, 'accepted', carol.token)).status, 404);
    for (const status of ['accepted', 'rejected', 'pending', 'accepted']) {
      const r = await setStatus(id, bob.projectId, status, bob.token);
      assert.equal(r.status, 200);
      conforms('ImageMember', r.body);
      assert.equal(r.body.status, status);
      assert.equal(r.body.created_at, created.created_at);
    }
    assert.equal((await h.call('GET', `${members(id)}/${bob.projectId}`, { token: alice.token })).body.status, 'accepted');
    // An admin may set it too.
    assert.equal((await setStatus(id, dave.projectId, 'rejected', h.adminToken)).body.status, 'rejected');
    const priv = await newImage({ visibility: 'private' });
    assert.equal((await setStatus(priv, bob.projectId, 'accepted', bob.token)).status, 404);
  });

  test('the member status decides the member’s image list; any membership can show the image', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    // Pending: shown on request, listed only with member_status=pending or all.
    assert.equal((await h.call('GET', `/v2/images/${id}`, { token: bob.token })).status, 200);
    assert.ok(!(await listed(bob)).includes(id));
    assert.ok((await listed(bob, '?member_status=pending')).includes(id));
    assert.ok((await listed(bob, '?member_status=all')).includes(id));
    assert.ok(!(await listed(bob, '?member_status=rejected')).includes(id));
    assert.ok(!(await listed(carol, '?member_status=all')).includes(id));
    // Accepted: in the default list.
    assert.equal((await setStatus(id, bob.projectId, 'accepted', bob.token)).status, 200);
    assert.ok((await listed(bob)).includes(id));
    assert.ok((await listed(bob, '?visibility=shared')).includes(id));
    assert.ok((await listed(bob, '?visibility=all')).includes(id));
    assert.ok(!(await listed(bob, '?member_status=pending')).includes(id));
    const shown = await h.call('GET', `/v2/images/${id}`, { token: bob.token });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.owner, alice.projectId);
    // Rejected: out of the default list, but still reachable.
    assert.equal((await setStatus(id, bob.projectId, 'rejected', bob.token)).status, 200);
    assert.ok(!(await listed(bob)).includes(id));
    assert.ok((await listed(bob, '?member_status=rejected')).includes(id));
    assert.ok((await listed(bob, '?member_status=all')).includes(id));
    assert.equal((await h.call('GET', `/v2/images/${id}`, { token: bob.token })).status, 200);
    // The owner's list is not affected by member_status.
    assert.ok((await listed(alice, '?member_status=rejected')).includes(id));
  });

  test('an image that stops being shared keeps its members, who lose access until it is shared again', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    await setStatus(id, bob.projectId, 'accepted', bob.token);
    assert.equal((await setVisibility(id, 'private')).status, 200);
    assert.equal((await h.call('GET', `/v2/images/${id}`, { token: bob.token })).status, 404);
    assert.ok(!(await listed(bob, '?member_status=all')).includes(id));
    assert.ok(!(await listed(bob, '?visibility=all&member_status=all')).includes(id));
    assert.equal((await h.call('GET', members(id), { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', members(id), { token: alice.token })).status, 403);
    assert.equal((await add(id, dave.projectId)).status, 403);
    assert.equal((await setVisibility(id, 'shared')).status, 200);
    assert.equal((await h.call('GET', `/v2/images/${id}`, { token: bob.token })).status, 200);
    assert.ok((await listed(bob)).includes(id));
    assert.equal((await h.call('GET', `${members(id)}/${bob.projectId}`, { token: alice.token })).body.status, 'accepted');
  });

  test('the owner removes a member (204), which removes its access; others cannot', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    await add(id, dave.projectId);
    await setStatus(id, bob.projectId, 'accepted', bob.token);
    const bobs = `${members(id)}/${bob.projectId}`;
    assert.equal((await h.call('DELETE', bobs, { token: bob.token })).status, 403);
    assert.equal((await h.call('DELETE', `${members(id)}/${dave.projectId}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('DELETE', bobs, { token: carol.token })).status, 404);
    const r = await h.call('DELETE', bobs, { token: alice.token });
    assert.equal(r.status, 204, JSON.stringify(r.body));
    assert.equal(r.raw.length, 0);
    assert.equal((await h.call('DELETE', bobs, { token: alice.token })).status, 404);
    assert.equal((await h.call('GET', `/v2/images/${id}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', members(id), { token: bob.token })).status, 404);
    assert.ok(!(await listed(bob, '?member_status=all')).includes(id));
    const left = await h.call('GET', members(id), { token: alice.token });
    assert.deepEqual(left.body.members.map((m: { member_id: string }) => m.member_id), [dave.projectId]);
    // Members may be added again; a non-shared image refuses removal.
    assert.equal((await add(id, bob.projectId)).body.status, 'pending');
    await setVisibility(id, 'private');
    assert.equal((await h.call('DELETE', bobs, { token: alice.token })).status, 403);
  });

  test('a deleted image has no members to show', async () => {
    const id = await newImage();
    await add(id, bob.projectId);
    assert.equal((await h.call('DELETE', `/v2/images/${id}`, { token: alice.token })).status, 204);
    assert.equal((await h.call('GET', members(id), { token: alice.token })).status, 404);
    assert.equal((await h.call('GET', `${members(id)}/${bob.projectId}`, { token: bob.token })).status, 404);
    assert.equal((await add(id, dave.projectId)).status, 404);
  });

  test('an image has at most image.image_member_quota members (413 beyond)', async () => {
    const id = await newImage();
    const rows = Array.from({ length: h.identity.config['image.image_member_quota'] - 1 }, () => ({ image_id: id, member_id: randomUUID().replace(/-/g, ''), status: 'pending' }));
    await h.identity.database.db('image_members').insert(rows);
    assert.equal((await add(id, bob.projectId)).status, 200);
    const over = await add(id, dave.projectId);
    assert.equal(over.status, 413);
    assert.match(over.body.message, new RegExp(`Attempted: ${h.identity.config['image.image_member_quota'] + 1}, Maximum: ${h.identity.config['image.image_member_quota']}`));
    assert.equal((await h.call('GET', members(id), { token: alice.token })).body.members.length, h.identity.config['image.image_member_quota']);
  });

  test('the member schemas are served as Glance publishes them', async () => {
    const member = await h.call('GET', '/v2/schemas/member', { token: alice.token });
    assert.equal(member.status, 200);
    assert.equal(member.body.name, 'member');
    assert.equal(member.body.additionalProperties, false);
    assert.deepEqual(Object.keys(member.body.properties).sort(), ['created_at', 'image_id', 'member_id', 'schema', 'status', 'updated_at']);
    assert.deepEqual(member.body.properties.status.enum, ['pending', 'accepted', 'rejected']);
    assert.match(member.body.properties.image_id.pattern, /0-9a-fA-F/);
    const list = await h.call('GET', '/v2/schemas/members', { token: alice.token });
    assert.equal(list.status, 200);
    assert.equal(list.body.name, 'members');
    assert.deepEqual(list.body.properties.members.items, member.body);
  });
});
