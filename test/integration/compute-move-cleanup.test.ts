// What a resize that never reached confirm or revert keeps on its source is
// removed (scheduler/conductor/move-cleanup.ts, compute-driver/agent/
// move-cleanup.ts): a server deleted after its destination failed, a server
// deleted in VERIFY_RESIZE (dropped once, not confirmed twice), a server
// deleted while the API could not tell the conductor (its host down), a
// cleanup cast lost while the source's agent was stopped (asked again by the
// sweep once the agent is back), and a move in error whose server lives on
// elsewhere (cleaned only when the destination had made its guest). The
// compute API, the conductor and fake-driver agents on two hosts. On PGlite
// and on PostgreSQL (NUBO_TEST_POSTGRES_URL).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createComputeAgent } from '../../compute-driver/agent/index.ts';
import type { InstanceRef, MigrationInfo } from '../../compute-driver/driver.ts';
import { defaultFilters } from '../../scheduler/filters/index.ts';
import { addImage, type ProjectUser } from '../support/compute.ts';
import { startCloud, type Cloud } from '../support/cloud.ts';
import { databaseEngines } from '../support/db.ts';

for (const [engine, database] of databaseEngines) describe(`a deleted or failed move leaves no kept disks (${engine})`, () => {
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
    alice = await cloud.projectToken();
    await cloud.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    image = await addImage(db(), { owner: alice.projectId, size: 1024 });
    cloud.conductor.context.allowResizeToSameHost = false;
  });
  after(() => cloud.close());

  const onlyHost = (host: string | null) => {
    cloud.conductor.context.select = host ? { filters: [...defaultFilters, { name: 'OnlyHost', passes: (h) => h.host === host }] } : undefined;
  };
  const source = () => cloud.agents.get('node-1')!.driver;
  const migration = (id: string) => db()('migrations').where({ instance_uuid: id }).orderBy('id', 'desc').first();
  const migrationIs = (id: string, status: string) => cloud.rowWhen(id, async () => (await migration(id))?.status === status, `the migration ${status}`);
  const remove = async (id: string) => {
    assert.equal((await cloud.call('DELETE', `/v2.1/servers/${id}`, { token: alice.token })).status, 204);
    await cloud.rowWhen(id, (x) => x.vm_state === 'deleted', 'the server deleted');
  };
  /** A server made on node-1 and resized towards node-2 (its metadata may make the destination fail). */
  const resizedAway = async (metadata: Record<string, string> = {}) => {
    onlyHost('node-1');
    const r = await cloud.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1', metadata } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id as string;
    await cloud.rowWhen(id, (x) => x.vm_state === 'active' && x.task_state === null, 'the server active');
    onlyHost(null);
    assert.equal((await cloud.call('POST', `/v2.1/servers/${id}/action`, { body: { resize: { flavorRef: '2' } }, token: alice.token })).status, 202);
    return id;
  };
  const verifyResize = async () => {
    const id = await resizedAway();
    await cloud.rowWhen(id, (x) => x.vm_state === 'resized' && x.task_state === null, 'VERIFY_RESIZE');
    // The destination's event comes after its last update: the sweep goes by it.
    assert.deepEqual((await cloud.events(id, 'resize')).at(-1), { event: 'compute_finish_resize', result: 'Success' });
    assert.ok(source().keptAside(id));
    return { id, m: await migration(id) };
  };
  /** As if the last ask was longer ago than the sweep waits before asking again. */
  const askedLongAgo = (id: string) => db()('migrations').where({ instance_uuid: id }).update({ updated_at: new Date(Date.now() - 3600_000) });
  const cleanupsNow = async () => (await cloud.conductor.sweep()).cleanups;
  /** Counts the source driver's confirmMigration calls for `id`. */
  const countConfirms = (id: string) => {
    const driver = source();
    const original = driver.confirmMigration.bind(driver);
    const calls = { n: 0, restore: () => (driver.confirmMigration = original) };
    driver.confirmMigration = async (instance: InstanceRef, m?: MigrationInfo) => {
      if (instance.uuid === id) calls.n++;
      return (original as (i: InstanceRef, m?: MigrationInfo) => Promise<void>)(instance, m);
    };
    return calls;
  };

  test('the destination fails, the migration is in error: kept until the server is deleted, then dropped and the migration failed', async () => {
    const id = await resizedAway({ fake_fail: 'finish_migration' });
    const row = await cloud.rowWhen(id, (x) => x.vm_state === 'error' && x.task_state === null, 'the server in error');
    assert.equal(row.host, 'node-2');
    await migrationIs(id, 'error');
    assert.ok(source().keptAside(id), 'the source keeps the old guest');
    // A server in error may still need its old disks: the sweep leaves them.
    await askedLongAgo(id);
    assert.equal(await cleanupsNow(), 0);
    assert.ok(source().keptAside(id));

    await remove(id);
    await cloud.rowWhen(id, () => !source().keptAside(id), 'the source to drop the kept guest');
    await migrationIs(id, 'failed');
    assert.deepEqual(await cloud.allocations((await migration(id)).uuid), {});
    assert.deepEqual(await cloud.allocations(id), {});
  });

  test('deleted in VERIFY_RESIZE: the kept guest dropped once, nothing confirmed twice', async () => {
    const { id, m } = await verifyResize();
    const confirms = countConfirms(id);
    try {
      await remove(id);
      await migrationIs(id, 'failed');
      assert.equal(source().keptAside(id), false);
      assert.deepEqual(await cloud.allocations(m.uuid), {});
      await askedLongAgo(id);
      assert.equal(await cleanupsNow(), 0, 'a failed migration is not cleaned again');
      await cloud.agents.get('node-1')!.agent.idle();
      assert.equal(confirms.n, 1);
      assert.equal((await db()('instance_actions').where({ instance_uuid: id, action: 'confirmResize' })).length, 0, 'no confirm action recorded for a deleted server');
    } finally {
      confirms.restore();
    }
  });

  test('deleted while its host was down (the API deletes it alone): the sweep ends the move and has the source drop what it kept', async () => {
    const { id, m } = await verifyResize();
    await db()('compute_services').where({ host: 'node-2' }).update({ last_seen_up: new Date(Date.now() - 3600_000) });
    try {
      await remove(id);
      assert.equal((await migration(id)).status, 'finished', 'nobody told the conductor');
      assert.equal(await cleanupsNow(), 1);
      await cloud.rowWhen(id, () => !source().keptAside(id), 'the source to drop the kept guest');
      await migrationIs(id, 'failed');
      assert.deepEqual(await cloud.allocations(m.uuid), {});
    } finally {
      await db()('compute_services').where({ host: 'node-2' }).update({ last_seen_up: new Date() });
    }
  });

  test('the cleanup cast is lost while the source agent is stopped: once the agent is back, the sweep asks again and it is dropped', async () => {
    const { id } = await verifyResize();
    const bus = cloud.identity.bus;
    const cast = bus.cast.bind(bus);
    let lost = 0;
    bus.cast = (async (topic: string, method: string, args: unknown, opts?: { timeoutMs?: number }) => {
      if (topic === 'compute.node-1' && method === 'cleanup_migration') {
        lost++;
        return;
      }
      return cast(topic, method, args, opts);
    }) as typeof bus.cast;
    const { agent, driver } = cloud.agents.get('node-1')!;
    await agent.stop();
    try {
      await remove(id);
      await migrationIs(id, 'error');
      await cloud.rowWhen(id, () => lost === 1, 'the cleanup cast (lost)');
      assert.ok(driver.keptAside(id), 'still kept: the cast was lost');
      // Asked a moment ago: the sweep waits before asking again; and a source that is down is not asked.
      assert.equal(await cleanupsNow(), 0);
      await askedLongAgo(id);
      await db()('compute_services').where({ host: 'node-1' }).update({ last_seen_up: new Date(Date.now() - 3600_000) });
      assert.equal(await cleanupsNow(), 0, 'the source is down');
    } finally {
      bus.cast = cast;
    }
    const back = createComputeAgent({ bus, driver, host: 'node-1', reportIntervalMs: 3600_000, syncIntervalMs: 0, retryMinMs: 20 });
    await back.start();
    cloud.agents.set('node-1', { agent: back, driver });
    await cloud.rowWhen(id, async () => (await db()('compute_services').where({ host: 'node-1' }).first()).last_seen_up > new Date(Date.now() - 60_000), 'node-1 up again');
    assert.equal(await cleanupsNow(), 1);
    await cloud.rowWhen(id, () => !driver.keptAside(id), 'the source to drop the kept guest');
    await migrationIs(id, 'failed');
  });

  test('a move in error whose server is active on another host: the sweep drops the kept disks only if the destination had made its guest', async () => {
    // The destination made its guest (VERIFY_RESIZE), then the move went to error and the server was reset to active there.
    const { id } = await verifyResize();
    await db()('migrations').where({ instance_uuid: id }).update({ status: 'error' });
    await db()('instances').where({ uuid: id }).update({ vm_state: 'active', task_state: null });
    assert.equal(await cleanupsNow(), 0, 'not before the sweep waited');
    await askedLongAgo(id);
    assert.equal(await cleanupsNow(), 1);
    await cloud.rowWhen(id, () => !source().keptAside(id), 'the source to drop the kept guest');
    await migrationIs(id, 'failed');
    assert.equal((await cloud.rowWhen(id, (x) => x.host === 'node-2', 'on node-2')).vm_state, 'active');

    // The destination never made its guest: the kept disks may be the server's only ones.
    const other = await resizedAway({ fake_fail: 'finish_migration' });
    await cloud.rowWhen(other, (x) => x.vm_state === 'error' && x.task_state === null, 'the server in error');
    await migrationIs(other, 'error');
    await db()('instances').where({ uuid: other }).update({ vm_state: 'active' });
    await askedLongAgo(other);
    assert.equal(await cleanupsNow(), 0);
    assert.ok(source().keptAside(other));
  });
});
