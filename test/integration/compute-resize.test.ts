// Resize, confirm and revert end to end: the compute API, the conductor and
// fake-driver agents on two hosts (and on one), with the placement
// allocations checked after each step: the migration holds the old flavor on
// the source, the instance the new one on the destination; confirm frees the
// source, revert gives it back. Also a driver without resize, no valid host,
// and the sweep ending a resize whose conductor died after claiming. On
// PGlite and on PostgreSQL (NUBO_TEST_POSTGRES_URL).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultFilters } from '../../scheduler/filters/index.ts';
import { addImage, type ProjectUser } from '../support/compute.ts';
import { startCloud, type Cloud } from '../support/cloud.ts';
import { databaseEngines } from '../support/db.ts';

const OLD = { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 };
const NEW = { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 2 };

for (const [engine, database] of databaseEngines) describe(`resize, confirmResize and revertResize end to end (${engine})`, () => {
  let cloud: Cloud;
  let alice: ProjectUser;
  let image: string;
  const db = () => cloud.identity.database.db;

  before(async () => {
    cloud = await startCloud({ database: await database() });
    await cloud.addHost('node-1');
    await cloud.addHost('node-2');
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: '2', name: 'm1.small', ram: 1024, vcpus: 2, disk: 2 } } });
    await cloud.call('POST', '/v2.1/flavors', { body: { flavor: { id: 'huge', name: 'huge', ram: 10_000_000, vcpus: 1, disk: 1 } } });
    alice = await cloud.projectToken();
    await cloud.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    image = await addImage(db(), { owner: alice.projectId, size: 1024 });
  });
  after(() => cloud.close());

  /** Only `host` passes the filters (null: any). */
  const onlyHost = (host: string | null) => {
    cloud.conductor.context.select = host ? { filters: [...defaultFilters, { name: 'OnlyHost', passes: (h) => h.host === host }] } : undefined;
  };
  const server = async (host: string, metadata: Record<string, string> = {}) => {
    onlyHost(host);
    const r = await cloud.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1', metadata } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const row = await cloud.rowWhen(r.body.server.id, (x) => x.vm_state === 'active' && x.task_state === null, 'the server to go active');
    assert.equal(row.host, host);
    return r.body.server.id as string;
  };
  const act = (id: string, body: unknown) => cloud.call('POST', `/v2.1/servers/${id}/action`, { body, token: alice.token });
  const migration = (id: string) => db()('migrations').where({ instance_uuid: id }).orderBy('id', 'desc').first();
  const status = async (id: string) => (await cloud.call('GET', `/v2.1/servers/${id}`, { token: alice.token })).body.server;
  const resized = (id: string) => cloud.rowWhen(id, (x) => x.vm_state === 'resized' && x.task_state === null, 'VERIFY_RESIZE');
  /** A server resized from node-1 to node-2, waiting in VERIFY_RESIZE, and its migration. */
  const resizedAway = async () => {
    cloud.conductor.context.allowResizeToSameHost = false;
    const id = await server('node-1');
    onlyHost(null);
    assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
    await resized(id);
    return { id, m: await migration(id) };
  };
  /** One sweep that counts every move as stuck; how many moves it ended. */
  const sweepMovesNow = async () => {
    const timeout = cloud.conductor.context.moveTimeoutMs;
    cloud.conductor.context.moveTimeoutMs = -60_000;
    try {
      return (await cloud.conductor.sweep()).moves;
    } finally {
      cloud.conductor.context.moveTimeoutMs = timeout;
    }
  };
  const settled = (id: string, vm = 'active') => cloud.rowWhen(id, (x) => x.vm_state === vm && x.task_state === null, vm);

  test('to another host, then confirm: allocations move to the migration, then the source is freed', async () => {
    cloud.conductor.context.allowResizeToSameHost = false;
    const id = await server('node-1');
    onlyHost(null);
    assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
    const row = await resized(id);
    assert.equal(row.host, 'node-2');
    assert.equal(row.vcpus, 2);
    const shown = await status(id);
    assert.equal(shown.status, 'VERIFY_RESIZE');
    assert.equal(shown.flavor.id, '2');
    const m = await migration(id);
    assert.equal(m.status, 'finished');
    assert.equal(m.source_compute, 'node-1');
    assert.equal(m.dest_compute, 'node-2');
    const [n1, n2] = [await cloud.nodeUuid('node-1'), await cloud.nodeUuid('node-2')];
    assert.deepEqual(await cloud.allocations(id), { [n2]: NEW });
    assert.deepEqual(await cloud.allocations(m.uuid), { [n1]: OLD });
    assert.ok(cloud.agents.get('node-1')!.driver.keptAside(id));
    assert.deepEqual((await cloud.agents.get('node-2')!.driver.listInstances()).map((g) => g.uuid).includes(id), true);
    assert.deepEqual(
      (await cloud.events(id, 'resize')).map((e) => [e.event, e.result]),
      [
        ['conductor_migrate_server', 'Success'],
        ['compute_resize_instance', 'Success'],
        ['compute_finish_resize', 'Success'],
      ],
    );

    assert.equal((await act(id, { confirmResize: null })).status, 204);
    const done = await settled(id);
    assert.equal(done.host, 'node-2');
    assert.equal(done.power_state, 1);
    await cloud.rowWhen(id, async () => (await migration(id)).status === 'confirmed', 'the migration confirmed');
    // The status commits with the agent's update; the claim is freed right after.
    await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the source claim freed');
    assert.deepEqual(await cloud.allocations(id), { [n2]: NEW });
    assert.equal(cloud.agents.get('node-1')!.driver.keptAside(id), false);
    assert.deepEqual((await cloud.events(id, 'confirmResize')).map((e) => [e.event, e.result]), [['compute_confirm_resize', 'Success']]);
    assert.equal((await status(id)).status, 'ACTIVE');
  });

  test('to another host, then revert: the old flavor and the source allocation come back', async () => {
    const { id, m } = await resizedAway();
    assert.equal((await act(id, { revertResize: null })).status, 202);
    const row = await settled(id);
    assert.equal(row.host, 'node-1');
    assert.equal(row.vcpus, 1);
    assert.equal(row.flavor.flavorid, '1');
    assert.equal((await migration(id)).status, 'reverted');
    const n1 = await cloud.nodeUuid('node-1');
    await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the migration to give its claim back');
    assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
    assert.equal((await cloud.agents.get('node-2')!.driver.listInstances()).some((g) => g.uuid === id), false);
    assert.equal((await cloud.agents.get('node-1')!.driver.getInfo({ uuid: id, name: '' })).powerState, 1);
    assert.deepEqual(
      (await cloud.events(id, 'revertResize')).map((e) => e.event),
      ['compute_revert_resize', 'compute_finish_revert_resize'],
    );
  });

  test('on the same host (allow_resize_to_same_host): both flavors claimed there until confirm; a stopped server stays stopped', async () => {
    cloud.conductor.context.allowResizeToSameHost = true;
    const id = await server('node-1');
    assert.equal((await act(id, { 'os-stop': null })).status, 202);
    await settled(id, 'stopped');
    assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
    const row = await resized(id);
    assert.equal(row.host, 'node-1');
    assert.equal(row.power_state, 4);
    const m = await migration(id);
    const n1 = await cloud.nodeUuid('node-1');
    assert.deepEqual(await cloud.allocations(id), { [n1]: NEW });
    assert.deepEqual(await cloud.allocations(m.uuid), { [n1]: OLD });
    assert.equal((await act(id, { confirmResize: null })).status, 204);
    await settled(id, 'stopped');
    await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the source claim freed');
    assert.deepEqual(await cloud.allocations(id), { [n1]: NEW });
    assert.equal((await status(id)).status, 'SHUTOFF');
  });

  test('on the same host, then revert', async () => {
    cloud.conductor.context.allowResizeToSameHost = true;
    const id = await server('node-1');
    assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
    await resized(id);
    assert.equal((await act(id, { revertResize: null })).status, 202);
    const row = await settled(id);
    assert.equal(row.vcpus, 1);
    const n1 = await cloud.nodeUuid('node-1');
    const m = await migration(id);
    await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the migration to give its claim back');
    assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
    assert.equal((await cloud.agents.get('node-1')!.driver.getInfo({ uuid: id, name: '' })).powerState, 1);
  });

  test('deleting a server waiting in VERIFY_RESIZE frees both claims and has the source drop what it kept', async () => {
    const { id, m } = await resizedAway();
    assert.equal((await cloud.call('DELETE', `/v2.1/servers/${id}`, { token: alice.token })).status, 204);
    await cloud.rowWhen(id, (x) => x.vm_state === 'deleted', 'the server deleted');
    await cloud.rowWhen(id, () => !cloud.agents.get('node-1')!.driver.keptAside(id), 'the source to drop the kept guest');
    assert.deepEqual(await cloud.allocations(id), {});
    assert.deepEqual(await cloud.allocations(m.uuid), {});
    // error, then failed once the source said it dropped what it kept (compute-move-cleanup.test.ts).
    await cloud.rowWhen(id, async () => (await migration(id)).status === 'failed', 'the migration failed');
  });

  test('a driver without resize: NotSupported, the server back as it was with a fault, the claims back', async () => {
    cloud.conductor.context.allowResizeToSameHost = false;
    const id = await server('node-1');
    onlyHost(null);
    const { driver } = cloud.agents.get('node-1')!;
    const original = driver.migrateDiskAndPowerOff;
    (driver as { migrateDiskAndPowerOff?: unknown }).migrateDiskAndPowerOff = undefined;
    try {
      assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
      await cloud.rowWhen(id, async () => (await migration(id))?.status === 'error', 'the migration in error');
      const m = await migration(id);
      const row = await settled(id);
      assert.equal(row.host, 'node-1');
      assert.equal(row.vcpus, 1);
      assert.match(row.fault.message, /not supported/);
      const n1 = await cloud.nodeUuid('node-1');
      await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the claims back');
      assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
      assert.equal((await status(id)).status, 'ACTIVE');
    } finally {
      driver.migrateDiskAndPowerOff = original;
    }
  });

  test('no valid host: the server back as it was with the fault, nothing claimed', async () => {
    const id = await server('node-1');
    onlyHost(null);
    assert.equal((await act(id, { resize: { flavorRef: 'huge' } })).status, 202);
    await cloud.rowWhen(id, async () => (await migration(id))?.status === 'error', 'the migration in error');
    const m = await migration(id);
    const row = await settled(id);
    assert.match(row.fault.message, /No valid host was found/);
    assert.deepEqual(await cloud.allocations(m.uuid), {});
    assert.deepEqual(await cloud.allocations(id), { [await cloud.nodeUuid('node-1')]: OLD });
  });

  test('the sweep confirms a resize whose source never confirmed it: the server active on the destination, the source claim freed', async () => {
    const { id, m } = await resizedAway();
    // As if the API's confirm_resize to the source was lost.
    await db()('migrations').where({ uuid: m.uuid }).update({ status: 'confirming' });
    assert.equal(await sweepMovesNow(), 1);
    const row = await settled(id);
    assert.equal(row.host, 'node-2');
    assert.equal((await migration(id)).status, 'confirmed');
    assert.deepEqual(await cloud.allocations(m.uuid), {});
    assert.deepEqual(await cloud.allocations(id), { [await cloud.nodeUuid('node-2')]: NEW });
  });

  test('claimMove is all or nothing: a destination without room leaves the instance its claim and the migration none', async () => {
    const id = await server('node-1');
    const [n1, n2] = [await cloud.nodeUuid('node-1'), await cloud.nodeUuid('node-2')];
    const mig = crypto.randomUUID();
    await assert.rejects(cloud.conductor.context.placement.claimMove(id, mig, n2, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1024 }), /Unable to allocate inventory/);
    assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
    assert.deepEqual(await cloud.allocations(mig), {});
  });

  /** What the API and a conductor leave of a resize of `id` from node-1 to node-2 in `status`: the migration row and the claims moved. */
  const halfResized = async (id: string, taskState: string, status: string) => {
    const [n1, n2] = [await cloud.nodeUuid('node-1'), await cloud.nodeUuid('node-2')];
    const m = { uuid: crypto.randomUUID() };
    await db()('instances').where({ uuid: id }).update({ task_state: taskState });
    await db()('migrations').insert({
      uuid: m.uuid, instance_uuid: id, project_id: alice.projectId, user_id: alice.userId, migration_type: 'resize', status,
      source_compute: 'node-1', source_node: 'node-1', ...(status === 'pre-migrating' ? {} : { dest_compute: 'node-2', dest_node: 'node-2' }),
      old_flavor: JSON.stringify({ flavorid: '1', root_gb: 1 }), new_flavor: JSON.stringify({ flavorid: '2', root_gb: 2 }),
      old_vcpus: 1, new_vcpus: 2, old_memory_mb: 512, new_memory_mb: 1024, old_vm_state: 'active', request_id: 'req-dead',
    });
    await cloud.conductor.context.placement.claimMove(id, m.uuid, n2, NEW);
    assert.deepEqual(await cloud.allocations(m.uuid), { [n1]: OLD });
    return { m, n1, n2 };
  };

  test('a source agent that restarts in the middle of resize_migrating puts the server in error and the claims back', async () => {
    const id = await server('node-1');
    const { m, n1 } = await halfResized(id, 'resize_migrating', 'migrating');
    await cloud.agents.get('node-1')!.agent.reconcile();
    const row = await cloud.rowWhen(id, (x) => x.task_state === null, 'the move ended');
    assert.equal(row.vm_state, 'error');
    assert.match(row.fault.message, /restarted during the resize/);
    assert.equal((await migration(id)).status, 'error');
    await cloud.rowWhen(id, async () => Object.keys(await cloud.allocations(m.uuid)).length === 0, 'the claims back');
    assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
  });

  test('the sweep ends a resize whose conductor died after claiming: the server back, the claims not doubled', async () => {
    const id = await server('node-1');
    // What the API and a conductor that died right after claimMove leave: resize_prep, pre-migrating, the claims moved.
    const { m, n1 } = await halfResized(id, 'resize_prep', 'pre-migrating');
    // Not yet: the move has not been stuck for move_timeout.
    assert.equal((await cloud.conductor.sweep()).moves, 0);
    assert.equal((await cloud.conductor.sweep()).leaked, 0, 'the claim on the destination is not a leak while the move is under way');
    assert.equal(await sweepMovesNow(), 1);
    const row = await settled(id);
    assert.match(row.fault.message, /did not start in time/);
    assert.equal((await migration(id)).status, 'error');
    assert.deepEqual(await cloud.allocations(m.uuid), {});
    assert.deepEqual(await cloud.allocations(id), { [n1]: OLD });
  });
});
