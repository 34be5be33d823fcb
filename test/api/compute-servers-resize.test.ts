// The API side of resize, migrate, confirmResize and revertResize: Nova's
// checks and errors, the migration row, task_state and quota, and what is
// cast (to the scheduler topic, to the source, to the destination), with a
// recorder in place of the conductor and the agents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost } from '../support/compute-rows.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';

const conforms = createBodyValidator(loadSpec('compute'));

describe('Nova resize actions', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let image: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    image = await addImage(db(), { owner: alice.projectId, visibility: 'public', minDisk: 1 });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '2', name: 'm1.small', ram: 1024, vcpus: 2, disk: 2 } } });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '3', name: 'm1.big', ram: 1024, vcpus: 3, disk: 2 } } });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '0', name: 'zero', ram: 512, vcpus: 1, disk: 0 } } });
    await addComputeHost(db(), h.identity.config, 'node-1');
    await addComputeHost(db(), h.identity.config, 'node-2');
    await h.bus.serveCompute('node-1');
    await h.bus.serveCompute('node-2');
  });
  after(() => h.close());

  const server = async (vmState = 'active', user = alice) => {
    const r = await h.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1' } }, token: user.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await placeServer(db(), r.body.server.id, 'node-1', vmState);
    return r.body.server.id as string;
  };
  const act = (id: string, body: unknown, token = alice.token) => h.call('POST', `/v2.1/servers/${id}/action`, { body, token });
  const row = (id: string) => db()('instances').where({ uuid: id }).first();
  const migration = (id: string) => db()('migrations').where({ instance_uuid: id }).orderBy('id', 'desc').first();
  const message = (r: { body: any }) => r.body.badRequest?.message ?? r.body.conflictingRequest?.message ?? r.body.forbidden?.message;
  /** What the conductor and the destination agent would have left: VERIFY_RESIZE on node-2, the migration finished. */
  const finish = async (id: string) => {
    await db()('migrations').where({ instance_uuid: id }).update({ status: 'finished', dest_compute: 'node-2', dest_node: 'node-2' });
    await db()('instances').where({ uuid: id }).update({ vm_state: 'resized', task_state: null, host: 'node-2', node: 'node-2' });
  };

  test('resize: 202, task_state resize_prep, a pre-migrating migration with both flavors, resize_instance to the conductor', async () => {
    const id = await server();
    const r = await act(id, { resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'AUTO' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const now = await row(id);
    assert.equal(now.task_state, 'resize_prep');
    assert.equal(now.auto_disk_config, true);
    assert.equal(now.vcpus, 1, 'the flavor changes only when the resize finishes');
    const m = await migration(id);
    assert.equal(m.status, 'pre-migrating');
    assert.equal(m.migration_type, 'resize');
    assert.equal(m.source_compute, 'node-1');
    assert.equal(m.old_flavor.flavorid, '1');
    assert.equal(m.new_flavor.flavorid, '2');
    assert.equal(m.old_vm_state, 'active');
    const cast = await h.bus.waitFor('scheduler', 'resize_instance', (a) => a.instance_uuid === id);
    assert.deepEqual(cast.args, { instance_uuid: id, migration_uuid: m.uuid, request_id: r.headers['x-openstack-request-id'], clean_shutdown: true });
    assert.ok(await db()('instance_actions').where({ instance_uuid: id, action: 'resize', request_id: r.headers['x-openstack-request-id'] }).first());
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server.status, 'RESIZE');
    // One move at a time.
    assert.equal(message(await act(id, { resize: { flavorRef: '3' } })), `Cannot 'resize' instance ${id} while it is in task_state resize_prep`);
  });

  test('bad input: unknown flavor, the same flavor, a zero-disk flavor, no flavorRef are 400s', async () => {
    const id = await server();
    assert.deepEqual((await act(id, { resize: { flavorRef: 'nope' } })).body, { badRequest: { code: 400, message: 'Unable to locate requested flavor.' } });
    assert.equal(message(await act(id, { resize: { flavorRef: '1' } })), 'When resizing, instances must change flavor!');
    assert.equal(message(await act(id, { resize: { flavorRef: '0' } })), 'Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
    assert.equal((await act(id, { resize: {} })).status, 400);
    assert.equal((await row(id)).task_state, null);
    assert.equal(await migration(id), undefined);
  });

  test('locked (409 but for admins), in the wrong state (409), over the cores quota counting resizes under way (403)', async () => {
    const id = await server();
    await db()('instances').where({ uuid: id }).update({ locked: true, locked_by: 'owner' });
    assert.equal(message(await act(id, { resize: { flavorRef: '2' } })), `Instance ${id} is locked`);
    await db()('instances').where({ uuid: id }).update({ locked: false, locked_by: null });
    const paused = await server('paused');
    assert.equal(message(await act(paused, { resize: { flavorRef: '2' } })), `Cannot 'resize' instance ${paused} while it is in vm_state paused`);

    // A project with 3 cores: 2 servers × 1 core; growing one to 2 cores fits (3), growing the other too would not (4 > 3).
    const bob = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${bob.projectId}`, { body: { quota_set: { cores: 3 } } });
    const first = await server('active', bob);
    const other = await server('active', bob);
    assert.equal((await act(first, { resize: { flavorRef: '2' } }, bob.token)).status, 202);
    const over = await act(other, { resize: { flavorRef: '2' } }, bob.token);
    assert.equal(over.status, 403);
    assert.equal(message(over), 'Quota exceeded for cores: Requested 1, but already used 3 of 3 cores');
    // A stopped server resizes too.
    await db()('instances').where({ uuid: other }).update({ vm_state: 'stopped' });
    assert.equal(message(await act(other, { resize: { flavorRef: '2' } }, bob.token)), 'Quota exceeded for cores: Requested 1, but already used 3 of 3 cores');
  });

  test('confirmResize: 409 unless VERIFY_RESIZE; then 204, the migration confirming, confirm_resize to the source', async () => {
    const id = await server();
    assert.equal(message(await act(id, { confirmResize: null })), `Cannot 'confirmResize' instance ${id} while it is in vm_state active`);
    await db()('instances').where({ uuid: id }).update({ vm_state: 'resized' });
    assert.deepEqual((await act(id, { confirmResize: null })).body, { badRequest: { code: 400, message: 'Instance has not been resized.' } });
    await db()('instances').where({ uuid: id }).update({ vm_state: 'active' });
    assert.equal((await act(id, { resize: { flavorRef: '2' } }, h.adminToken)).status, 202);
    await finish(id);
    const r = await act(id, { confirmResize: null });
    assert.equal(r.status, 204);
    const m = await migration(id);
    assert.equal(m.status, 'confirming');
    const cast = await h.bus.waitFor('compute.node-1', 'confirm_resize', (a) => a.instance.uuid === id);
    assert.equal(cast.args.migration.uuid, m.uuid);
    assert.equal(cast.args.migration.dest_compute, 'node-2');
    assert.equal(cast.args.migration.new_flavor.vcpus, 2);
    assert.equal(cast.args.request_id, r.headers['x-openstack-request-id']);
    assert.ok(await db()('instance_actions').where({ instance_uuid: id, action: 'confirmResize' }).first());
    assert.equal((await act(id, { confirmResize: null })).status, 400, 'confirmed once');
  });

  test('revertResize: 202, task_state resize_reverting, revert_resize to the destination with both flavors\' disks', async () => {
    const id = await server();
    assert.equal(message(await act(id, { revertResize: null })), `Cannot 'revertResize' instance ${id} while it is in vm_state active`);
    assert.equal((await act(id, { resize: { flavorRef: '2' } }, h.adminToken)).status, 202);
    await finish(id);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server.status, 'VERIFY_RESIZE');
    assert.equal((await act(id, { revertResize: null })).status, 202);
    assert.equal((await row(id)).task_state, 'resize_reverting');
    assert.equal((await migration(id)).status, 'reverting');
    const cast = await h.bus.waitFor('compute.node-2', 'revert_resize', (a) => a.instance.uuid === id);
    assert.equal(cast.args.migration.source_compute, 'node-1');
    assert.equal(cast.args.instance.flavor.flavorid, '2');
    assert.equal(cast.args.migration.old_flavor.flavorid, '1');
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server.status, 'REVERT_RESIZE');
    assert.equal(message(await act(id, { revertResize: null })), `Cannot 'revertResize' instance ${id} while it is in task_state resize_reverting`);
  });

  test('migrate: admins only (403); a cold migration keeps the flavor', async () => {
    const id = await server();
    assert.equal((await act(id, { migrate: null })).status, 403);
    assert.equal((await act(id, { migrate: { host: 'node-2' } }, h.adminToken)).status, 400);
    assert.equal((await act(id, { migrate: null }, h.adminToken)).status, 202);
    const m = await migration(id);
    assert.equal(m.migration_type, 'migration');
    assert.equal(m.new_flavor.flavorid, '1');
    assert.equal((await row(id)).task_state, 'resize_prep');
  });

  test('os-migrations: admins see the moves, newest first, with Nova\'s fields per microversion; servers/{id}/migrations is empty (no live migrations)', async () => {
    const id = await server();
    assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
    const m = await migration(id);
    assert.equal((await h.call('GET', '/v2.1/os-migrations', { token: alice.token })).status, 403);
    const old = await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`);
    assert.equal(old.status, 200);
    conforms('MigrationList', old.body);
    assert.equal(old.body.migrations.length, 1);
    const [shown] = old.body.migrations;
    assert.equal(shown.id, Number(m.id));
    assert.equal(shown.status, 'pre-migrating');
    assert.equal(shown.source_compute, 'node-1');
    assert.equal(typeof shown.old_instance_type_id, 'number');
    assert.notEqual(shown.old_instance_type_id, shown.new_instance_type_id);
    assert.equal(shown.uuid, undefined);
    assert.equal(shown.migration_type, undefined);
    const v280 = (await h.call('GET', `/v2.1/os-migrations?instance_uuid=${id}`, { version: '2.80' })).body.migrations[0];
    assert.equal(v280.uuid, m.uuid);
    assert.equal(v280.migration_type, 'resize');
    assert.equal(v280.project_id, alice.projectId);
    assert.deepEqual((await h.call('GET', '/v2.1/os-migrations?status=nope')).body.migrations, []);
    const paged = await h.call('GET', '/v2.1/os-migrations?limit=1', { version: '2.59' });
    conforms('MigrationList', paged.body);
    assert.equal(paged.body.migrations.length, 1);
    assert.match(paged.body.migrations_links[0].href, /marker=/);
    const next = await h.call('GET', `/v2.1/os-migrations?limit=1&marker=${paged.body.migrations[0].uuid}`, { version: '2.59' });
    assert.notEqual(next.body.migrations[0].uuid, paged.body.migrations[0].uuid);
    assert.equal((await h.call('GET', '/v2.1/os-migrations?marker=nope', { version: '2.59' })).status, 400);
    const live = await h.call('GET', `/v2.1/servers/${id}/migrations`, { version: '2.23' });
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { migrations: [] });
    assert.equal((await h.call('GET', `/v2.1/servers/${id}/migrations`)).status, 404);
  });
});
