import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { computePolicyNewDefaults } from '../../api/compute/policy-rules.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Nova servers: create, show, list, update, delete', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser; // another project
  let image: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.projectToken();
    image = await addImage(db(), { owner: h.adminProjectId, properties: { os_distro: 'cirros', hw_disk_bus: 'virtio' } });
    for (const [id, name, ram, vcpus, disk] of [
      ['1', 'm1.tiny', 512, 1, 1],
      ['2', 'm1.small', 2048, 2, 20],
    ] as const) {
      assert.equal((await h.call('POST', '/v2.1/flavors', { body: { flavor: { id, name, ram, vcpus, disk } } })).status, 200);
    }
    await h.call('POST', '/v2.1/flavors/1/os-extra_specs', { body: { extra_specs: { 'hw:cpu_policy': 'shared' } } });
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    await addComputeHost(db(), h.identity.config, 'node-1');
    await h.bus.serveCompute('node-1');
  });
  after(() => h.close());

  const create = (server: Record<string, unknown>, opts: { token?: string; version?: string; hints?: Record<string, unknown> } = {}) =>
    h.call('POST', '/v2.1/servers', {
      body: { server: { name: 'vm', imageRef: image, flavorRef: '1', ...server }, ...(opts.hints ? { 'os:scheduler_hints': opts.hints } : {}) },
      token: opts.token ?? alice.token,
      version: opts.version,
    });
  const show = (id: string, opts: { token?: string; version?: string } = {}) => h.call('GET', `/v2.1/servers/${id}`, { token: opts.token ?? alice.token, version: opts.version });

  test('create: 202 with id, links, diskConfig, security groups and an admin password; Location; the row building/scheduling; build_instances cast', async () => {
    const r = await create({ name: 'web-1', metadata: { role: 'web' }, key_name: undefined });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    conforms('ServerCreateResponse', r.body);
    const s = r.body.server;
    assert.match(s.id, UUID);
    assert.deepEqual(Object.keys(s).sort(), ['OS-DCF:diskConfig', 'adminPass', 'id', 'links', 'security_groups']);
    assert.equal(s['OS-DCF:diskConfig'], 'MANUAL');
    assert.deepEqual(s.security_groups, [{ name: 'default' }]);
    assert.match(s.adminPass, /^[2-9A-HJ-NP-Za-km-z]{12}$/);
    assert.equal(r.headers.location, s.links[0].href);
    assert.match(s.links[0].href, new RegExp(`/v2.1/servers/${s.id}$`));

    const row = await db()('instances').where({ uuid: s.id }).first();
    assert.equal(row.vm_state, 'building');
    assert.equal(row.task_state, 'scheduling');
    assert.equal(row.power_state, 0);
    assert.equal(row.host, null);
    assert.equal(row.project_id, alice.projectId);
    assert.equal(row.user_id, alice.userId);
    assert.equal(row.hostname, 'web-1');
    assert.equal(row.flavor.flavorid, '1');
    assert.deepEqual(row.flavor.extra_specs, { 'hw:cpu_policy': 'shared' });
    assert.equal(row.vcpus, 1);
    assert.equal(row.memory_mb, 512);
    assert.equal(row.image_ref, image);
    assert.equal(row.image_meta.properties.os_distro, 'cirros');
    assert.equal(row.request_spec.admin_password, s.adminPass);
    assert.deepEqual(row.security_groups, ['default']);

    const cast = await h.bus.waitFor('scheduler', 'build_instances', (args) => args.instance_uuids.includes(s.id));
    assert.deepEqual(cast.args.instance_uuids, [s.id]);
    assert.equal(cast.args.request_id, r.headers['x-openstack-request-id']);
    const action = await db()('instance_actions').where({ instance_uuid: s.id }).first();
    assert.equal(action.action, 'create');
    assert.equal(action.request_id, r.headers['x-openstack-request-id']);
  });

  test('show at 2.1: BUILD, the flavor and image as links, extended status, no admin attributes for members', async () => {
    const { body } = await create({ name: 'show-me', metadata: { a: 'b' } });
    const r = await show(body.server.id);
    assert.equal(r.status, 200);
    conforms('ServerResponse', r.body);
    const s = r.body.server;
    assert.equal(s.status, 'BUILD');
    assert.equal(s.progress, 0);
    assert.equal(s.tenant_id, alice.projectId);
    assert.equal(s.user_id, alice.userId);
    assert.deepEqual(s.metadata, { a: 'b' });
    assert.equal(s.hostId, '');
    assert.deepEqual(s.addresses, {});
    assert.equal(s.image.id, image);
    assert.match(s.image.links[0].href, new RegExp(`/images/${image}$`));
    assert.equal(s.flavor.id, '1');
    assert.equal(s.flavor.links[0].rel, 'bookmark');
    assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(s['OS-EXT-STS:vm_state'], 'building');
    assert.equal(s['OS-EXT-STS:task_state'], 'scheduling');
    assert.equal(s['OS-EXT-STS:power_state'], 0);
    assert.equal(s['OS-SRV-USG:launched_at'], null);
    assert.equal(s['OS-EXT-AZ:availability_zone'], '');
    assert.deepEqual(s['os-extended-volumes:volumes_attached'], []);
    assert.equal(s.key_name, null);
    assert.equal(s.config_drive, '');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined);
    for (const k of ['locked', 'description', 'tags', 'host_status', 'locked_reason']) assert.equal(k in s, false, k);
  });

  test('show by microversion: locked 2.9, description 2.19, tags 2.26, embedded flavor 2.47, locked_reason 2.73, hostname 2.90; admin sees OS-EXT-SRV-ATTR and host_status', async () => {
    const { body } = await create({ name: 'Versions Box', description: 'd' }, { version: '2.19' });
    const id = body.server.id;
    await placeServer(db(), id, 'node-1');
    const v247 = (await show(id, { version: '2.47' })).body.server;
    assert.deepEqual(v247.flavor, { vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: { 'hw:cpu_policy': 'shared' } });
    assert.equal(v247.locked, false);
    assert.equal(v247.description, 'd');
    assert.deepEqual(v247.tags, []);
    assert.equal(v247.status, 'ACTIVE');
    assert.equal(v247.hostId, createHash('sha224').update(alice.projectId + 'node-1').digest('hex'));
    assert.match(v247['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(v247['OS-EXT-AZ:availability_zone'], 'nova');

    const v290 = (await show(id, { version: '2.90' })).body.server;
    conforms('ServerResponse', { server: v290 });
    assert.equal(v290.locked_reason, null);
    assert.equal(v290['OS-EXT-SRV-ATTR:hostname'], 'versions-box');
    assert.equal(v290.trusted_image_certificates, null);
    assert.deepEqual(v290.server_groups, []);
    assert.equal(v290['OS-EXT-SRV-ATTR:host'], undefined);

    const admin = (await show(id, { token: h.adminToken, version: '2.90' })).body.server;
    conforms('ServerResponse', { server: admin });
    assert.equal(admin['OS-EXT-SRV-ATTR:host'], 'node-1');
    assert.equal(admin['OS-EXT-SRV-ATTR:hypervisor_hostname'], 'node-1');
    assert.equal(admin['OS-EXT-SRV-ATTR:instance_name'], `instance-${id}`);
    assert.equal(admin['OS-EXT-SRV-ATTR:launch_index'], 0);
    assert.match(admin['OS-EXT-SRV-ATTR:reservation_id'], /^r-[a-z0-9]{8}$/);
    assert.equal(admin.host_status, 'UP');
  });

  test("another project's server is a 404 everywhere; an admin sees it", async () => {
    const { body } = await create({ name: 'private' });
    const id = body.server.id;
    const missing = { itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } };
    assert.deepEqual((await show(id, { token: bob.token })).body, missing);
    assert.equal((await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { name: 'x' } }, token: bob.token })).status, 404);
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: bob.token })).status, 404);
    assert.equal((await h.call('POST', `/v2.1/servers/${id}/action`, { body: { 'os-stop': null }, token: bob.token })).status, 404);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}/metadata`, { token: bob.token })).status, 404);
    assert.equal((await h.call('GET', `/v2.1/servers/${id}/os-instance-actions`, { token: bob.token })).status, 404);
    assert.equal((await show(id, { token: h.adminToken })).status, 200);
    assert.equal((await show('not-a-uuid')).status, 404);
  });

  test('bad input is a 400 naming the field or as Nova words it', async () => {
    const cases: [Record<string, unknown>, RegExp, string?][] = [
      [{ name: '' }, /server\/name/],
      [{ name: undefined }, /'server\/name' is a required property/],
      [{ flavorRef: undefined }, /flavorRef/],
      [{ imageRef: 'nope' }, /server\/imageRef/],
      [{ imageRef: undefined }, /^Missing imageRef attribute$/],
      [{ imageRef: randomUUID() }, /^Can not find requested image$/],
      [{ flavorRef: '999' }, /^Flavor 999 could not be found\.$/],
      [{ key_name: 'no-such-key' }, /^Invalid key_name provided\.$/],
      [{ user_data: 'not base64!' }, /server\/user_data/],
      [{ metadata: { 'bad/key': 'v' } }, /server\/metadata/],
      [{ min_count: 2, max_count: 1 }, /^min_count must be <= max_count$/],
      [{ networks: [{ uuid: randomUUID() }] }, /^Network [0-9a-f-]+ could not be found\.$/],
      [{ networks: [{ uuid: 'abc' }] }, /^Bad networks format: network uuid is not in proper format \(abc\)$/],
      [{ availability_zone: 'elsewhere' }, /^The requested availability zone is not available$/],
      [{ description: 'x' }, /Additional properties are not allowed \('server\/description' was unexpected\)/],
      [{ networks: 'auto' }, /server\/networks/],
      [{ block_device_mapping_v2: [{ source_type: 'volume', uuid: randomUUID(), destination_type: 'volume', boot_index: 0 }] }, /Block Device Mapping is Invalid/],
      [{ unknown: 1 }, /'server\/unknown' was unexpected/],
    ];
    for (const [server, message] of cases) {
      const r = await create(server);
      assert.equal(r.status, 400, `${JSON.stringify(server)} → ${r.status} ${JSON.stringify(r.body)}`);
      assert.match(r.body.badRequest.message, message, JSON.stringify(server));
    }
    // From 2.37 networks is required, and auto/none accepted.
    assert.match((await create({}, { version: '2.37' })).body.badRequest.message, /'server\/networks' is a required property/);
    const auto = await create({ networks: 'auto' }, { version: '2.37' });
    assert.equal(auto.status, 202);
    const row = await db()('instances').where({ uuid: auto.body.server.id }).first();
    assert.deepEqual(row.requested_networks, [{ network_id: 'auto' }]);
    // A microversion beyond Nova's is a 406.
    assert.equal((await create({}, { version: '2.999' })).status, 406);
  });

  test('image: not active is a 400; private ones of other projects are not found; the flavor must fit', async () => {
    const queued = await addImage(db(), { owner: alice.projectId, status: 'queued' });
    assert.deepEqual((await create({ imageRef: queued })).body, { badRequest: { code: 400, message: `Image ${queued} is not active.` } });
    const bobs = await addImage(db(), { owner: bob.projectId, visibility: 'private' });
    assert.equal((await create({ imageRef: bobs })).body.badRequest.message, 'Can not find requested image');
    assert.equal((await create({ imageRef: bobs }, { token: bob.token })).status, 202);
    const big = await addImage(db(), { owner: alice.projectId, minRam: 1024 });
    assert.equal((await create({ imageRef: big })).body.badRequest.message, "Flavor's memory is too small for requested image.");
    const disk = await addImage(db(), { owner: alice.projectId, size: 2 * 1024 ** 3 });
    assert.match((await create({ imageRef: disk })).body.badRequest.message, /^Flavor's disk is too small for requested image\./);
    // Boot from an image through block_device_mapping_v2 (local root disk), without imageRef.
    const bdm = await create({ imageRef: undefined, block_device_mapping_v2: [{ source_type: 'image', uuid: image, destination_type: 'local', boot_index: 0 }] });
    assert.equal(bdm.status, 202, JSON.stringify(bdm.body));
    assert.equal((await db()('instances').where({ uuid: bdm.body.server.id }).first()).image_ref, image);
  });

  test('private flavors: only projects with access (and admins) boot them', async () => {
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: 'private-1', name: 'private', ram: 256, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } } });
    assert.equal((await create({ flavorRef: 'private-1' })).body.badRequest.message, 'Flavor private-1 could not be found.');
    await h.call('POST', '/v2.1/flavors/private-1/action', { body: { addTenantAccess: { tenant: alice.projectId } } });
    assert.equal((await create({ flavorRef: 'private-1' })).status, 202);
  });

  test('key_name copies the keypair; tags 2.52; description 2.19; hostname 2.90; config_drive; reservation id for several', async () => {
    const kp = await h.call('POST', '/v2.1/os-keypairs', { body: { keypair: { name: 'k1' } }, token: alice.token });
    const r = await create({ name: 'tagged', key_name: 'k1', tags: ['a', 'b'], hostname: 'my-host', config_drive: true, description: 'hello', networks: 'none' }, { version: '2.90' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const row = await db()('instances').where({ uuid: r.body.server.id }).first();
    assert.equal(row.key_name, 'k1');
    assert.equal(row.key_data, kp.body.keypair.public_key);
    assert.deepEqual(row.tags, ['a', 'b']);
    assert.equal(row.hostname, 'my-host');
    assert.equal(row.display_description, 'hello');
    assert.equal(row.config_drive, true);
    assert.equal((await show(r.body.server.id, { version: '2.90' })).body.server.config_drive, 'True');

    const many = await create({ name: 'many', min_count: 2, max_count: 3, return_reservation_id: true });
    assert.equal(many.status, 202);
    assert.match(many.body.reservation_id, /^r-/);
    const rows = await db()('instances').where({ reservation_id: many.body.reservation_id }).orderBy('launch_index');
    assert.deepEqual(
      rows.map((x: any) => [x.display_name, x.hostname, x.launch_index]),
      [['many-1', 'many-1', 0], ['many-2', 'many-2', 1], ['many-3', 'many-3', 2]],
    );
    const uuids = rows.map((x: any) => x.uuid);
    const cast = await h.bus.waitFor('scheduler', 'build_instances', (args) => args.instance_uuids.includes(uuids[0]));
    assert.deepEqual(cast.args.instance_uuids, uuids);
    // One hostname cannot name several servers.
    assert.equal((await create({ hostname: 'one', max_count: 2, networks: 'none' }, { version: '2.90' })).body.badRequest.message, 'Unable to allocate a single hostname to multiple instances');
  });

  test('server group hint: the server joins the group; an unknown group is a 400', async () => {
    const g = (await h.call('POST', '/v2.1/os-server-groups', { body: { server_group: { name: 'g', policies: ['anti-affinity'] } }, token: alice.token })).body.server_group;
    const r = await create({ name: 'grouped' }, { hints: { group: g.id, different_host: [randomUUID()] } });
    assert.equal(r.status, 202);
    const shown = await h.call('GET', `/v2.1/os-server-groups/${g.id}`, { token: alice.token });
    assert.deepEqual(shown.body.server_group.members, [r.body.server.id]);
    const row = await db()('instances').where({ uuid: r.body.server.id }).first();
    assert.equal(row.request_spec.scheduler_hints.group, g.id);
    assert.equal((await show(r.body.server.id, { version: '2.71' })).body.server.server_groups[0], g.id);
    const unknown = randomUUID();
    assert.equal((await create({}, { hints: { group: unknown } })).body.badRequest.message, `Instance group ${unknown} could not be found.`);
  });

  test("quota: 403 with Nova's message; usage shows in limits; metadata_items", async () => {
    const carol = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${carol.projectId}`, { body: { quota_set: { instances: 2, cores: 20, metadata_items: 1 } } });
    assert.equal((await create({ max_count: 2 }, { token: carol.token })).status, 202);
    const over = await create({}, { token: carol.token });
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, { forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances' } });
    const limits = (await h.call('GET', '/v2.1/limits', { token: carol.token })).body.limits.absolute;
    assert.equal(limits.totalInstancesUsed, 2);
    assert.equal(limits.totalCoresUsed, 2);
    assert.equal(limits.totalRAMUsed, 1024);
    // Between min_count and max_count: as many as fit.
    await h.call('PUT', `/v2.1/os-quota-sets/${carol.projectId}`, { body: { quota_set: { instances: 4, cores: 3 } } });
    const some = await create({ min_count: 1, max_count: 3, return_reservation_id: true }, { token: carol.token });
    assert.equal(some.status, 202);
    assert.equal((await db()('instances').where({ reservation_id: some.body.reservation_id })).length, 1);
    const cores = await create({ flavorRef: '2' }, { token: carol.token });
    assert.equal(cores.body.forbidden.message, 'Quota exceeded for cores: Requested 2, but already used 3 of 3 cores');
    const meta = await create({ metadata: { a: '1', b: '2' } }, { token: carol.token });
    assert.deepEqual(meta.body, { forbidden: { code: 403, message: 'Maximum number of metadata items exceeds 1' } });
  });

  test('list and detail: own project only, filters, sorting, paging with servers_links; all_tenants for admins', async () => {
    const dave = await h.projectToken();
    const ids: string[] = [];
    for (const name of ['alpha', 'beta', 'gamma']) ids.push((await create({ name }, { token: dave.token })).body.server.id);
    await placeServer(db(), ids[1], 'node-1');
    await db()('instances').where({ uuid: ids[2] }).update({ tags: JSON.stringify(['blue', 'red']), locked: true, locked_by: 'owner' });

    const list = await h.call('GET', '/v2.1/servers', { token: dave.token });
    assert.equal(list.status, 200);
    conforms('ServerBriefList', list.body);
    assert.deepEqual(list.body.servers.map((s: any) => s.name), ['gamma', 'beta', 'alpha']);
    assert.deepEqual(Object.keys(list.body.servers[0]).sort(), ['id', 'links', 'name']);

    const detail = await h.call('GET', '/v2.1/servers/detail', { token: dave.token, version: '2.73' });
    conforms('ServerDetailList', detail.body);
    assert.equal(detail.body.servers.length, 3);

    const names = async (query: string, version?: string, token = dave.token) => {
      const r = await h.call('GET', `/v2.1/servers/detail${query}`, { token, version });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.servers.map((s: any) => s.name).sort();
    };
    assert.deepEqual(await names('?name=^al'), ['alpha']);
    assert.deepEqual(await names('?status=ACTIVE'), ['beta']);
    assert.deepEqual(await names('?status=BUILD&status=ACTIVE'), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names(`?image=${image}&flavor=1`), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names('?flavor=2'), []);
    assert.deepEqual(await names('?ip=10.0.0.1'), []);
    assert.deepEqual(await names('?tags=blue', '2.26'), ['gamma']);
    assert.deepEqual(await names('?tags=blue,green', '2.26'), []);
    assert.deepEqual(await names('?tags-any=green,red', '2.26'), ['gamma']);
    assert.deepEqual(await names('?not-tags=blue', '2.26'), ['alpha', 'beta']);
    assert.deepEqual(await names('?locked=true', '2.73'), ['gamma']);
    assert.deepEqual(await names('?sort_key=display_name&sort_dir=asc'), ['alpha', 'beta', 'gamma']);
    // A member's host filter is dropped (before 2.75); sorting by host is for admins.
    assert.deepEqual(await names('?host=elsewhere'), ['alpha', 'beta', 'gamma']);
    assert.equal((await h.call('GET', '/v2.1/servers?sort_key=host', { token: dave.token })).status, 403);
    assert.equal((await h.call('GET', '/v2.1/servers?status=NOPE', { token: dave.token, version: '2.38' })).body.badRequest.message, 'Invalid status value');
    assert.deepEqual((await h.call('GET', '/v2.1/servers?status=NOPE', { token: dave.token })).body.servers, []);
    assert.equal((await h.call('GET', '/v2.1/servers?foo=1', { token: dave.token, version: '2.75' })).status, 400);
    assert.equal((await h.call('GET', '/v2.1/servers?changes-since=yesterday', { token: dave.token })).status, 400);
    assert.equal((await h.call('GET', '/v2.1/servers?all_tenants=1', { token: dave.token })).status, 403);
    assert.equal((await h.call('GET', '/v2.1/servers?status=DELETED', { token: dave.token })).body.forbidden.message, 'Only administrators may list deleted instances');

    // Paging: limit, marker, servers_links.
    const page1 = await h.call('GET', '/v2.1/servers?limit=2&sort_key=display_name&sort_dir=asc', { token: dave.token });
    assert.deepEqual(page1.body.servers.map((s: any) => s.name), ['alpha', 'beta']);
    const next = new URL(page1.body.servers_links[0].href);
    assert.equal(next.searchParams.get('marker'), ids[1]);
    const page2 = await h.call('GET', `/v2.1/servers${next.search}`, { token: dave.token });
    assert.deepEqual(page2.body.servers.map((s: any) => s.name), ['gamma']);
    assert.equal(page2.body.servers_links, undefined);
    assert.equal((await h.call('GET', `/v2.1/servers?marker=${randomUUID()}`, { token: dave.token })).status, 400);

    // Admins: all_tenants, project_id, host.
    assert.deepEqual(await names(`?all_tenants=1&project_id=${dave.projectId}`, undefined, h.adminToken), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names(`?all_tenants=1&project_id=${dave.projectId}&host=node-1`, undefined, h.adminToken), ['beta']);
    assert.deepEqual(await names('', undefined, h.adminToken), (await names('', undefined, h.adminToken)).filter(() => true));

    // Deleted servers: changes-since lists them as DELETED.
    const since = new Date(Date.now() - 60_000).toISOString();
    assert.equal((await h.call('DELETE', `/v2.1/servers/${ids[0]}`, { token: dave.token })).status, 204);
    const changed = await h.call('GET', `/v2.1/servers/detail?changes-since=${since}`, { token: dave.token });
    const gone = changed.body.servers.find((s: any) => s.id === ids[0]);
    assert.equal(gone.status, 'DELETED');
    assert.deepEqual(await names(''), ['beta', 'gamma']);
  });

  test('PUT: name, description 2.19, hostname 2.90; the basic view before 2.75, all of it from 2.75', async () => {
    const { body } = await create({ name: 'old' });
    const id = body.server.id;
    const r = await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { name: 'new', accessIPv4: '192.0.2.1' } }, token: alice.token });
    assert.equal(r.status, 200);
    conforms('ServerResponse', r.body);
    assert.equal(r.body.server.name, 'new');
    assert.equal(r.body.server.accessIPv4, '192.0.2.1');
    assert.equal('OS-EXT-STS:vm_state' in r.body.server, false);
    assert.equal((await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { description: 'x' } }, token: alice.token })).status, 400);
    const v275 = await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { description: 'desc' } }, token: alice.token, version: '2.75' });
    assert.equal(v275.body.server.description, 'desc');
    assert.equal(v275.body.server['OS-EXT-STS:vm_state'], 'building');
    const v290 = await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { hostname: 'new-host' } }, token: alice.token, version: '2.90' });
    assert.equal(v290.body.server['OS-EXT-SRV-ATTR:hostname'], 'new-host');
    assert.equal((await h.call('PUT', `/v2.1/servers/${id}`, { body: { server: { hostname: 'bad_host' } }, token: alice.token, version: '2.90' })).status, 400);
  });

  test('DELETE: a server no host has is deleted at once; one on a host goes deleting and terminate_instance is cast; locked is a 409', async () => {
    const a = (await create({ name: 'unplaced' })).body.server.id;
    assert.equal((await h.call('DELETE', `/v2.1/servers/${a}`, { token: alice.token })).status, 204);
    assert.equal((await show(a)).status, 404);
    const row = await db()('instances').where({ uuid: a }).first();
    assert.equal(row.vm_state, 'deleted');
    assert.ok(row.deleted_at);

    const b = (await create({ name: 'placed' })).body.server.id;
    await placeServer(db(), b, 'node-1');
    const del = await h.call('DELETE', `/v2.1/servers/${b}`, { token: alice.token });
    assert.equal(del.status, 204);
    const s = (await show(b)).body.server;
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:task_state'], 'deleting');
    const cast = await h.bus.waitFor('compute.node-1', 'terminate_instance', (args) => args.instance.uuid === b);
    assert.equal(cast.args.instance.uuid, b);
    assert.equal(cast.args.instance.task_state, 'deleting');
    assert.equal(cast.args.request_id, del.headers['x-openstack-request-id']);
    const action = await db()('instance_actions').where({ instance_uuid: b, action: 'delete' }).first();
    assert.equal(action.request_id, del.headers['x-openstack-request-id']);

    // A host whose service is down: deleted at once (Nova's local delete).
    const c = (await create({ name: 'on-a-dead-host' })).body.server.id;
    await placeServer(db(), c, 'gone-host');
    assert.equal((await h.call('DELETE', `/v2.1/servers/${c}`, { token: alice.token })).status, 204);
    assert.equal((await show(c)).status, 404);

    const d = (await create({ name: 'locked' })).body.server.id;
    await placeServer(db(), d, 'node-1');
    await h.call('POST', `/v2.1/servers/${d}/action`, { body: { lock: null }, token: h.adminToken });
    const refused = await h.call('DELETE', `/v2.1/servers/${d}`, { token: alice.token });
    assert.deepEqual(refused.body, { conflictingRequest: { code: 409, message: `Instance ${d} is locked` } });
    assert.equal((await h.call('POST', `/v2.1/servers/${d}/action`, { body: { forceDelete: null }, token: h.adminToken })).status, 202);
  });
});

describe('Nova servers with the new policy defaults', () => {
  let h: ComputeHarness;
  before(async () => {
    h = await startCompute({ policy: computePolicyNewDefaults });
  });
  after(() => h.close());

  test('readers list servers but cannot create or change them; members can', async () => {
    const member = await h.projectToken();
    const reader = await h.userToken(member.projectId, ['reader']);
    const image = await addImage(h.identity.database.db, { owner: member.projectId });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'tiny', ram: 64, vcpus: 1, disk: 1 } } });
    const body = { server: { name: 'p', imageRef: image, flavorRef: '1' } };
    assert.equal((await h.call('GET', '/v2.1/servers', { token: reader.token })).status, 200);
    assert.equal((await h.call('POST', '/v2.1/servers', { body, token: reader.token })).status, 403);
    const created = await h.call('POST', '/v2.1/servers', { body, token: member.token });
    assert.equal(created.status, 202);
    const id = created.body.server.id;
    assert.equal((await h.call('GET', `/v2.1/servers/${id}`, { token: reader.token })).status, 200);
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: reader.token })).status, 403);
    assert.equal((await h.call('DELETE', `/v2.1/servers/${id}`, { token: member.token })).status, 204);
  });
});
