import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { Microversion, negotiate, requestedVersion } from '../../api/http/microversion.ts';
import { startCompute, type ComputeHarness } from '../support/compute.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const VARY = 'OpenStack-API-Version, X-OpenStack-Nova-API-Version';

describe('Nova version discovery and microversions', () => {
  let h: ComputeHarness;
  before(async () => {
    h = await startCompute();
  });
  after(() => h.close());

  test('GET / lists v2.0 then v2.1 (200, no token), with v2.1 at min 2.1 and max 2.93, and no version headers', async () => {
    const r = await h.call('GET', '/', { token: null, headers: { host: 'nova.example:8774' } });
    assert.equal(r.status, 200);
    conforms('VersionList', r.body);
    assert.deepEqual(
      r.body.versions.map((v: any) => [v.id, v.status, v.min_version, v.version]),
      [
        ['v2.0', 'SUPPORTED', '', ''],
        ['v2.1', 'CURRENT', '2.1', '2.93'],
      ],
    );
    assert.deepEqual(r.body.versions[1].links, [{ rel: 'self', href: 'http://nova.example:8774/v2.1/' }]);
    assert.deepEqual(r.body.versions[0].links, [{ rel: 'self', href: 'http://nova.example:8774/v2/' }]);
    assert.equal(r.headers['openstack-api-version'], undefined);
    assert.equal(r.headers['x-openstack-nova-api-version'], undefined);
  });

  test('GET /v2.1 and /v2.1/ describe v2.1 with the same self link as the list (and media types), without a token', async () => {
    for (const url of ['/v2.1', '/v2.1/']) {
      const r = await h.call('GET', url, { token: null, headers: { host: 'nova.example:8774' } });
      assert.equal(r.status, 200, url);
      conforms('VersionDocument', r.body);
      const v = r.body.version;
      assert.equal(v.id, 'v2.1');
      assert.equal(v.version, '2.93');
      assert.equal(v.min_version, '2.1');
      assert.deepEqual(v.links[0], { rel: 'self', href: 'http://nova.example:8774/v2.1/' });
      assert.equal(v['media-types'][0].type, 'application/vnd.openstack.compute+json;version=2.1');
      assert.equal(r.headers['openstack-api-version'], 'compute 2.1');
    }
    const legacy = await h.call('GET', '/v2/', { token: null });
    assert.equal(legacy.status, 200);
    assert.equal(legacy.body.version.id, 'v2.0');
    assert.equal(legacy.body.version.status, 'SUPPORTED');
  });

  test('every response, errors too, carries the request id also as x-compute-request-id (what novaclient reads)', async () => {
    for (const url of ['/v2.1/flavors', '/v2.1/servers/nope', '/']) {
      const r = await h.call('GET', url);
      assert.match(String(r.headers['x-openstack-request-id']), /^req-[0-9a-f-]{36}$/, url);
      assert.equal(r.headers['x-compute-request-id'], r.headers['x-openstack-request-id'], url);
    }
  });

  test('no header means 2.1, and every response names its version in both headers with Vary', async () => {
    const r = await h.call('GET', '/v2.1/flavors');
    assert.equal(r.status, 200);
    assert.equal(r.headers['openstack-api-version'], 'compute 2.1');
    assert.equal(r.headers['x-openstack-nova-api-version'], '2.1');
    assert.equal(r.headers.vary, VARY);
  });

  test('OpenStack-API-Version and the legacy header both select a version; latest is 2.93', async () => {
    const standard = await h.call('GET', '/v2.1/flavors', { version: '2.55' });
    assert.equal(standard.headers['openstack-api-version'], 'compute 2.55');
    assert.equal(standard.headers['x-openstack-nova-api-version'], '2.55');
    const legacy = await h.call('GET', '/v2.1/flavors', { headers: { 'x-openstack-nova-api-version': '2.10' } });
    assert.equal(legacy.headers['x-openstack-nova-api-version'], '2.10');
    const latest = await h.call('GET', '/v2.1/flavors', { version: 'latest' });
    assert.equal(latest.status, 200);
    assert.equal(latest.headers['openstack-api-version'], 'compute 2.93');
    const legacyLatest = await h.call('GET', '/v2.1/flavors', { headers: { 'x-openstack-nova-api-version': 'latest' } });
    assert.equal(legacyLatest.headers['x-openstack-nova-api-version'], '2.93');
  });

  test('the standard header wins over the legacy one; another service\'s entry is not ours', async () => {
    const both = await h.call('GET', '/v2.1/flavors', { headers: { 'openstack-api-version': 'volume 3.5, compute 2.20', 'x-openstack-nova-api-version': '2.3' } });
    assert.equal(both.headers['openstack-api-version'], 'compute 2.20');
    const otherService = await h.call('GET', '/v2.1/flavors', { headers: { 'openstack-api-version': 'volume 3.5', 'x-openstack-nova-api-version': '2.3' } });
    assert.equal(otherService.headers['openstack-api-version'], 'compute 2.3');
    const caseless = await h.call('GET', '/v2.1/flavors', { headers: { 'openstack-api-version': 'COMPUTE 2.4' } });
    assert.equal(caseless.headers['openstack-api-version'], 'compute 2.4');
  });

  test('a version out of range is a 406 computeFault (still naming the version asked); a malformed one a 400', async () => {
    for (const v of ['2.94', '3.0', '2.0', '1.1']) {
      const r = await h.call('GET', '/v2.1/flavors', { version: v });
      assert.equal(r.status, 406, v);
      conforms('ComputeFault', r.body);
      assert.equal(r.body.computeFault.code, 406);
      assert.match(r.body.computeFault.message, new RegExp(`Version ${v.replace('.', '\\.')} is not supported by the API. Minimum is 2.1 and maximum is 2.93.`));
      assert.equal(r.headers['openstack-api-version'], `compute ${v}`);
    }
    for (const v of ['2.x', '2', '02.1', '2.01', 'latest2', '']) {
      const r = await h.call('GET', '/v2.1/flavors', { headers: { 'x-openstack-nova-api-version': v } });
      assert.equal(r.status, 400, `'${v}'`);
      assert.equal(r.body.badRequest.code, 400);
      assert.match(r.body.badRequest.message, /is of invalid format/);
    }
  });

  test('errors are Nova faults carrying the version headers', async () => {
    const r = await h.call('GET', '/v2.1/flavors/nope', { version: '2.40' });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { itemNotFound: { code: 404, message: 'Flavor nope could not be found.' } });
    assert.equal(r.headers['openstack-api-version'], 'compute 2.40');
    assert.equal(r.headers.vary, VARY);
    const unauth = await h.call('GET', '/v2.1/flavors', { token: null });
    assert.equal(unauth.status, 401);
    assert.equal(unauth.body.unauthorized.code, 401);
    const unknown = await h.call('GET', '/v2.1/no-such-thing');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.itemNotFound.code, 404);
  });

  test('Microversion helpers compare numerically, and negotiate/requestedVersion follow microversion-parse', () => {
    const v = Microversion.parse('2.47');
    assert.ok(v.atLeast('2.47') && v.atLeast('2.9') && !v.atLeast('2.48'));
    assert.ok(v.atMost('2.47') && v.atMost('2.100') && !v.atMost('2.46'));
    assert.ok(v.between('2.1', '2.93'));
    assert.equal(String(negotiate(undefined, { min: '2.1', max: '2.93' })), '2.1');
    assert.equal(String(negotiate('latest', { min: '2.1', max: '2.93' })), '2.93');
    const opts = { serviceType: 'compute', legacyHeaders: ['X-OpenStack-Nova-API-Version'] };
    assert.equal(requestedVersion({ 'openstack-api-version': 'identity 3.1,compute 2.5' }, opts), '2.5');
    assert.equal(requestedVersion({ 'x-openstack-nova-api-version': ' 2.6 ' }, opts), '2.6');
    assert.equal(requestedVersion({}, opts), undefined);
  });
});
