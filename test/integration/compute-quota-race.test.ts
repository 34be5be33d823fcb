import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines } from '../support/db.ts';
import { addImage, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { newRsaOpensshKey } from '../support/ssh-keys.ts';

const CONCURRENCY = 50;

/**
 * Many creates at once, each its own HTTP request to a listening compute API:
 * exactly a quota's worth gets through, the rest get Nova's 403, and the
 * usage the API reports is what the database holds. On PostgreSQL (a pool of
 * connections racing) and PGlite (the embedded default).
 */
for (const [engine, open] of databaseEngines) {
  describe(`compute quotas under concurrent creates (${engine})`, () => {
    let h: ComputeHarness;
    let base: string;
    let image: string;
    const db = () => h.identity.database.db;

    before(async () => {
      h = await startCompute({ database: await open() });
      base = await h.app.listen({ port: 0, host: '127.0.0.1' });
      image = await addImage(db(), { owner: h.adminProjectId });
      for (const [id, name, ram, vcpus] of [
        ['1', 'tiny', 512, 1],
        ['2', 'duo', 256, 2],
      ] as const) {
        assert.equal((await h.call('POST', '/v2.1/flavors', { body: { flavor: { id, name, ram, vcpus, disk: 1 } } })).status, 200);
      }
    });
    after(() => h?.close());

    /** One real HTTP request. */
    const send = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${base}/v2.1${path}`, {
        method,
        headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    /** `n` requests at once; their statuses counted, and the distinct 403 bodies. */
    const race = async (n: number, request: (i: number) => Promise<{ status: number; body: any }>) => {
      const results = await Promise.all(Array.from({ length: n }, (_, i) => request(i)));
      const statuses: Record<number, number> = {};
      for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const refusals = [...new Set(results.filter((r) => r.status === 403).map((r) => JSON.stringify(r.body)))].map((b) => JSON.parse(b));
      return { statuses, refusals, results };
    };
    const createServer = (p: ProjectUser, server: Record<string, unknown> = {}, hints?: Record<string, unknown>) =>
      send('POST', '/servers', p.token, { server: { name: 'racer', imageRef: image, flavorRef: '1', ...server }, ...(hints ? { 'os:scheduler_hints': hints } : {}) });
    const setQuota = async (projectId: string, quota: Record<string, number>) =>
      assert.equal((await h.call('PUT', `/v2.1/os-quota-sets/${projectId}`, { body: { quota_set: quota } })).status, 200);
    const liveInstances = async (projectId: string) => {
      const [r] = await db()('instances').where({ project_id: projectId }).whereNull('deleted_at').select(db().raw('count(*) as n, coalesce(sum(vcpus), 0) as cores, coalesce(sum(memory_mb), 0) as ram'));
      return { instances: Number(r.n), cores: Number(r.cores), ram: Number(r.ram) };
    };
    const inUse = async (projectId: string) => {
      const r = await h.call('GET', `/v2.1/os-quota-sets/${projectId}/detail`);
      assert.equal(r.status, 200);
      const q = r.body.quota_set;
      return { instances: q.instances.in_use, cores: q.cores.in_use, ram: q.ram.in_use };
    };
    const forbidden = (message: string) => ({ forbidden: { code: 403, message } });

    test(`${CONCURRENCY} creates against an instances quota of 10: 10 accepted, the rest 403, usage 10`, async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { instances: 10, cores: -1, ram: -1 });
      const { statuses, refusals } = await race(CONCURRENCY, (i) => createServer(p, { name: `vm-${i}` }));
      assert.deepEqual(statuses, { 202: 10, 403: CONCURRENCY - 10 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded for instances: Requested 1, but already used 10 of 10 instances')]);
      assert.deepEqual(await liveInstances(p.projectId), { instances: 10, cores: 10, ram: 5120 });
      assert.deepEqual(await inUse(p.projectId), { instances: 10, cores: 10, ram: 5120 });
      const listed = await send('GET', '/servers', p.token);
      assert.equal(listed.body.servers.length, 10);
    });

    test('a cores quota binds first: 2-vCPU servers against 9 cores make 4', async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { instances: -1, cores: 9, ram: -1 });
      const { statuses, refusals } = await race(CONCURRENCY, () => createServer(p, { flavorRef: '2' }));
      assert.deepEqual(statuses, { 202: 4, 403: CONCURRENCY - 4 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded for cores: Requested 2, but already used 8 of 9 cores')]);
      assert.deepEqual(await liveInstances(p.projectId), { instances: 4, cores: 8, ram: 1024 });
      assert.deepEqual(await inUse(p.projectId), { instances: 4, cores: 8, ram: 1024 });
    });

    test('a ram quota binds first: 512 MB servers against 3000 MB make 5', async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { instances: -1, cores: -1, ram: 3000 });
      const { statuses, refusals } = await race(CONCURRENCY, () => createServer(p));
      assert.deepEqual(statuses, { 202: 5, 403: CONCURRENCY - 5 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded for ram: Requested 512, but already used 2560 of 3000 ram')]);
      assert.deepEqual(await inUse(p.projectId), await liveInstances(p.projectId));
      assert.equal((await liveInstances(p.projectId)).instances, 5);
    });

    test('batches racing: min_count 1 max_count 3 fill the quota exactly; min_count = max_count 3 never go part way', async () => {
      const flexible = await h.projectToken();
      await setQuota(flexible.projectId, { instances: 10, cores: -1, ram: -1 });
      const a = await race(20, () => createServer(flexible, { min_count: 1, max_count: 3 }));
      assert.equal(a.statuses[202] + a.statuses[403], 20);
      assert.ok(a.statuses[202] >= 4 && a.statuses[202] <= 10, `accepted batches: ${a.statuses[202]}`);
      assert.deepEqual(a.refusals, [forbidden('Quota exceeded for instances: Requested 1-3, but already used 10 of 10 instances')]);
      assert.equal((await liveInstances(flexible.projectId)).instances, 10);
      assert.deepEqual(await inUse(flexible.projectId), await liveInstances(flexible.projectId));

      const rigid = await h.projectToken();
      await setQuota(rigid.projectId, { instances: 10, cores: -1, ram: -1 });
      const b = await race(20, () => createServer(rigid, { min_count: 3, max_count: 3 }));
      assert.deepEqual(b.statuses, { 202: 3, 403: 17 });
      // Which refusal a loser saw depends on how many batches were in before it.
      for (const r of b.refusals) assert.match(r.forbidden.message, /^Quota exceeded for instances: Requested 3, but already used 9 of 10 instances$/);
      assert.equal((await liveInstances(rigid.projectId)).instances, 9);
      // Each accepted batch is whole: three instances under one reservation id.
      const reservations = await db()('instances').where({ project_id: rigid.projectId }).groupBy('reservation_id').select('reservation_id', db().raw('count(*) as n'));
      assert.deepEqual(reservations.map((r: { n: string | number }) => Number(r.n)), [3, 3, 3]);
    });

    test('key pairs: a user with a key_pairs quota of 5 gets 5 of 30 concurrent imports; one name wins once', async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { key_pairs: 5 });
      const publicKey = newRsaOpensshKey('race');
      const { statuses, refusals } = await race(30, (i) => send('POST', '/os-keypairs', p.token, { keypair: { name: `key-${i}`, public_key: publicKey } }));
      assert.deepEqual(statuses, { 200: 5, 403: 25 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded, too many key pairs.')]);
      const [{ n }] = await db()('key_pairs').where({ user_id: p.userId }).count({ n: '*' });
      assert.equal(Number(n), 5);
      // (Nova's quota details show no use of key_pairs: they are counted per user only when one is created.)

      const other = await h.projectToken();
      const same = await race(10, () => send('POST', '/os-keypairs', other.token, { keypair: { name: 'shared-name', public_key: publicKey } }));
      assert.deepEqual(same.statuses, { 200: 1, 409: 9 });
      assert.deepEqual(same.results.find((r) => r.status === 409)!.body, { conflictingRequest: { code: 409, message: "Key pair 'shared-name' already exists." } });
    });

    test('server groups: a server_groups quota of 4 lets 4 of 20 concurrent creates through', async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { server_groups: 4 });
      const { statuses, refusals } = await race(20, (i) => send('POST', '/os-server-groups', p.token, { server_group: { name: `g-${i}`, policies: ['affinity'] } }));
      assert.deepEqual(statuses, { 200: 4, 403: 16 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded, too many server groups.')]);
      const groups = await send('GET', '/os-server-groups', p.token);
      assert.equal(groups.body.server_groups.length, 4);
      const detail = (await h.call('GET', `/v2.1/os-quota-sets/${p.projectId}/detail`)).body.quota_set;
      assert.equal(detail.server_groups.in_use, 4);
    });

    test('server group members: a server_group_members quota of 3 lets 3 of 20 concurrent creates into the group', async () => {
      const p = await h.projectToken();
      await setQuota(p.projectId, { instances: -1, cores: -1, ram: -1, server_group_members: 3 });
      const group = await send('POST', '/os-server-groups', p.token, { server_group: { name: 'members', policies: ['anti-affinity'] } });
      assert.equal(group.status, 200);
      const groupId = group.body.server_group.id;
      const { statuses, refusals } = await race(20, () => createServer(p, {}, { group: groupId }));
      assert.deepEqual(statuses, { 202: 3, 403: 17 });
      assert.deepEqual(refusals, [forbidden('Quota exceeded, too many servers in group')]);
      const shown = await send('GET', `/os-server-groups/${groupId}`, p.token);
      assert.equal(shown.body.server_group.members.length, 3);
      assert.equal((await liveInstances(p.projectId)).instances, 3, 'a refused create leaves no instance behind');
    });
  });
}
