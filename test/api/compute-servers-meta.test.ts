import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova server metadata, tags and instance actions', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  let image: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1, metadata_items: 3 } } });
    image = await addImage(db(), { owner: alice.projectId });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    await h.bus.serveCompute('node-1');
  });
  after(() => h.close());

  const server = async (metadata: Record<string, string> = {}) => {
    const r = await h.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1', metadata } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await placeServer(db(), r.body.server.id, 'node-1');
    return r.body.server.id as string;
  };
  const call = (method: string, url: string, opts: { body?: unknown; token?: string; version?: string } = {}) =>
    h.call(method, `/v2.1/servers/${url}`, { body: opts.body, token: opts.token ?? alice.token, version: opts.version });

  test('metadata: list, add, replace, one item get/put/delete; quota 403; mismatched key 400; 409 while building', async () => {
    const id = await server({ a: '1' });
    const list = await call('GET', `${id}/metadata`);
    assert.equal(list.status, 200);
    conforms('ServerMetadataResponse', list.body);
    assert.deepEqual(list.body, { metadata: { a: '1' } });

    assert.deepEqual((await call('POST', `${id}/metadata`, { body: { metadata: { b: '2' } } })).body, { metadata: { a: '1', b: '2' } });
    assert.deepEqual((await call('PUT', `${id}/metadata`, { body: { metadata: { c: '3' } } })).body, { metadata: { c: '3' } });
    assert.deepEqual((await call('GET', `${id}/metadata/c`)).body, { meta: { c: '3' } });
    assert.deepEqual((await call('PUT', `${id}/metadata/d`, { body: { meta: { d: '4' } } })).body, { meta: { d: '4' } });
    assert.deepEqual((await call('GET', `${id}/metadata`)).body.metadata, { c: '3', d: '4' });
    assert.equal((await call('DELETE', `${id}/metadata/c`)).status, 204);
    assert.deepEqual((await call('GET', `${id}/metadata/c`)).body, { itemNotFound: { code: 404, message: 'Metadata item was not found' } });
    assert.equal((await call('DELETE', `${id}/metadata/c`)).status, 404);

    assert.deepEqual((await call('PUT', `${id}/metadata/x`, { body: { meta: { y: '1' } } })).body, { badRequest: { code: 400, message: 'Request body and URI mismatch' } });
    assert.equal((await call('PUT', `${id}/metadata/x`, { body: { meta: { x: '1', z: '2' } } })).status, 400);
    assert.equal((await call('POST', `${id}/metadata`, { body: { metadata: { 'a/b': '1' } } })).status, 400);
    const over = await call('POST', `${id}/metadata`, { body: { metadata: { e: '5', f: '6', g: '7' } } });
    assert.deepEqual(over.body, { forbidden: { code: 403, message: 'Maximum number of metadata items exceeds 3' } });
    assert.equal((await call('GET', `${id}/metadata`, { token: bob.token })).status, 404);

    await db()('instances').where({ uuid: id }).update({ vm_state: 'building' });
    assert.equal(
      (await call('POST', `${id}/metadata`, { body: { metadata: { g: '7' } } })).body.conflictingRequest.message,
      `Cannot 'update metadata' instance ${id} while it is in vm_state building`,
    );
  });

  test('tags from 2.26: list, replace, add (201/204), check, remove; invalid tags 400; 404 before 2.26', async () => {
    const id = await server();
    const v = { version: '2.26' };
    assert.equal((await call('GET', `${id}/tags`)).status, 404);
    assert.deepEqual((await call('GET', `${id}/tags`, v)).body, { tags: [] });
    const put = await call('PUT', `${id}/tags`, { ...v, body: { tags: ['a', 'b', 'a'] } });
    assert.equal(put.status, 200);
    conforms('ServerTagsResponse', put.body);
    assert.deepEqual(put.body, { tags: ['a', 'b'] });
    const added = await call('PUT', `${id}/tags/c`, v);
    assert.equal(added.status, 201);
    assert.match(added.headers.location, new RegExp(`/v2.1/servers/${id}/tags/c$`));
    assert.equal((await call('PUT', `${id}/tags/c`, v)).status, 204);
    assert.equal((await call('GET', `${id}/tags/c`, v)).status, 204);
    assert.deepEqual((await call('GET', `${id}/tags/zz`, v)).body, { itemNotFound: { code: 404, message: `Server ${id} has no tag 'zz'` } });
    assert.equal((await call('PUT', `${id}/tags/a,b`, v)).status, 400);
    assert.equal((await call('PUT', `${id}/tags/${'x'.repeat(61)}`, v)).status, 400);
    assert.equal((await call('PUT', `${id}/tags`, { ...v, body: { tags: ['a/b'] } })).status, 400);
    assert.equal((await call('DELETE', `${id}/tags/a`, v)).status, 204);
    assert.equal((await call('DELETE', `${id}/tags/a`, v)).status, 404);
    assert.deepEqual((await call('GET', `${id}/tags`, v)).body.tags, ['b', 'c']);
    assert.deepEqual((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token, version: '2.26' })).body.server.tags, ['b', 'c']);
    assert.equal((await call('DELETE', `${id}/tags`, v)).status, 204);
    assert.deepEqual((await call('GET', `${id}/tags`, v)).body.tags, []);
    await db()('instances').where({ uuid: id }).update({ vm_state: 'error' });
    assert.equal((await call('PUT', `${id}/tags/d`, v)).body.conflictingRequest.message, `Cannot 'update tag' instance ${id} while it is in vm_state error`);
    assert.equal((await call('GET', `${id}/tags`, { ...v, token: bob.token })).status, 404);
  });

  test('instance actions: newest first; show with events (members from 2.51 without traceback; admins with host from 2.62); deleted servers from 2.21', async () => {
    const id = await server();
    const stop = await h.call('POST', `/v2.1/servers/${id}/action`, { body: { 'os-stop': null }, token: alice.token });
    const requestId = stop.headers['x-openstack-request-id'];
    const action = await db()('instance_actions').where({ instance_uuid: id, request_id: requestId }).first();
    await db()('instance_action_events').insert({
      action_id: action.id,
      event: 'compute_stop_instance',
      start_time: new Date(),
      finish_time: new Date(),
      result: 'Error',
      traceback: 'Traceback…',
      host: 'node-1',
      details: 'guest would not stop',
    });

    const list = await call('GET', `${id}/os-instance-actions`);
    assert.equal(list.status, 200);
    conforms('InstanceActionList', list.body);
    assert.deepEqual(list.body.instanceActions.map((a: any) => a.action), ['stop', 'create']);
    const first = list.body.instanceActions[0];
    assert.deepEqual(Object.keys(first).sort(), ['action', 'instance_uuid', 'message', 'project_id', 'request_id', 'start_time', 'user_id']);
    assert.equal(first.request_id, requestId);
    assert.match(first.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);

    // 2.1 members see no events; 2.51 without traceback; 2.62 hostId; admins traceback and host; 2.84 details for admins.
    const get = (version: string, token = alice.token) => call('GET', `${id}/os-instance-actions/${requestId}`, { version, token });
    assert.equal((await get('2.1')).body.instanceAction.events, undefined);
    const v251 = (await get('2.51')).body.instanceAction;
    conforms('InstanceActionResponse', { instanceAction: v251 });
    assert.deepEqual(Object.keys(v251.events[0]).sort(), ['event', 'finish_time', 'result', 'start_time']);
    const v262 = (await get('2.62')).body.instanceAction.events[0];
    assert.equal(typeof v262.hostId, 'string');
    assert.equal(v262.host, undefined);
    const admin = (await get('2.84', h.adminToken)).body.instanceAction;
    assert.deepEqual(admin.events[0], {
      event: 'compute_stop_instance',
      start_time: admin.events[0].start_time,
      finish_time: admin.events[0].finish_time,
      result: 'Error',
      traceback: 'Traceback…',
      host: 'node-1',
      hostId: v262.hostId,
      details: 'guest would not stop',
    });
    assert.ok(admin.updated_at);
    assert.deepEqual((await call('GET', `${id}/os-instance-actions/req-nope`)).body, { itemNotFound: { code: 404, message: 'Action req-nope not found' } });

    // Paging from 2.58.
    const page = await call('GET', `${id}/os-instance-actions?limit=1`, { version: '2.58' });
    assert.deepEqual(page.body.instanceActions.map((a: any) => a.action), ['stop']);
    const next = new URL(page.body.links[0].href);
    assert.equal(next.searchParams.get('marker'), requestId);
    assert.match(next.pathname, new RegExp(`/servers/${id}/os-instance-actions$`));
    assert.deepEqual((await call('GET', `${id}/os-instance-actions${next.search}`, { version: '2.58' })).body.instanceActions.map((a: any) => a.action), ['create']);
    assert.equal((await call('GET', `${id}/os-instance-actions?marker=nope`, { version: '2.58' })).status, 400);
    assert.equal((await call('GET', `${id}/os-instance-actions?foo=1`, { version: '2.58' })).status, 400);
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.deepEqual((await call('GET', `${id}/os-instance-actions?changes-since=${future}`, { version: '2.58' })).body.instanceActions, []);

    // Deleted servers: 404 before 2.21, their actions after.
    await db()('instances').where({ uuid: id }).update({ vm_state: 'deleted', deleted_at: new Date() });
    assert.equal((await call('GET', `${id}/os-instance-actions`)).status, 404);
    assert.equal((await call('GET', `${id}/os-instance-actions`, { version: '2.21' })).status, 200);
  });
});
