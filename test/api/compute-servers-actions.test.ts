import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { BusRemoteError } from '../../lib/bus/bus.ts';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova server actions', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let image: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    image = await addImage(db(), { owner: alice.projectId, visibility: 'private', properties: { os_distro: 'cirros', img_signature: 'x' } });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    await addComputeHost(db(), h.identity.config, 'node-1');
    await h.bus.serveCompute('node-1', { consoleOutput: 'line 1\nline 2\x07\nline 3\n' });
  });
  after(() => h.close());

  /** A server on node-1 in `vmState` (active by default), as the agent would have left it. */
  const server = async (vmState = 'active', name = 'vm') => {
    const r = await h.call('POST', '/v2.1/servers', { body: { server: { name, imageRef: image, flavorRef: '1' } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await placeServer(db(), r.body.server.id, 'node-1', vmState);
    return r.body.server.id as string;
  };
  const act = (id: string, body: unknown, opts: { token?: string; version?: string } = {}) =>
    h.call('POST', `/v2.1/servers/${id}/action`, { body, token: opts.token ?? alice.token, version: opts.version });
  const row = (id: string) => db()('instances').where({ uuid: id }).first();
  const castFor = (method: string, id: string) => h.bus.waitFor('compute.node-1', method, (args) => args.instance.uuid === id);

  test('reboot SOFT and HARD: task_state, the reboot action under the request id, reboot_instance cast; 409 in the wrong state', async () => {
    const id = await server();
    const r = await act(id, { reboot: { type: 'SOFT' } });
    assert.equal(r.status, 202);
    assert.equal(r.body, undefined);
    assert.equal((await row(id)).task_state, 'rebooting');
    const cast = await castFor('reboot_instance', id);
    assert.equal(cast.args.reboot_type, 'SOFT');
    assert.equal(cast.args.instance.task_state, 'rebooting');
    assert.equal(cast.args.instance.name, `instance-${id}`);
    assert.equal(cast.args.request_id, r.headers['x-openstack-request-id']);
    const action = await db()('instance_actions').where({ instance_uuid: id, action: 'reboot' }).first();
    assert.equal(action.request_id, r.headers['x-openstack-request-id']);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server.status, 'REBOOT');

    // A soft reboot needs no task; a hard one may follow a soft one.
    const again = await act(id, { reboot: { type: 'soft' } });
    assert.deepEqual(again.body, { conflictingRequest: { code: 409, message: `Cannot 'reboot' instance ${id} while it is in task_state rebooting` } });
    assert.equal((await act(id, { reboot: { type: 'HARD' } })).status, 202);
    assert.equal((await row(id)).task_state, 'rebooting_hard');
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server.status, 'HARD_REBOOT');

    const stopped = await server('stopped');
    assert.equal((await act(stopped, { reboot: { type: 'SOFT' } })).body.conflictingRequest.message, `Cannot 'reboot' instance ${stopped} while it is in vm_state stopped`);
    assert.equal((await act(stopped, { reboot: { type: 'HARD' } })).status, 202);
    assert.equal((await act(stopped, { reboot: { type: 'SIDEWAYS' } })).status, 400);
    assert.equal((await act(stopped, { reboot: {} })).status, 400);
  });

  test('os-stop, os-start, pause, unpause, suspend, resume: each from its vm_state, with its task_state and cast', async () => {
    const steps: [string, string, string, string][] = [
      ['os-stop', 'powering-off', 'stop_instance', 'stopped'],
      ['os-start', 'powering-on', 'start_instance', 'active'],
      ['pause', 'pausing', 'pause_instance', 'paused'],
      ['unpause', 'unpausing', 'unpause_instance', 'active'],
      ['suspend', 'suspending', 'suspend_instance', 'suspended'],
      ['resume', 'resuming', 'resume_instance', 'active'],
    ];
    const id = await server();
    for (const [action, task, method, after] of steps) {
      const r = await act(id, { [action]: null });
      assert.equal(r.status, 202, `${action}: ${JSON.stringify(r.body)}`);
      assert.equal((await row(id)).task_state, task);
      await castFor(method, id);
      // What the agent reports when done.
      await db()('instances').where({ uuid: id }).update({ vm_state: after, task_state: null });
    }
    const actions = (await db()('instance_actions').where({ instance_uuid: id }).orderBy('id')).map((a: any) => a.action);
    assert.deepEqual(actions, ['create', 'stop', 'start', 'pause', 'unpause', 'suspend', 'resume']);
    const stop = await castFor('stop_instance', id);
    assert.equal(stop.args.clean_shutdown, true);

    assert.equal((await act(id, { 'os-start': null })).body.conflictingRequest.message, `Cannot 'start' instance ${id} while it is in vm_state active`);
    assert.equal((await act(id, { unpause: null })).body.conflictingRequest.message, `Cannot 'unpause' instance ${id} while it is in vm_state active`);
    assert.equal((await act(id, { resume: null })).status, 409);
    // Not on a host yet: not ready.
    const building = (await h.call('POST', '/v2.1/servers', { body: { server: { name: 'b', imageRef: image, flavorRef: '1' } }, token: alice.token })).body.server.id;
    assert.deepEqual((await act(building, { 'os-stop': null })).body, { conflictingRequest: { code: 409, message: `Instance ${building} is not ready` } });
    assert.equal((await act(building, { pause: null })).body.conflictingRequest.message, `Cannot 'pause' instance ${building} while it is in vm_state building`);
  });

  test('lock: 409 for the owner\'s changes, not for admins; locked_reason 2.73; unlock of an admin\'s lock needs an admin', async () => {
    const id = await server();
    assert.equal((await act(id, { lock: { locked_reason: 'maintenance' } }, { version: '2.73' })).status, 202);
    const shown = (await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token, version: '2.73' })).body.server;
    assert.equal(shown.locked, true);
    assert.equal(shown.locked_reason, 'maintenance');
    assert.deepEqual((await act(id, { 'os-stop': null })).body, { conflictingRequest: { code: 409, message: `Instance ${id} is locked` } });
    assert.equal((await act(id, { reboot: { type: 'HARD' } })).status, 409);
    assert.equal((await act(id, { rebuild: { imageRef: image } })).status, 409);
    assert.equal((await h.call('PUT', `/v2.1/servers/${id}/metadata/k`, { body: { meta: { k: 'v' } }, token: alice.token })).status, 409);
    // Admins are not held by it.
    assert.equal((await act(id, { 'os-stop': null }, { token: h.adminToken })).status, 202);
    // A lock event was recorded.
    const lock = await db()('instance_actions').where({ instance_uuid: id, action: 'lock' }).first();
    assert.ok(lock.finish_time);
    assert.deepEqual((await db()('instance_action_events').where({ action_id: lock.id })).map((e: any) => [e.event, e.result]), [['api_lock', 'Success']]);
    assert.equal((await act(id, { lock: { locked_reason: '' } }, { version: '2.73' })).status, 400);
    assert.equal((await act(id, { unlock: null })).status, 202);
    const unlocked = (await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token, version: '2.73' })).body.server;
    assert.equal(unlocked.locked, false);
    assert.equal(unlocked.locked_reason, null);

    // Locked by an admin: the owner cannot unlock.
    assert.equal((await act(id, { lock: null }, { token: h.adminToken })).status, 202);
    assert.equal((await row(id)).locked_by, 'admin');
    assert.equal((await act(id, { unlock: null })).status, 403);
    assert.equal((await act(id, { unlock: null }, { token: h.adminToken })).status, 202);
  });

  test('os-resetState: admins only; any state back to active or error, no task', async () => {
    const id = await server();
    await db()('instances').where({ uuid: id }).update({ task_state: 'rebooting' });
    assert.equal((await act(id, { 'os-resetState': { state: 'error' } })).status, 403);
    assert.equal((await act(id, { 'os-resetState': { state: 'stopped' } }, { token: h.adminToken })).status, 400);
    assert.equal((await act(id, { 'os-resetState': { state: 'error' } }, { token: h.adminToken })).status, 202);
    const r = await row(id);
    assert.equal(r.vm_state, 'error');
    assert.equal(r.task_state, null);
    assert.ok((await db()('instance_actions').where({ instance_uuid: id, action: 'resetState' }).first()).finish_time);
  });

  test('os-getConsoleOutput: a call to the agent with the tail length; control characters removed; 409 without a host', async () => {
    const id = await server();
    const r = await act(id, { 'os-getConsoleOutput': { length: 2 } });
    assert.equal(r.status, 200);
    conforms('ServerConsoleOutput', r.body);
    assert.deepEqual(r.body, { output: 'line 1\nline 2\nline 3\n' });
    const call = await h.bus.waitFor('compute.node-1', 'get_console_output', (args) => args.instance.uuid === id);
    assert.equal(call.args.tail_length, 2);
    await act(id, { 'os-getConsoleOutput': { length: -1 } });
    assert.equal(h.bus.on('compute.node-1', 'get_console_output').at(-1)!.args.tail_length, null);
    assert.equal((await act(id, { 'os-getConsoleOutput': { length: 'x' } })).status, 400);
    assert.equal((await act(id, { 'os-getConsoleOutput': { length: -2 } })).status, 400);

    await addComputeHost(db(), h.identity.config, 'node-2');
    await h.bus.serveCompute('node-2', { consoleOutput: new BusRemoteError('no such guest', 'InstanceNotFound') });
    const elsewhere = await server();
    await placeServer(db(), elsewhere, 'node-2');
    assert.equal((await act(elsewhere, { 'os-getConsoleOutput': {} })).status, 404);
    const building = (await h.call('POST', '/v2.1/servers', { body: { server: { name: 'b', imageRef: image, flavorRef: '1' } }, token: alice.token })).body.server.id;
    assert.equal((await act(building, { 'os-getConsoleOutput': {} })).status, 409);
  });

  test('rebuild: task_state rebuilding, new image, name and metadata; rebuild_instance cast with the image; the server in the answer', async () => {
    const id = await server('stopped');
    const other = await addImage(db(), { owner: alice.projectId, properties: { os_distro: 'debian' } });
    const r = await act(id, { rebuild: { imageRef: other, name: 'rebuilt', metadata: { k: 'v' }, adminPass: 'secret', key_name: null, user_data: 'aGk=' } }, { version: '2.57' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    conforms('ServerResponse', r.body);
    const s = r.body.server;
    assert.equal(s.status, 'REBUILD');
    assert.equal(s.name, 'rebuilt');
    assert.equal(s.adminPass, 'secret');
    assert.equal(s.user_data, 'aGk=');
    assert.equal(s.image.id, other);
    assert.deepEqual(s.metadata, { k: 'v' });
    assert.equal(s.key_name, null);
    assert.equal('OS-EXT-STS:vm_state' in s, false);
    assert.equal(r.headers.location, s.links[0].href);

    const cast = await castFor('rebuild_instance', id);
    assert.equal(cast.args.orig_image_ref, image);
    assert.equal(cast.args.image.id, other);
    assert.equal(cast.args.image.properties.os_distro, 'debian');
    assert.equal(cast.args.admin_password, 'secret');
    assert.equal(cast.args.instance.task_state, 'rebuilding');
    assert.equal(cast.args.instance.vm_state, 'stopped');
    assert.equal(cast.args.instance.display_name, 'rebuilt');
    assert.equal(cast.args.instance.user_data, 'aGk=');
    assert.ok((await db()('instance_actions').where({ instance_uuid: id, action: 'rebuild' }).first()));

    // Another rebuild while one runs; an image that is not there; one not active.
    assert.equal((await act(id, { rebuild: { imageRef: other } })).status, 409);
    const fresh = await server();
    assert.equal((await act(fresh, { rebuild: { imageRef: crypto.randomUUID() } })).body.badRequest.message, 'Cannot find image for rebuild');
    const queued = await addImage(db(), { owner: alice.projectId, status: 'queued' });
    assert.equal((await act(fresh, { rebuild: { imageRef: queued } })).body.badRequest.message, `Image ${queued} is not active.`);
    assert.equal((await act(fresh, { rebuild: {} })).status, 400);
    assert.equal((await act(fresh, { rebuild: { imageRef: image, key_name: 'k' } })).status, 400); // key_name from 2.54
    const paused = await server('paused');
    assert.equal((await act(paused, { rebuild: { imageRef: image } })).body.conflictingRequest.message, `Cannot 'rebuild' instance ${paused} while it is in vm_state paused`);
  });

  test('createImage: a queued image of the caller\'s project with the server\'s properties, task_state image_snapshot, snapshot_instance cast; image_id from 2.45, Location before', async () => {
    const id = await server();
    const r = await act(id, { createImage: { name: 'snap', metadata: { purpose: 'backup' } } }, { version: '2.45' });
    assert.equal(r.status, 202);
    conforms('ServerCreateImageResponse', r.body);
    const img = await db()('images').where({ id: r.body.image_id }).first();
    assert.equal(img.name, 'snap');
    assert.equal(img.owner, alice.projectId);
    assert.equal(img.status, 'queued');
    assert.equal(img.visibility, 'private');
    assert.equal(img.min_disk, 1);
    assert.equal(img.properties.os_distro, 'cirros');
    assert.equal(img.properties.img_signature, undefined);
    assert.equal(img.properties.instance_uuid, id);
    assert.equal(img.properties.image_type, 'snapshot');
    assert.equal(img.properties.base_image_ref, image);
    assert.equal(img.properties.purpose, 'backup');
    assert.equal(img.properties.user_id, alice.userId);
    assert.equal(img.disk_format, 'qcow2');
    assert.equal(img.container_format, 'bare');
    assert.ok(await db()('instance_actions').where({ instance_uuid: id, action: 'createImage' }).first());
    assert.equal((await row(id)).task_state, 'image_snapshot');
    const cast = await castFor('snapshot_instance', id);
    assert.equal(cast.args.image.image_id, img.id);
    assert.match(cast.args.image.url, new RegExp(`/v2/images/${img.id}/file$`));
    assert.equal(h.identity.tokens.verify(cast.args.image.token).user_id, alice.userId);
    assert.equal(cast.args.request_id, r.headers['x-openstack-request-id']);
    // One snapshot at a time: the second finds the task and creates no image.
    const images = (await db()('images').count({ n: '*' }))[0].n;
    assert.equal((await act(id, { createImage: { name: 'snap-busy' } })).body.conflictingRequest.message, `Cannot 'createImage' instance ${id} while it is in task_state image_snapshot`);
    assert.equal((await db()('images').count({ n: '*' }))[0].n, images);
    await placeServer(db(), id, 'node-1');

    const old = await act(id, { createImage: { name: 'snap-2' } });
    assert.equal(old.status, 202);
    assert.match(old.headers.location, /\/images\/[0-9a-f-]{36}$/);
    assert.equal((await act(id, { createImage: {} })).status, 400);
    await placeServer(db(), id, 'node-1');
    // An admin's snapshot of someone's server is shared with the server's project.
    const byAdmin = await act(id, { createImage: { name: 'admin-snap' } }, { token: h.adminToken, version: '2.45' });
    const shared = await db()('images').where({ id: byAdmin.body.image_id }).first();
    assert.equal(shared.visibility, 'shared');
    assert.ok(await db()('image_members').where({ image_id: shared.id, member_id: alice.projectId }).first());
    const building = (await h.call('POST', '/v2.1/servers', { body: { server: { name: 'b', imageRef: image, flavorRef: '1' } }, token: alice.token })).body.server.id;
    assert.equal((await act(building, { createImage: { name: 'x' } })).status, 409);
  });

  test('restore: 409, as no server is ever soft-deleted', async () => {
    const id = await server();
    assert.equal((await act(id, { restore: null })).status, 409);
  });

  test('forceDelete: like DELETE, 202; unknown actions and malformed bodies are 400s', async () => {
    const id = await server();
    assert.equal((await act(id, { forceDelete: null })).status, 202);
    assert.equal((await row(id)).task_state, 'deleting');
    await castFor('terminate_instance', id);
    assert.deepEqual((await act(id, { dance: null })).body, { badRequest: { code: 400, message: 'There is no such action: dance' } });
    assert.equal((await act(id, { 'os-start': null, 'os-stop': null })).body.badRequest.message, 'Malformed request body');
  });
});
