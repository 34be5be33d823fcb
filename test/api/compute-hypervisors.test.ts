import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { BusRemoteError } from '../../lib/bus/bus.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addInstance, claim } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const UPTIME = ' 08:32:11 up 3 days,  2:04,  0 users,  load average: 0.00, 0.01, 0.05';

describe('Nova os-hypervisors', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let up: { id: number; uuid: string; serviceId: number; serviceUuid: string };
  let down: { id: number; uuid: string };
  let servers: string[];
  let uptimeAnswer: string | Error = UPTIME;
  before(async () => {
    h = await startCompute();
    await h.bus.serveCompute('hv-a', { uptime: () => uptimeAnswer });
    alice = await h.projectToken();
    const db = h.identity.database.db;
    const config = h.identity.config;
    const a = await addComputeHost(db, config, 'hv-a', { vcpus: 8, memoryMb: 16384, localGb: 100 });
    const b = await addComputeHost(db, config, 'hv-b', { vcpus: 4, memoryMb: 8192, localGb: 50, lastSeenUp: new Date(Date.now() - 600_000), hostIp: null });
    const nodeA = await db('compute_nodes').where({ uuid: a.nodeUuid }).first();
    const nodeB = await db('compute_nodes').where({ uuid: b.nodeUuid }).first();
    up = { id: nodeA.id, uuid: nodeA.uuid, serviceId: a.service.id, serviceUuid: a.service.uuid };
    down = { id: nodeB.id, uuid: nodeB.uuid };
    // Two servers on hv-a (one rebooting), one deleted one that no longer counts.
    servers = [
      await addInstance(db, { projectId: alice.projectId, host: 'hv-a', name: 'web-1', createdAt: new Date(Date.now() - 2000) }),
      await addInstance(db, { projectId: alice.projectId, host: 'hv-a', name: 'web-2', taskState: 'rebooting', createdAt: new Date(Date.now() - 1000) }),
    ];
    await claim(db, servers[0], a.nodeUuid, { VCPU: 2, MEMORY_MB: 2048, DISK_GB: 20 });
    await claim(db, servers[1], a.nodeUuid, { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 10 });
    await addInstance(db, { projectId: alice.projectId, host: 'hv-a', name: 'gone', deletedAt: new Date() });
  });
  after(() => h.close());

  const get = (url: string, version?: string, token?: string) => h.call('GET', `/v2.1/${url}`, { version, token });

  test('lists nodes (id, hostname, state, status) to admins only', async () => {
    const r = await get('os-hypervisors');
    assert.equal(r.status, 200);
    conforms('HypervisorList', r.body);
    assert.deepEqual(r.body.hypervisors, [
      { id: up.id, hypervisor_hostname: 'hv-a', state: 'up', status: 'enabled' },
      { id: down.id, hypervisor_hostname: 'hv-b', state: 'down', status: 'enabled' },
    ]);
    for (const url of ['os-hypervisors', 'os-hypervisors/detail', `os-hypervisors/${up.id}`, 'os-hypervisors/statistics', `os-hypervisors/${up.id}/uptime`, 'os-hypervisors/hv/search', 'os-hypervisors/hv/servers']) {
      assert.equal((await get(url, undefined, alice.token)).status, 403, url);
    }
  });

  test('detail: the node as reported, used = reserved + allocated, running_vms and current_workload from its instances', async () => {
    const r = await get('os-hypervisors/detail');
    assert.equal(r.status, 200);
    conforms('HypervisorList', r.body);
    const [a, b] = r.body.hypervisors;
    assert.deepEqual(a, {
      id: up.id,
      hypervisor_hostname: 'hv-a',
      state: 'up',
      status: 'enabled',
      hypervisor_type: 'fake',
      hypervisor_version: 1000,
      host_ip: '192.0.2.10',
      service: { id: up.serviceId, host: 'hv-a', disabled_reason: null },
      vcpus: 8,
      memory_mb: 16384,
      local_gb: 100,
      vcpus_used: 3,
      memory_mb_used: 512 + 3072, // compute.reserved_host_memory_mb + the instances'
      local_gb_used: 30,
      free_ram_mb: 16384 - 3584,
      free_disk_gb: 70,
      current_workload: 1,
      running_vms: 2,
      disk_available_least: null,
      cpu_info: JSON.stringify({ arch: 'x86_64', model: 'fake' }),
    });
    assert.deepEqual([b.state, b.host_ip, b.vcpus_used, b.memory_mb_used, b.running_vms], ['down', null, 0, 512, 0]);
  });

  test('cpu_info is an object from 2.28; ids are uuids from 2.53; the figures give way to uptime from 2.88', async () => {
    assert.deepEqual((await get('os-hypervisors/detail', '2.28')).body.hypervisors[0].cpu_info, { arch: 'x86_64', model: 'fake' });
    const at253 = (await get('os-hypervisors/detail', '2.53')).body.hypervisors[0];
    assert.equal(at253.id, up.uuid);
    assert.equal(at253.service.id, up.serviceUuid);
    assert.equal((await get('os-hypervisors', '2.53')).body.hypervisors[0].id, up.uuid);
    const at288 = (await get('os-hypervisors/detail', '2.88')).body;
    conforms('HypervisorList', at288);
    assert.deepEqual(Object.keys(at288.hypervisors[0]).sort(), ['host_ip', 'hypervisor_hostname', 'hypervisor_type', 'hypervisor_version', 'id', 'service', 'state', 'status', 'uptime']);
    assert.equal(at288.hypervisors[0].uptime, UPTIME);
    assert.equal(at288.hypervisors[1].uptime, null, 'the down host is not asked');
    assert.equal((await get(`os-hypervisors/${up.uuid}`, '2.88')).body.hypervisor.uptime, UPTIME);
  });

  test('show by integer id before 2.53 (anything else is a 404), by uuid from 2.53 (anything else a 400), with_servers', async () => {
    const shown = await get(`os-hypervisors/${up.id}`);
    assert.equal(shown.status, 200);
    conforms('HypervisorResponse', shown.body);
    assert.equal(shown.body.hypervisor.running_vms, 2);
    assert.equal(shown.body.hypervisor.servers, undefined);
    for (const id of ['abc', '999999', up.uuid]) {
      const r = await get(`os-hypervisors/${id}`);
      assert.deepEqual(r.body, { itemNotFound: { code: 404, message: `Hypervisor with ID '${id}' could not be found.` } });
    }
    assert.equal((await get(`os-hypervisors/${up.uuid}`, '2.53')).body.hypervisor.id, up.uuid);
    const notUuid = await get(`os-hypervisors/${up.id}`, '2.53');
    assert.deepEqual(notUuid.body, { badRequest: { code: 400, message: `Invalid uuid ${up.id}` } });
    assert.equal((await get(`os-hypervisors/${randomUUID()}`, '2.53')).status, 404);

    const withServers = await get(`os-hypervisors/${up.uuid}?with_servers=true`, '2.53');
    conforms('HypervisorResponse', withServers.body);
    assert.deepEqual(withServers.body.hypervisor.servers, [
      { name: 'web-1', uuid: servers[0] },
      { name: 'web-2', uuid: servers[1] },
    ]);
    assert.equal((await get(`os-hypervisors/${down.uuid}?with_servers=1`, '2.53')).body.hypervisor.servers, undefined);
    assert.deepEqual((await get(`os-hypervisors/${down.uuid}?with_servers=1`, '2.75')).body.hypervisor.servers, []);
    assert.equal((await get(`os-hypervisors/${up.uuid}?with_servers=maybe`, '2.53')).status, 400);
    assert.equal((await get(`os-hypervisors/${up.uuid}?limit=1`, '2.53')).status, 400);
    assert.equal((await get(`os-hypervisors/${up.id}?with_servers=maybe`)).status, 200, 'no query schema before 2.53');
  });

  test('from 2.53 the list takes hypervisor_hostname_pattern (not paged; none matching is a 404) and with_servers; unknown parameters are 400s', async () => {
    const matched = await get('os-hypervisors?hypervisor_hostname_pattern=HV-A&with_servers=True', '2.53');
    assert.equal(matched.status, 200);
    assert.deepEqual(matched.body.hypervisors.map((x: any) => [x.hypervisor_hostname, x.servers?.length]), [['hv-a', 2]]);
    assert.equal((await get('os-hypervisors/detail?hypervisor_hostname_pattern=hv', '2.53')).body.hypervisors.length, 2);
    const none = await get('os-hypervisors?hypervisor_hostname_pattern=zz', '2.53');
    assert.deepEqual(none.body, { itemNotFound: { code: 404, message: "No hypervisor matching 'zz' could be found." } });
    const paged = await get('os-hypervisors?hypervisor_hostname_pattern=hv&limit=1', '2.53');
    assert.equal(paged.body.badRequest.message, 'Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.');
    assert.equal((await get('os-hypervisors?hypervisor_hostname_pattern=a%25b', '2.53')).status, 400);
    assert.equal((await get('os-hypervisors?foo=1', '2.53')).status, 400);
    assert.equal((await get('os-hypervisors?foo=1', '2.52')).status, 200);
    // Before 2.53 the pattern is no parameter at all.
    assert.equal((await get('os-hypervisors?hypervisor_hostname_pattern=zz', '2.52')).body.hypervisors.length, 2);
  });

  test('paged with limit and marker from 2.33, with a next link; an unknown marker is a 400', async () => {
    const first = await get('os-hypervisors?limit=1', '2.33');
    assert.deepEqual(first.body.hypervisors.map((x: any) => x.id), [up.id]);
    assert.equal(first.body.hypervisors_links.length, 1);
    assert.match(first.body.hypervisors_links[0].href, new RegExp(`/v2\\.1/os-hypervisors\\?limit=1&marker=${up.id}$`));
    const second = await get(`os-hypervisors/detail?limit=1&marker=${up.id}`, '2.33');
    assert.deepEqual(second.body.hypervisors.map((x: any) => x.id), [down.id]);
    assert.match(second.body.hypervisors_links[0].href, /\/os-hypervisors\/detail\?limit=1&marker=/);
    assert.deepEqual((await get(`os-hypervisors?marker=${down.id}`, '2.33')).body.hypervisors, []);
    assert.deepEqual((await get(`os-hypervisors?marker=${up.uuid}`, '2.53')).body.hypervisors.map((x: any) => x.id), [down.uuid]);
    for (const q of ['marker=12345', `marker=${randomUUID()}`, 'limit=-1', 'limit=x']) assert.equal((await get(`os-hypervisors?${q}`, '2.33')).status, 400, q);
    assert.equal((await get('os-hypervisors?limit=1', '2.32')).body.hypervisors.length, 2, 'not paged before 2.33');
    assert.equal((await get('os-hypervisors?limit=1', '2.32')).body.hypervisors_links, undefined);
  });

  test('statistics (before 2.88): sums over the nodes of enabled compute services', async () => {
    const r = await get('os-hypervisors/statistics');
    assert.equal(r.status, 200);
    conforms('HypervisorStatistics', r.body);
    assert.deepEqual(r.body.hypervisor_statistics, {
      count: 2,
      vcpus: 12,
      memory_mb: 24576,
      local_gb: 150,
      vcpus_used: 3,
      memory_mb_used: 3584 + 512,
      local_gb_used: 30,
      free_ram_mb: 24576 - 4096,
      free_disk_gb: 120,
      current_workload: 1,
      running_vms: 2,
      disk_available_least: 0,
    });
    const db = h.identity.database.db;
    await db('compute_services').where({ host: 'hv-b' }).update({ disabled: true });
    try {
      const s = (await get('os-hypervisors/statistics')).body.hypervisor_statistics;
      assert.deepEqual([s.count, s.vcpus], [1, 8]);
      assert.equal((await get('os-hypervisors')).body.hypervisors[1].status, 'disabled');
    } finally {
      await db('compute_services').where({ host: 'hv-b' }).update({ disabled: false });
    }
    assert.equal((await get('os-hypervisors/statistics', '2.88')).status, 404);
  });

  test('uptime (before 2.88): the agent\'s answer; a down host is a 400; a driver that cannot tell a 501', async () => {
    const shown = await get(`os-hypervisors/${up.id}/uptime`);
    assert.equal(shown.status, 200);
    conforms('HypervisorResponse', shown.body);
    assert.deepEqual(shown.body.hypervisor, { id: up.id, hypervisor_hostname: 'hv-a', state: 'up', status: 'enabled', uptime: UPTIME });
    const downHost = await get(`os-hypervisors/${down.id}/uptime`);
    assert.deepEqual(downHost.body, { badRequest: { code: 400, message: 'Compute service of hv-b is unavailable at this time.' } });
    assert.equal((await get(`os-hypervisors/${up.uuid}/uptime`, '2.53')).body.hypervisor.uptime, UPTIME);
    // A driver that cannot tell.
    uptimeAnswer = new BusRemoteError('get_host_uptime is not supported by this compute driver.', 'NotSupported');
    try {
      assert.equal((await get(`os-hypervisors/${up.id}/uptime`)).status, 501);
    } finally {
      uptimeAnswer = UPTIME;
    }
    assert.equal((await get('os-hypervisors/abc/uptime')).status, 404);
    assert.equal((await get(`os-hypervisors/${up.id}/uptime`, '2.53')).status, 400);
    assert.equal((await get(`os-hypervisors/${up.uuid}/uptime`, '2.88')).status, 404);
  });

  test('search and servers by hostname pattern before 2.53', async () => {
    const found = await get('os-hypervisors/hv-/search', '2.52');
    assert.equal(found.status, 200);
    conforms('HypervisorList', found.body);
    assert.deepEqual(found.body.hypervisors.map((x: any) => Object.keys(x).sort()), [
      ['hypervisor_hostname', 'id', 'state', 'status'],
      ['hypervisor_hostname', 'id', 'state', 'status'],
    ]);
    const withServers = await get('os-hypervisors/hv-a/servers');
    assert.deepEqual(withServers.body.hypervisors[0].servers.map((s: any) => s.uuid), servers);
    assert.equal((await get('os-hypervisors/hv-b/servers')).body.hypervisors[0].servers, undefined);
    assert.equal((await get('os-hypervisors/nothing/search')).status, 404);
    assert.equal((await get('os-hypervisors/nothing/servers')).status, 404);
    assert.equal((await get('os-hypervisors/hv-a/search', '2.53')).status, 404);
    assert.equal((await get('os-hypervisors/hv-a/servers', '2.53')).status, 404);
  });
});
