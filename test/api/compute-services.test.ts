import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost, addInstance, addService, claim } from '../support/compute-rows.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const TEN_MINUTES_AGO = () => new Date(Date.now() - 600_000);

describe('Nova os-services', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    const db = h.identity.database.db;
    await addComputeHost(db, h.identity.config, 'cmp-up');
    await addComputeHost(db, h.identity.config, 'cmp-down', { lastSeenUp: TEN_MINUTES_AGO() });
    await addService(db, 'controller', 'nubo-scheduler');
  });
  after(() => h.close());

  const db = () => h.identity.database.db;
  const services = async (query = '', version?: string) => (await h.call('GET', `/v2.1/os-services${query}`, { version })).body.services;
  const byHost = async (host: string, version?: string) => (await services(`?host=${host}`, version)).find((s: any) => s.binary === 'nova-compute');

  test('lists every service as Nova names it: nova-compute in its zone, others in the internal zone; up or down by the last heartbeat', async () => {
    const r = await h.call('GET', '/v2.1/os-services');
    assert.equal(r.status, 200);
    conforms('ServiceList', r.body);
    const all = r.body.services;
    assert.deepEqual(all.map((s: any) => [s.host, s.binary, s.zone, s.state, s.status]), [
      ['cmp-up', 'nova-compute', 'nova', 'up', 'enabled'],
      ['cmp-down', 'nova-compute', 'nova', 'down', 'enabled'],
      ['controller', 'nova-scheduler', 'internal', 'up', 'enabled'],
    ]);
    const s = all[0];
    assert.deepEqual(Object.keys(s).sort(), ['binary', 'disabled_reason', 'host', 'id', 'state', 'status', 'updated_at', 'zone']);
    assert.equal(typeof s.id, 'number');
    assert.equal(s.disabled_reason, null);
    assert.match(s.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  test('forced_down from 2.11, uuid ids from 2.53', async () => {
    const at211 = await byHost('cmp-up', '2.11');
    assert.equal(at211.forced_down, false);
    assert.equal(typeof at211.id, 'number');
    const at253 = await byHost('cmp-up', '2.53');
    assert.match(at253.id, /^[0-9a-f-]{36}$/);
    assert.equal((await db()('compute_services').where({ uuid: at253.id }).first()).host, 'cmp-up');
  });

  test('filters by host and binary (Nova\'s binary names); unknown parameters are ignored, and refused from 2.75', async () => {
    assert.deepEqual((await services('?binary=nova-compute')).map((s: any) => s.host), ['cmp-up', 'cmp-down']);
    assert.deepEqual((await services('?binary=nova-scheduler')).map((s: any) => s.host), ['controller']);
    assert.deepEqual(await services('?binary=nubo-compute'), []);
    assert.deepEqual((await services('?host=cmp-down')).map((s: any) => s.binary), ['nova-compute']);
    assert.deepEqual(await services('?host=cmp-up&binary=nova-scheduler'), []);
    assert.deepEqual(await services('?host=nowhere&binary=nova-compute'), []);
    assert.equal((await services('?xxx=nova-compute')).length, 3);
    const strict = await h.call('GET', '/v2.1/os-services?xxx=1', { version: '2.75' });
    assert.equal(strict.status, 400);
    assert.match(strict.body.badRequest.message, /xxx/);
  });

  test('non-admins may not list, update or delete', async () => {
    assert.equal((await h.call('GET', '/v2.1/os-services', { token: alice.token })).status, 403);
    assert.equal((await h.call('PUT', '/v2.1/os-services/disable', { token: alice.token, body: { host: 'cmp-up', binary: 'nova-compute' } })).status, 403);
    const id = (await byHost('cmp-up', '2.53')).id;
    assert.equal((await h.call('PUT', `/v2.1/os-services/${id}`, { token: alice.token, version: '2.53', body: { status: 'disabled' } })).status, 403);
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${id}`, { token: alice.token, version: '2.53' })).status, 403);
  });

  test('before 2.53: disable, disable-log-reason, enable and (2.11 on) force-down by host and binary', async () => {
    const put = (action: string, body: unknown, version?: string) => h.call('PUT', `/v2.1/os-services/${action}`, { body, version });
    const target = { host: 'cmp-up', binary: 'nova-compute' };

    const disabled = await put('disable', target);
    assert.equal(disabled.status, 200);
    conforms('ServiceActionResponse', disabled.body);
    assert.deepEqual(disabled.body, { service: { host: 'cmp-up', binary: 'nova-compute', status: 'disabled' } });
    assert.equal((await byHost('cmp-up')).status, 'disabled');

    const reason = await put('disable-log-reason', { ...target, disabled_reason: 'maintenance' });
    assert.deepEqual(reason.body, { service: { host: 'cmp-up', binary: 'nova-compute', status: 'disabled', disabled_reason: 'maintenance' } });
    assert.equal((await byHost('cmp-up')).disabled_reason, 'maintenance');
    const noReason = await put('disable-log-reason', target);
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.badRequest.message, 'Missing disabled reason field');

    assert.deepEqual((await put('enable', target)).body, { service: { host: 'cmp-up', binary: 'nova-compute', status: 'enabled' } });
    const enabled = await byHost('cmp-up');
    assert.equal(enabled.status, 'enabled');
    assert.equal(enabled.disabled_reason, null);

    assert.equal((await put('force-down', { ...target, forced_down: true })).status, 400, 'forced_down is no field before 2.11');
    assert.equal((await put('force-down', target)).status, 404, 'no force-down before 2.11');
    const down = await put('force-down', { ...target, forced_down: 'True' }, '2.11');
    assert.deepEqual(down.body, { service: { host: 'cmp-up', binary: 'nova-compute', forced_down: true } });
    assert.equal((await byHost('cmp-up', '2.11')).state, 'down');
    assert.equal((await put('force-down', target, '2.11')).body.badRequest.message, 'Missing forced_down field');
    await put('force-down', { ...target, forced_down: false }, '2.11');
    const up = await byHost('cmp-up', '2.11');
    assert.deepEqual([up.state, up.forced_down], ['up', false]);
  });

  test('before 2.53: bad actions, bodies, binaries and hosts', async () => {
    const put = (action: string, body: unknown, version?: string) => h.call('PUT', `/v2.1/os-services/${action}`, { body, version });
    const unknown = await put('reboot', { host: 'cmp-up', binary: 'nova-compute' });
    assert.deepEqual(unknown.body, { itemNotFound: { code: 404, message: 'Unknown action' } });
    const scheduler = await put('disable', { host: 'controller', binary: 'nova-scheduler' });
    assert.equal(scheduler.status, 400);
    assert.equal(scheduler.body.badRequest.message, 'Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.');
    const noHost = await put('disable', { host: 'nowhere', binary: 'nova-compute' });
    assert.equal(noHost.status, 404);
    assert.equal(noHost.body.itemNotFound.message, "Host 'nowhere' is not mapped to any cell");
    assert.equal((await put('disable', { host: 'controller', binary: 'nova-compute' })).body.itemNotFound.message, 'Could not find binary nova-compute on host controller.');
    for (const body of [{ binary: 'nova-compute' }, { host: 'cmp-up' }, { host: 'cmp up', binary: 'nova-compute' }, { host: 'cmp-up', binary: 'nova-compute', status: 'disabled' }, { host: 'cmp-up', binary: 'nova-compute', disabled_reason: '' }]) {
      assert.equal((await put('disable', body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await put('force-down', { host: 'cmp-up', binary: 'nova-compute', forced_down: 'maybe' }, '2.11')).status, 400);
  });

  test('from 2.53: PUT /os-services/{uuid} with status, disabled_reason and forced_down returns the whole service', async () => {
    const id = (await byHost('cmp-up', '2.53')).id;
    const put = (body: unknown, which = id) => h.call('PUT', `/v2.1/os-services/${which}`, { body, version: '2.53' });

    const disabled = await put({ status: 'disabled', disabled_reason: 'repairs' });
    assert.equal(disabled.status, 200);
    conforms('ServiceResponse', disabled.body);
    const s = disabled.body.service;
    assert.deepEqual([s.id, s.host, s.binary, s.status, s.disabled_reason, s.forced_down, s.state, s.zone], [id, 'cmp-up', 'nova-compute', 'disabled', 'repairs', false, 'up', 'nova']);

    const forced = await put({ forced_down: true });
    assert.deepEqual([forced.body.service.forced_down, forced.body.service.state, forced.body.service.status], [true, 'down', 'disabled']);
    const enabled = await put({ status: 'enabled', forced_down: 'false' });
    assert.deepEqual([enabled.body.service.status, enabled.body.service.disabled_reason, enabled.body.service.forced_down], ['enabled', null, false]);

    const withReason = await put({ status: 'enabled', disabled_reason: 'x' });
    assert.equal(withReason.status, 400);
    assert.equal(withReason.body.badRequest.message, "Specifying 'disabled_reason' with status 'enabled' is invalid.");
    const nothing = await put({});
    assert.equal(nothing.body.badRequest.message, "No updates were requested. Fields 'status' or 'forced_down' should be specified.");
    for (const body of [{ status: 'off' }, { host: 'cmp-up' }, { forced_down: 'maybe' }]) assert.equal((await put(body)).status, 400, JSON.stringify(body));

    const scheduler = (await services('?binary=nova-scheduler', '2.53'))[0].id;
    assert.equal((await put({ status: 'disabled' }, scheduler)).status, 400);
    const missing = randomUUID();
    const notFound = await put({ status: 'disabled' }, missing);
    assert.deepEqual(notFound.body, { itemNotFound: { code: 404, message: `Service ${missing} could not be found.` } });
    const action = await put({ host: 'cmp-up', binary: 'nova-compute' }, 'disable');
    assert.equal(action.status, 400);
    assert.equal(action.body.badRequest.message, 'Invalid uuid disable');
  });

  test('DELETE: 409 while the host has instances; else the service, its nodes and their resource providers go', async () => {
    const { service, nodeUuid } = await addComputeHost(db(), h.identity.config, 'cmp-old');
    const instance = await addInstance(db(), { projectId: alice.projectId, host: 'cmp-old' });
    await claim(db(), instance, nodeUuid, { VCPU: 1, MEMORY_MB: 512 });
    const busy = await h.call('DELETE', `/v2.1/os-services/${service.id}`);
    assert.equal(busy.status, 409);
    assert.equal(busy.body.conflictingRequest.message, 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');

    await db()('instances').where({ uuid: instance }).update({ deleted_at: new Date(), vm_state: 'deleted' });
    await db()('allocations').where({ consumer_id: instance }).delete();
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${service.id}`)).status, 204);
    assert.equal(await db()('compute_services').where({ id: service.id }).first(), undefined);
    assert.equal(await db()('compute_nodes').where({ uuid: nodeUuid }).first(), undefined);
    assert.equal(await db()('resource_providers').where({ uuid: nodeUuid }).first(), undefined);
    const again = await h.call('DELETE', `/v2.1/os-services/${service.id}`);
    assert.deepEqual(again.body, { itemNotFound: { code: 404, message: `Service ${service.id} not found.` } });
  });

  test('DELETE names a service by integer id before 2.53 and by uuid from 2.53; other ids are 400s', async () => {
    const notInt = await h.call('DELETE', '/v2.1/os-services/abc');
    assert.equal(notInt.status, 400);
    assert.equal(notInt.body.badRequest.message, 'Invalid input received: id must be an integer.');
    const { service } = await addComputeHost(db(), h.identity.config, 'cmp-gone');
    const notUuid = await h.call('DELETE', `/v2.1/os-services/${service.id}`, { version: '2.53' });
    assert.equal(notUuid.body.badRequest.message, `Invalid uuid ${service.id}`);
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${randomUUID()}`, { version: '2.53' })).status, 404);
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${service.uuid}`, { version: '2.53' })).status, 204);
    // A non-compute service goes too.
    const other = await addService(db(), 'controller2', 'nubo-conductor');
    assert.equal((await services('?binary=nova-conductor'))[0].host, 'controller2');
    assert.equal((await h.call('DELETE', `/v2.1/os-services/${other.id}`)).status, 204);
    assert.deepEqual(await services('?binary=nova-conductor'), []);
  });
});
