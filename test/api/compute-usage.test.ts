import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addInstance, FLAVOR } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const at = (iso: string) => new Date(`${iso}Z`);
const BIG = { name: 'm1.big', vcpus: 2, memory_mb: 4096, root_gb: 20, ephemeral_gb: 5 };
const WINDOW = 'start=2024-01-01T00:00:00&end=2024-01-02T00:00:00';

describe('Nova os-simple-tenant-usage', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser;
  let running: string;
  let ended: string;
  let bobs: string;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    const db = h.identity.database.db;
    running = await addInstance(db, { projectId: alice.projectId, name: 'running', flavor: BIG, launchedAt: at('2024-01-01T00:00:00') });
    ended = await addInstance(db, {
      projectId: alice.projectId,
      name: 'ended',
      launchedAt: at('2024-01-01T06:00:00'),
      terminatedAt: at('2024-01-01T12:00:00'),
      deletedAt: at('2024-01-01T12:00:00'),
    });
    // Outside the window: launched after it, terminated before it, never launched.
    await addInstance(db, { projectId: alice.projectId, launchedAt: at('2024-01-03T00:00:00') });
    await addInstance(db, { projectId: alice.projectId, launchedAt: at('2023-12-01T00:00:00'), terminatedAt: at('2023-12-31T00:00:00'), deletedAt: at('2023-12-31T00:00:00') });
    await addInstance(db, { projectId: alice.projectId, launchedAt: null, vmState: 'error' });
    bobs = await addInstance(db, { projectId: bob.projectId, name: 'bobs', launchedAt: at('2023-12-31T00:00:00'), terminatedAt: at('2024-01-02T06:00:00') });
  });
  after(() => h.close());

  const get = (url: string, opts: { token?: string; version?: string } = {}) => h.call('GET', `/v2.1/os-simple-tenant-usage${url}`, opts);

  test('one project\'s usage: size × hours within the period, deleted servers included, with each server', async () => {
    const r = await get(`/${alice.projectId}?${WINDOW}`);
    assert.equal(r.status, 200);
    conforms('TenantUsageResponse', r.body);
    const u = r.body.tenant_usage;
    assert.equal(Object.keys(u).length, 8);
    assert.equal(u.tenant_id, alice.projectId);
    assert.equal(u.start, '2024-01-01T00:00:00.000000');
    assert.equal(u.stop, '2024-01-02T00:00:00.000000');
    assert.equal(u.total_hours, 24 + 6);
    assert.equal(u.total_vcpus_usage, 2 * 24 + 1 * 6);
    assert.equal(u.total_memory_mb_usage, 4096 * 24 + FLAVOR.memory_mb * 6);
    assert.equal(u.total_local_gb_usage, 25 * 24 + FLAVOR.root_gb * 6);
    const byId = Object.fromEntries(u.server_usages.map((s: any) => [s.instance_id, s]));
    assert.deepEqual(Object.keys(byId).sort(), [running, ended].sort());
    const e = byId[ended];
    assert.deepEqual(e, {
      instance_id: ended,
      name: 'ended',
      tenant_id: alice.projectId,
      flavor: 'm1.small',
      hours: 6,
      vcpus: 1,
      memory_mb: 2048,
      local_gb: 20,
      started_at: '2024-01-01T06:00:00.000000',
      ended_at: '2024-01-01T12:00:00.000000',
      state: 'terminated',
      uptime: 6 * 3600,
    });
    const run = byId[running];
    assert.deepEqual([run.state, run.ended_at, run.flavor, run.local_gb, run.hours], ['active', null, 'm1.big', 25, 24]);
    assert.ok(run.uptime > 24 * 3600, 'uptime runs to now');
  });

  test('every project\'s usage (admins), by project; detailed=1 adds the servers', async () => {
    const r = await get(`?${WINDOW}`);
    assert.equal(r.status, 200);
    conforms('TenantUsageList', r.body);
    const usages = r.body.tenant_usages;
    assert.deepEqual(usages.map((u: any) => u.tenant_id), [alice.projectId, bob.projectId].sort());
    for (const u of usages) assert.equal(Object.keys(u).length, 7);
    const bobsUsage = usages.find((u: any) => u.tenant_id === bob.projectId);
    assert.equal(bobsUsage.total_hours, 24);
    const detailed = (await get(`?${WINDOW}&detailed=1`)).body.tenant_usages;
    for (const u of detailed) assert.equal(Object.keys(u).length, 8);
    assert.deepEqual(detailed.find((u: any) => u.tenant_id === bob.projectId).server_usages.map((s: any) => s.instance_id), [bobs]);
    assert.equal((await get(`?${WINDOW}&detailed=true`)).body.tenant_usages[0].server_usages, undefined, 'only 1 means detailed');
  });

  test('a member sees their own project\'s usage, not another\'s nor the list', async () => {
    assert.equal((await get(`/${alice.projectId}?${WINDOW}`, { token: alice.token })).status, 200);
    assert.equal((await get(`/${bob.projectId}?${WINDOW}`, { token: alice.token })).status, 403);
    assert.equal((await get(`?${WINDOW}`, { token: alice.token })).status, 403);
  });

  test('the period: start before end (400 otherwise), Nova\'s three formats, now by default and as the latest end', async () => {
    const reversed = await get(`/${alice.projectId}?start=2024-01-02T00:00:00&end=2024-01-01T00:00:00`);
    assert.deepEqual(reversed.body, { badRequest: { code: 400, message: 'Invalid start time. The start time cannot occur after the end time.' } });
    assert.equal((await get(`/${alice.projectId}?start=2024-01-01T00:00:00&end=2024-01-01T00:00:00`)).status, 400);
    for (const bad of ['2024-01-01', '2024-13-01T00:00:00', '2024-01-01 00:00:00', 'yesterday', '2024-01-01T00:00:00Z']) {
      const r = await get(`/${alice.projectId}?start=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.badRequest.message, 'Invalid datetime string: Datetime is in invalid format');
    }
    const fractions = await get(`/${alice.projectId}?start=${encodeURIComponent('2024-01-01 06:00:00.5')}&end=2024-01-01T12:00:00.250000`);
    assert.equal(fractions.body.tenant_usage.start, '2024-01-01T06:00:00.500000');
    assert.equal(fractions.body.tenant_usage.stop, '2024-01-01T12:00:00.250000');
    // No end: now; an end in the future is cut to now.
    const open = (await get(`/${alice.projectId}?start=2024-01-01T00:00:00&end=2999-01-01T00:00:00`)).body.tenant_usage;
    assert.ok(Math.abs(Date.parse(`${open.stop}Z`) - Date.now()) < 60_000);
    assert.equal((await get(`/${alice.projectId}?start=2024-01-01T00:00:00`)).body.tenant_usage.server_usages.length, 3);
    // A project with no usage: {}.
    assert.deepEqual((await get(`/nobody?${WINDOW}`)).body, { tenant_usage: {} });
  });

  test('an empty project id is a 404; unknown parameters are ignored, and refused from 2.75', async () => {
    assert.equal((await get(`/?${WINDOW}`)).status, 404);
    assert.equal((await get(`?${WINDOW}&foo=1`)).status, 200);
    assert.equal((await get(`?${WINDOW}&foo=1`, { version: '2.75' })).status, 400);
    assert.equal((await get(`/${alice.projectId}?${WINDOW}&detailed=1`, { version: '2.75' })).status, 400);
  });

  test('from 2.40 paged over the servers with limit and marker (a server uuid) and a next link', async () => {
    const ordered = [...[running, ended].map((id) => [alice.projectId, id]), [bob.projectId, bobs]].sort().map(([, id]) => id);
    const first = await get(`?${WINDOW}&detailed=1&limit=2`, { version: '2.40' });
    conforms('TenantUsageList', first.body);
    assert.deepEqual(first.body.tenant_usages.flatMap((u: any) => u.server_usages.map((s: any) => s.instance_id)), ordered.slice(0, 2));
    const next = first.body.tenant_usages_links[0];
    assert.equal(next.rel, 'next');
    assert.match(next.href, new RegExp(`/v2\\.1/os-simple-tenant-usage\\?.*marker=${ordered[1]}`));
    const rest = await get(`?${WINDOW}&detailed=1&limit=2&marker=${ordered[1]}`, { version: '2.40' });
    assert.deepEqual(rest.body.tenant_usages.flatMap((u: any) => u.server_usages.map((s: any) => s.instance_id)), ordered.slice(2));
    assert.equal(rest.body.tenant_usages_links, undefined);

    const own = await get(`/${alice.projectId}?${WINDOW}&limit=1`, { version: '2.40' });
    assert.equal(own.body.tenant_usage.server_usages.length, 1);
    assert.match(own.body.tenant_usage_links[0].href, new RegExp(`/os-simple-tenant-usage/${alice.projectId}\\?`));
    for (const q of ['marker=nope', 'marker=00000000-0000-0000-0000-000000000000', 'limit=-1']) {
      assert.equal((await get(`?${WINDOW}&${q}`, { version: '2.40' })).status, 400, q);
    }
    const bad = await get(`?${WINDOW}&marker=00000000-0000-0000-0000-000000000000`, { version: '2.40' });
    assert.equal(bad.body.badRequest.message, 'Marker 00000000-0000-0000-0000-000000000000 could not be found.');
    // Before 2.40 limit and marker mean nothing.
    const unpaged = await get(`?${WINDOW}&detailed=1&limit=1&marker=nope`, { version: '2.39' });
    assert.equal(unpaged.status, 200);
    assert.equal(unpaged.body.tenant_usages_links, undefined);
    assert.equal(unpaged.body.tenant_usages.flatMap((u: any) => u.server_usages).length, 3);
  });
});
