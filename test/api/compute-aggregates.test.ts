import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addInstance, addService } from '../support/compute-rows.ts';
import { databaseEngines } from '../support/db.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const NAIVE_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

// On PGlite and on PostgreSQL (NUBO_TEST_POSTGRES_URL): the zone of a host is SQL (hostZoneColumn) read by every API.
for (const [engine, database] of databaseEngines) describe(`Nova os-aggregates (${engine})`, () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  before(async () => {
    h = await startCompute({ database: await database() });
    alice = await h.projectToken();
    const db = h.identity.database.db;
    for (const host of ['cmp-1', 'cmp-2', 'cmp-3']) await addComputeHost(db, h.identity.config, host);
    await addService(db, 'controller', 'nubo-scheduler');
  });
  after(() => h.close());

  const db = () => h.identity.database.db;
  const create = (aggregate: unknown, version?: string) => h.call('POST', '/v2.1/os-aggregates', { body: { aggregate }, version });
  const act = (id: number | string, body: unknown, opts: { token?: string; version?: string } = {}) => h.call('POST', `/v2.1/os-aggregates/${id}/action`, { body, ...opts });
  const show = (id: number | string, version?: string) => h.call('GET', `/v2.1/os-aggregates/${id}`, { version });
  const created = async (name: string, availability_zone?: string) => {
    const r = await create(availability_zone === undefined ? { name } : { name, availability_zone });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.aggregate as { id: number; name: string };
  };
  const zonesDetail = async () => {
    const r = await h.call('GET', '/v2.1/os-availability-zone/detail');
    assert.equal(r.status, 200);
    return Object.fromEntries(r.body.availabilityZoneInfo.map((z: any) => [z.zoneName, z.hosts ? Object.keys(z.hosts).sort() : null]));
  };

  test('create answers without hosts and metadata, availability_zone null without a zone; show and list carry hosts and metadata', async () => {
    const r = await create({ name: 'plain' });
    assert.equal(r.status, 200);
    conforms('AggregateCreateResponse', r.body);
    const a = r.body.aggregate;
    assert.deepEqual(Object.keys(a).sort(), ['availability_zone', 'created_at', 'deleted', 'deleted_at', 'id', 'name', 'updated_at']);
    assert.equal(typeof a.id, 'number');
    assert.equal(a.availability_zone, null);
    assert.equal(a.deleted, false);
    assert.equal(a.deleted_at, null);
    assert.equal(a.updated_at, null);
    assert.match(a.created_at, NAIVE_MICROS);

    const s = await show(a.id);
    assert.equal(s.status, 200);
    conforms('AggregateResponse', s.body);
    assert.deepEqual(s.body.aggregate.hosts, []);
    assert.deepEqual(s.body.aggregate.metadata, {});
    assert.equal(s.body.aggregate.uuid, undefined);

    const zoned = await created('zoned', 'az-zoned');
    assert.equal((zoned as any).availability_zone, 'az-zoned');
    assert.deepEqual((await show(zoned.id)).body.aggregate.metadata, { availability_zone: 'az-zoned' });

    const list = await h.call('GET', '/v2.1/os-aggregates');
    assert.equal(list.status, 200);
    conforms('AggregateList', list.body);
    const mine = list.body.aggregates.filter((x: any) => [a.id, zoned.id].includes(x.id));
    assert.deepEqual(mine.map((x: any) => [x.name, x.availability_zone]), [['plain', null], ['zoned', 'az-zoned']]);
    for (const id of [a.id, zoned.id]) assert.equal((await h.call('DELETE', `/v2.1/os-aggregates/${id}`)).status, 200);
  });

  test('uuid from 2.41, in every answer', async () => {
    const r = await create({ name: 'with-uuid' }, '2.41');
    assert.match(r.body.aggregate.uuid, /^[0-9a-f-]{36}$/);
    const id = r.body.aggregate.id;
    assert.equal((await show(id, '2.41')).body.aggregate.uuid, r.body.aggregate.uuid);
    assert.equal((await show(id, '2.40')).body.aggregate.uuid, undefined);
    const listed = (await h.call('GET', '/v2.1/os-aggregates', { version: '2.41' })).body.aggregates.find((x: any) => x.id === id);
    assert.equal(listed.uuid, r.body.aggregate.uuid);
    assert.equal((await act(id, { add_host: { host: 'cmp-1' } }, { version: '2.41' })).body.aggregate.uuid, r.body.aggregate.uuid);
    assert.equal((await act(id, { remove_host: { host: 'cmp-1' } }, { version: '2.41' })).body.aggregate.uuid, r.body.aggregate.uuid);
    await h.call('DELETE', `/v2.1/os-aggregates/${id}`);
  });

  test('create: 400 for a bad body (name empty, over 255, missing; a zone with a colon or empty; unknown fields), 409 for a taken name', async () => {
    const bad = [
      { name: '' },
      { name: 'x'.repeat(256) },
      {},
      { name: ' padded ' },
      { name: 'ok', availability_zone: 'a:b' },
      { name: 'ok', availability_zone: '' },
      { name: 'ok', availability_zone: 'z'.repeat(256) },
      { name: 'ok', extra: 1 },
    ];
    for (const body of bad) {
      const r = await create(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.body.badRequest.message);
    }
    assert.equal((await h.call('POST', '/v2.1/os-aggregates', { body: { name: 'no-wrapper' } })).status, 400);
    const first = await created('taken');
    const again = await create({ name: 'taken', availability_zone: 'az-other' });
    assert.equal(again.status, 409);
    assert.equal(again.body.conflictingRequest.message, 'Aggregate taken already exists.');
    assert.equal((await create({ name: 'null-zone', availability_zone: null })).body.aggregate.availability_zone, null);
    await h.call('DELETE', `/v2.1/os-aggregates/${first.id}`);
  });

  test('show, update and delete: 404 for an unknown id, 400 for one that is no integer', async () => {
    assert.equal((await show(999999)).status, 404);
    assert.equal((await show(-1)).body.itemNotFound.message, 'Aggregate -1 could not be found.');
    assert.equal((await show('abc')).status, 400);
    assert.equal((await h.call('PUT', '/v2.1/os-aggregates/999999', { body: { aggregate: { name: 'n' } } })).status, 404);
    assert.equal((await h.call('DELETE', '/v2.1/os-aggregates/-1')).status, 404);
    assert.equal((await h.call('DELETE', '/v2.1/os-aggregates/abc')).status, 400);
    assert.equal((await act(999999, { add_host: { host: 'cmp-1' } })).status, 404);
    assert.equal((await act(999999, { set_metadata: { metadata: { a: 'b' } } })).status, 404);
  });

  test('update renames and moves zones; 409 for a taken name; 400 for an empty body, an empty or null zone, unknown fields', async () => {
    const a = await created('before', 'az-before');
    const other = await created('someone-else');
    const put = (body: unknown) => h.call('PUT', `/v2.1/os-aggregates/${a.id}`, { body });
    const r = await put({ aggregate: { name: 'after', availability_zone: 'az-after' } });
    assert.equal(r.status, 200);
    conforms('AggregateResponse', r.body);
    assert.equal(r.body.aggregate.name, 'after');
    assert.equal(r.body.aggregate.availability_zone, 'az-after');
    assert.match(r.body.aggregate.updated_at, NAIVE_MICROS);
    assert.equal((await put({ aggregate: { name: ' trimmed ' } })).body.aggregate.name, 'trimmed');
    const taken = await put({ aggregate: { name: 'someone-else' } });
    assert.equal(taken.status, 409);
    for (const body of [{ aggregate: {} }, {}, { aggregate: { availability_zone: '' } }, { aggregate: { name: 'x', hosts: [] } }, { aggregate: { name: '' } }]) {
      assert.equal((await put(body)).status, 400, JSON.stringify(body));
    }
    const nullZone = await put({ aggregate: { availability_zone: null } });
    assert.equal(nullZone.status, 400);
    assert.match(nullZone.body.badRequest.message, /^Cannot update aggregate \d+\. Reason: Aggregate trimmed does not support empty named availability zone\.$/);
    for (const id of [a.id, other.id]) await h.call('DELETE', `/v2.1/os-aggregates/${id}`);
  });

  test('add_host and remove_host: 404 for a host with no compute service, 409 for a host already in, 404 to remove one not in', async () => {
    const a = await created('hosts');
    const added = await act(a.id, { add_host: { host: 'cmp-1' } });
    assert.equal(added.status, 200);
    conforms('AggregateResponse', added.body);
    assert.deepEqual(added.body.aggregate.hosts, ['cmp-1']);
    assert.deepEqual((await show(a.id)).body.aggregate.hosts, ['cmp-1']);

    const twice = await act(a.id, { add_host: { host: 'cmp-1' } });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.conflictingRequest.message, `Aggregate ${a.id} already has host cmp-1.`);
    const unknown = await act(a.id, { add_host: { host: 'nonexist_host-1' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.itemNotFound.message, 'Compute host nonexist_host-1 could not be found.');
    assert.equal((await act(a.id, { add_host: { host: 'controller' } })).status, 404, 'a host with no nova-compute service');
    for (const body of [{ add_host: {} }, { add_host: { host: '' } }, { add_host: { host: 'a b' } }, { add_host: { host: 'cmp-1', x: 1 } }, { nothing: {} }, {}]) {
      assert.equal((await act(a.id, body)).status, 400, JSON.stringify(body));
    }

    const notIn = await act(a.id, { remove_host: { host: 'cmp-2' } });
    assert.equal(notIn.status, 404);
    assert.equal(notIn.body.itemNotFound.message, `Cannot remove host cmp-2 in aggregate ${a.id}`);
    assert.equal((await act(a.id, { remove_host: { host: 'nonexist_host' } })).status, 404);
    const removed = await act(a.id, { remove_host: { host: 'cmp-1' } });
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.body.aggregate.hosts, []);
    await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
  });

  test('delete is a 400 while the aggregate has hosts, then a 200 with no body, then a 404', async () => {
    const a = await created('to-delete');
    await act(a.id, { add_host: { host: 'cmp-2' } });
    const busy = await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
    assert.equal(busy.status, 400);
    assert.match(busy.body.badRequest.message, /Host aggregate is not empty/);
    await act(a.id, { remove_host: { host: 'cmp-2' } });
    const gone = await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
    assert.equal(gone.status, 200);
    assert.equal(gone.body, undefined);
    assert.equal((await show(a.id)).status, 404);
  });

  test('set_metadata sets keys and a null removes one (missing keys too); bad keys and values are a 400', async () => {
    const a = await created('meta');
    const set = (metadata: unknown) => act(a.id, { set_metadata: { metadata } });
    const r = await set({ key: 'value', other: 'x' });
    assert.equal(r.status, 200);
    conforms('AggregateResponse', r.body);
    assert.deepEqual(r.body.aggregate.metadata, { key: 'value', other: 'x' });
    assert.deepEqual((await set({ other: null, never: null, key: 'v2' })).body.aggregate.metadata, { key: 'v2' });
    assert.deepEqual((await show(a.id)).body.aggregate.metadata, { key: 'v2' });
    for (const metadata of [{ 'bad/key': 'v' }, { k: 'v'.repeat(256) }, { k: 1 }, 'text', { ['k'.repeat(256)]: 'v' }]) {
      assert.equal((await set(metadata)).status, 400, JSON.stringify(metadata));
    }
    assert.equal((await act(a.id, { set_metadata: {} })).status, 400);
    // availability_zone through metadata is the aggregate's zone.
    assert.equal((await set({ availability_zone: 'az-meta' })).body.aggregate.availability_zone, 'az-meta');
    const empty = await set({ availability_zone: '' });
    assert.equal(empty.status, 400);
    assert.match(empty.body.badRequest.message, /^Cannot update metadata of aggregate \d+\. Reason: .*empty named availability zone\.$/);
    await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
  });

  test('a host in a zoned aggregate is in that zone: os-availability-zone, os-services and the server view agree', async () => {
    const a = await created('zone-a', 'az-a');
    assert.ok(!('az-a' in (await zonesDetail())), 'a zone without hosts is no zone');
    await act(a.id, { add_host: { host: 'cmp-3' } });
    const zones = await zonesDetail();
    assert.deepEqual(zones['az-a'], ['cmp-3']);
    assert.ok(!zones.nova.includes('cmp-3'));
    const listed = (await h.call('GET', '/v2.1/os-availability-zone', { token: alice.token })).body.availabilityZoneInfo.map((z: any) => z.zoneName);
    assert.ok(listed.includes('az-a'));
    const svc = (await h.call('GET', '/v2.1/os-services?host=cmp-3&binary=nova-compute')).body.services[0];
    assert.equal(svc.zone, 'az-a');
    const uuid = await addInstance(db(), { projectId: alice.projectId, userId: alice.userId, host: 'cmp-3' });
    const server = (await h.call('GET', `/v2.1/servers/${uuid}`, { token: alice.token })).body.server;
    assert.equal(server['OS-EXT-AZ:availability_zone'], 'az-a');

    // A zone change of an aggregate whose hosts hold instances is refused (Nova's check_no_instances_in_az).
    const move = await h.call('PUT', `/v2.1/os-aggregates/${a.id}`, { body: { aggregate: { availability_zone: 'az-moved' } } });
    assert.equal(move.status, 400);
    assert.match(move.body.badRequest.message, /One or more hosts contain instances in this zone/);
    await db()('instances').where({ uuid }).update({ deleted_at: new Date(), vm_state: 'deleted' });

    await act(a.id, { remove_host: { host: 'cmp-3' } });
    assert.ok((await zonesDetail()).nova.includes('cmp-3'));
    assert.equal((await h.call('GET', '/v2.1/os-services?host=cmp-3&binary=nova-compute')).body.services[0].zone, 'nova');
    await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
  });

  test('a host cannot be in two zones: add_host is a 409, a zone change by update or set_metadata a 400; the same zone or no zone is fine', async () => {
    const a = await created('two-a', 'az-one');
    const b = await created('two-b', 'az-two');
    const same = await created('two-same', 'az-one');
    const plain = await created('two-plain');
    assert.equal((await act(a.id, { add_host: { host: 'cmp-2' } })).status, 200);
    const clash = await act(b.id, { add_host: { host: 'cmp-2' } });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.conflictingRequest.message, `Cannot add host to aggregate ${b.id}. Reason: One or more hosts already in availability zone(s) ['az-one'].`);
    assert.equal((await act(same.id, { add_host: { host: 'cmp-2' } })).status, 200);
    assert.equal((await act(plain.id, { add_host: { host: 'cmp-2' } })).status, 200);

    const update = await h.call('PUT', `/v2.1/os-aggregates/${plain.id}`, { body: { aggregate: { availability_zone: 'az-two' } } });
    assert.equal(update.status, 400);
    assert.match(update.body.badRequest.message, /already in availability zone\(s\) \['az-one'\]/);
    const meta = await act(same.id, { set_metadata: { metadata: { availability_zone: 'az-three' } } });
    assert.equal(meta.status, 400);
    assert.equal((await h.call('PUT', `/v2.1/os-aggregates/${plain.id}`, { body: { aggregate: { availability_zone: 'az-one' } } })).status, 200);

    for (const x of [a, same, plain]) await act(x.id, { remove_host: { host: 'cmp-2' } });
    for (const x of [a, b, same, plain]) assert.equal((await h.call('DELETE', `/v2.1/os-aggregates/${x.id}`)).status, 200);
  });

  test('deleting a compute service takes its host out of its aggregates', async () => {
    const { service } = await addComputeHost(db(), h.identity.config, 'cmp-doomed');
    const a = await created('doomed');
    await act(a.id, { add_host: { host: 'cmp-doomed' } });
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${service.uuid}`, { version: '2.53' })).status, 204);
    assert.deepEqual((await show(a.id)).body.aggregate.hosts, []);
    await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
  });

  test('admins only: a member gets 403 on every call', async () => {
    const a = await created('admins-only');
    const t = { token: alice.token };
    assert.equal((await h.call('GET', '/v2.1/os-aggregates', t)).status, 403);
    assert.equal((await h.call('POST', '/v2.1/os-aggregates', { ...t, body: { aggregate: { name: 'nope' } } })).status, 403);
    assert.equal((await h.call('GET', `/v2.1/os-aggregates/${a.id}`, t)).status, 403);
    assert.equal((await h.call('PUT', `/v2.1/os-aggregates/${a.id}`, { ...t, body: { aggregate: { name: 'nope' } } })).status, 403);
    assert.equal((await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`, t)).status, 403);
    for (const body of [{ add_host: { host: 'cmp-1' } }, { remove_host: { host: 'cmp-1' } }, { set_metadata: { metadata: { a: 'b' } } }]) {
      assert.equal((await act(a.id, body, t)).status, 403, JSON.stringify(body));
    }
    await h.call('DELETE', `/v2.1/os-aggregates/${a.id}`);
  });
});
