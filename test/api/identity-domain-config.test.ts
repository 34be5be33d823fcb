import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

const custom = {
  identity: { driver: 'ldap' },
  ldap: { url: 'ldap://myldap.com:389/', user_tree_dn: 'ou=Users,dc=my_new_root,dc=org' },
};

describe('/v3/domains/{domain_id}/config', () => {
  let h: IdentityHarness;
  let memberToken: string;
  before(async () => {
    h = await startIdentity();
    memberToken = await h.memberToken();
  });
  after(() => h.close());

  const domain = async () => {
    const r = await h.call('POST', '/v3/domains', { domain: { name: `d-${newId()}` } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.domain as { id: string };
  };
  const base = (domainId: string) => `/v3/domains/${domainId}/config`;

  test('PUT creates (201), replaces (200); GET the whole, a group, an option', async () => {
    const d = await domain();
    const put = await h.call('PUT', base(d.id), { config: { ...custom, ldap: { ...custom.ldap, password: 's3cret' } } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    conforms('DomainConfigShow', put.body);
    // The password is stored but never shown.
    assert.deepEqual(put.body.config, custom);
    assert.deepEqual((await h.call('GET', base(d.id))).body.config, custom);
    assert.equal((await h.call('HEAD', base(d.id))).status, 200);
    assert.deepEqual((await h.call('GET', `${base(d.id)}/ldap`)).body.config, { ldap: custom.ldap });
    assert.deepEqual((await h.call('GET', `${base(d.id)}/ldap/url`)).body.config, { url: custom.ldap.url });
    const secret = await h.call('GET', `${base(d.id)}/ldap/password`);
    assert.equal(secret.status, 404);
    assert.equal(secret.body.error.message, `Could not find option password in group ldap in domain configuration for domain ${d.id}.`);

    const again = await h.call('PUT', base(d.id), { config: { identity: { driver: 'sql', list_limit: 5 } } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.config, { identity: { driver: 'sql', list_limit: 5 } });
    const noLdap = await h.call('GET', `${base(d.id)}/ldap`);
    assert.equal(noLdap.status, 404);
    assert.equal(noLdap.body.error.message, `Could not find group ldap in domain configuration for domain ${d.id}.`);
    assert.equal((await h.call('GET', `${base(d.id)}/identity/list_limit`)).body.config.list_limit, 5);
  });

  test('PATCH the whole, a group, an option; DELETE an option, a group, the whole', async () => {
    const d = await domain();
    await h.call('PUT', base(d.id), { config: custom });
    const whole = await h.call('PATCH', base(d.id), { config: { ldap: { url: 'ldap://other/', suffix: 'dc=x' } } });
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body.config, { identity: custom.identity, ldap: { ...custom.ldap, url: 'ldap://other/', suffix: 'dc=x' } });

    const grp = await h.call('PATCH', `${base(d.id)}/identity`, { config: { identity: { driver: 'd2', list_limit: 7 } } });
    assert.equal(grp.status, 200);
    assert.deepEqual(grp.body.config.identity, { driver: 'd2', list_limit: 7 });
    const opt = await h.call('PATCH', `${base(d.id)}/identity/driver`, { config: { driver: 'd3' } });
    assert.equal(opt.status, 200);
    assert.equal(opt.body.config.identity.driver, 'd3');

    // A partial update names only what it addresses, which must exist.
    const other = await h.call('PATCH', `${base(d.id)}/identity`, { config: { ldap: { url: 'x' } } });
    assert.equal(other.status, 403);
    assert.equal(other.body.error.message, 'Invalid domain specific configuration: request to update group identity, but config provided contains group ldap instead.');
    assert.equal((await h.call('PATCH', `${base(d.id)}/identity`, { config: { identity: { driver: 'x' }, ldap: { url: 'x' } } })).status, 403);
    assert.equal((await h.call('PATCH', `${base(d.id)}/identity/driver`, { config: { list_limit: 3 } })).status, 403);
    assert.equal((await h.call('PATCH', `${base(d.id)}/ldap/password`, { config: { password: 'p' } })).status, 404);

    assert.equal((await h.call('DELETE', `${base(d.id)}/identity/driver`)).status, 204);
    assert.equal((await h.call('GET', `${base(d.id)}/identity/driver`)).status, 404);
    assert.equal((await h.call('DELETE', `${base(d.id)}/identity/driver`)).status, 404);
    assert.equal((await h.call('DELETE', `${base(d.id)}/identity`)).status, 204);
    assert.equal((await h.call('GET', `${base(d.id)}/identity`)).status, 404);
    assert.equal((await h.call('DELETE', `${base(d.id)}/identity`)).status, 404);
    assert.equal((await h.call('DELETE', base(d.id))).status, 204);
    const none = await h.call('GET', base(d.id));
    assert.equal(none.status, 404);
    assert.equal(none.body.error.message, `Could not find any options in domain configuration for domain ${d.id}.`);
  });

  test('defaults: all, a group, an option', async () => {
    const all = await h.call('GET', '/v3/domains/config/default');
    assert.equal(all.status, 200);
    conforms('DomainConfigShow', all.body);
    assert.deepEqual(Object.keys(all.body.config).sort(), ['identity', 'ldap']);
    assert.deepEqual(all.body.config.identity, { driver: 'sql', list_limit: null });
    assert.equal(all.body.config.ldap.url, 'ldap://localhost');
    assert.equal('password' in all.body.config.ldap, false);
    assert.deepEqual((await h.call('GET', '/v3/domains/config/identity/default')).body.config, { identity: all.body.config.identity });
    for (const option of Object.keys(all.body.config.ldap)) {
      const one = await h.call('GET', `/v3/domains/config/ldap/${option}/default`);
      assert.deepEqual(one.body.config, { [option]: all.body.config.ldap[option] }, option);
    }
    const secret = await h.call('GET', '/v3/domains/config/ldap/password/default');
    assert.equal(secret.status, 403);
    assert.equal(secret.body.error.message, 'Invalid domain specific configuration: Reading the default for option password in group ldap is not supported.');
    assert.equal((await h.call('GET', '/v3/domains/config/resource/default')).status, 403);
    assert.equal((await h.call('GET', '/v3/domains/config/ldap/nothing/default')).status, 403);
  });

  test('security compliance: any token, default domain only', async () => {
    const sc = await h.call('GET', '/v3/domains/default/config/security_compliance', undefined, memberToken);
    assert.equal(sc.status, 200);
    assert.deepEqual(sc.body.config, { security_compliance: { password_regex: null, password_regex_description: null } });
    const one = await h.call('GET', '/v3/domains/default/config/security_compliance/password_regex', undefined, memberToken);
    assert.deepEqual(one.body.config, { password_regex: null });
    assert.equal((await h.call('GET', '/v3/domains/default/config/security_compliance/lockout_duration')).status, 403);
    const d = await domain();
    assert.equal((await h.call('GET', `${base(d.id)}/security_compliance`)).status, 403);
  });

  test('bad input: 400 naming the field; unsupported groups and options 403 (as Keystone); 404s', async () => {
    const d = await domain();
    const noConfig = await h.call('PUT', base(d.id), { identity: { driver: 'x' } });
    assert.equal(noConfig.status, 400);
    assert.match(noConfig.body.error.message, /'config'/);
    const notObject = await h.call('PATCH', base(d.id), { config: 'identity' });
    assert.equal(notObject.status, 400);
    assert.match(notObject.body.error.message, /'config'/);
    const empty = await h.call('PUT', base(d.id), { config: {} });
    assert.equal(empty.status, 403);
    assert.equal(empty.body.error.message, 'Invalid domain specific configuration: No options specified.');
    const group = await h.call('PUT', base(d.id), { config: { resource: { driver: 'x' } } });
    assert.equal(group.status, 403);
    assert.equal(group.body.error.message, 'Invalid domain specific configuration: Group resource is not supported for domain specific configurations.');
    const option = await h.call('PUT', base(d.id), { config: { ldap: { nothing: 'x' } } });
    assert.equal(option.status, 403);
    assert.match(option.body.error.message, /Option nothing in group ldap is not supported/);
    assert.equal((await h.call('PUT', base(d.id), { config: { ldap: 'url' } })).status, 403);
    assert.equal((await h.call('GET', `${base(d.id)}/resource`)).status, 403);

    const unknown = newId();
    const missing = await h.call('PUT', base(unknown), { config: custom });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, `Could not find domain: ${unknown}.`);
    assert.equal((await h.call('GET', base(unknown))).status, 404);
    assert.equal((await h.call('PATCH', base(unknown), { config: custom })).status, 404);
    assert.equal((await h.call('DELETE', base(unknown))).status, 404);
  });

  test('deleting the domain deletes its configuration', async () => {
    const d = await domain();
    await h.call('PUT', base(d.id), { config: custom });
    assert.equal((await h.call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/domains/${d.id}`)).status, 204);
    const rows = await h.database.db('domain_configs').where({ domain_id: d.id }).count('* as n').first();
    assert.equal(Number((rows as { n: unknown }).n), 0);
  });

  test("a member's token gets 403 on every call but security compliance", async () => {
    const d = await domain();
    await h.call('PUT', base(d.id), { config: custom });
    const calls: [string, string, unknown?][] = [
      ['PUT', base(d.id), { config: custom }],
      ['PUT', base(d.id), {}],
      ['GET', base(d.id)],
      ['GET', `${base(d.id)}/ldap`],
      ['GET', `${base(d.id)}/ldap/url`],
      ['PATCH', base(d.id), { config: custom }],
      ['PATCH', `${base(d.id)}/ldap`, { config: { ldap: { url: 'x' } } }],
      ['PATCH', `${base(d.id)}/ldap/url`, { config: { url: 'x' } }],
      ['DELETE', `${base(d.id)}/ldap/url`],
      ['DELETE', `${base(d.id)}/ldap`],
      ['DELETE', base(d.id)],
      ['GET', '/v3/domains/config/default'],
      ['GET', '/v3/domains/config/ldap/default'],
      ['GET', '/v3/domains/config/ldap/url/default'],
    ];
    for (const [method, url, body] of calls) {
      assert.equal((await h.call(method, url, body, memberToken)).status, 403, `${method} ${url}`);
    }
    assert.equal((await h.call('GET', base(d.id), undefined, null)).status, 401);
    assert.deepEqual((await h.call('GET', base(d.id))).body.config, custom);
  });
});
