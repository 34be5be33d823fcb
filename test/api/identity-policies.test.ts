import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));

describe('/v3/policies', () => {
  let h: IdentityHarness;
  let memberToken: string;
  before(async () => {
    h = await startIdentity();
    memberToken = await h.memberToken();
  });
  after(() => h.close());

  const create = async (body: Record<string, unknown>) => {
    const r = await h.call('POST', '/v3/policies', { policy: body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('PolicyShow', r.body);
    return r.body.policy;
  };

  test('create, show, list (filtered by type), update, delete', async () => {
    const type = `application/json-${newId()}`;
    const p = await create({ blob: '{"a": "rule:x"}', type, id: 'ignored', colour: 'blue' });
    assert.match(p.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...p, links: undefined },
      { id: p.id, type, blob: '{"a": "rule:x"}', colour: 'blue', links: undefined },
    );
    assert.match(p.links.self, new RegExp(`/v3/policies/${p.id}$`));
    const other = await create({ blob: 'b', type: `other-${newId()}` });

    const shown = await h.call('GET', `/v3/policies/${p.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.policy, p);

    const all = await h.call('GET', '/v3/policies');
    conforms('PolicyList', all.body);
    assert.deepEqual(all.body.policies.map((x: { id: string }) => x.id).sort(), [p.id, other.id].sort());
    const byType = await h.call('GET', `/v3/policies?type=${encodeURIComponent(type)}`);
    assert.deepEqual(byType.body.policies, [p]);

    const updated = await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { type: 'new-type', size: 3 } });
    assert.equal(updated.status, 200);
    conforms('PolicyShow', updated.body);
    assert.equal(updated.body.policy.type, 'new-type');
    assert.equal(updated.body.policy.blob, p.blob);
    assert.equal(updated.body.policy.colour, 'blue');
    assert.equal(updated.body.policy.size, 3);
    assert.deepEqual((await h.call('GET', `/v3/policies/${p.id}`)).body.policy, updated.body.policy);
    const blob = await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { blob: 'changed' } });
    assert.equal(blob.body.policy.blob, 'changed');

    assert.equal((await h.call('DELETE', `/v3/policies/${p.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/policies/${p.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find policy: ${p.id}.`);
    assert.equal((await h.call('DELETE', `/v3/policies/${p.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { type: 'x' } })).status, 404);
  });

  test('bad input is a 400 naming the field', async () => {
    const noBlob = await h.call('POST', '/v3/policies', { policy: { type: 't' } });
    assert.equal(noBlob.status, 400);
    assert.match(noBlob.body.error.message, /'policy\/blob'/);
    const noType = await h.call('POST', '/v3/policies', { policy: { blob: 'b' } });
    assert.equal(noType.status, 400);
    assert.match(noType.body.error.message, /'policy\/type'/);
    const badBlob = await h.call('POST', '/v3/policies', { policy: { blob: { a: 1 }, type: 't' } });
    assert.equal(badBlob.status, 400);
    assert.match(badBlob.body.error.message, /policy\/blob/);
    const longType = await h.call('POST', '/v3/policies', { policy: { blob: 'b', type: 'x'.repeat(256) } });
    assert.equal(longType.status, 400);
    assert.match(longType.body.error.message, /policy\/type/);
    assert.equal((await h.call('POST', '/v3/policies', {})).status, 400);

    const p = await create({ blob: 'b', type: 't' });
    const empty = await h.call('PATCH', `/v3/policies/${p.id}`, { policy: {} });
    assert.equal(empty.status, 400);
    assert.match(empty.body.error.message, /'policy'/);
    const otherId = await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { id: newId() } });
    assert.equal(otherId.status, 400);
    assert.equal(otherId.body.error.message, 'Cannot change policy ID');
    assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { id: p.id, type: 'same' } })).status, 200);
    await h.call('DELETE', `/v3/policies/${p.id}`);
  });

  test("a member's token gets 403; no token 401", async () => {
    const p = await create({ blob: 'b', type: 't' });
    assert.equal((await h.call('GET', '/v3/policies', undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', `/v3/policies/${p.id}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('POST', '/v3/policies', { policy: { blob: 'b', type: 't' } }, memberToken)).status, 403);
    // The rule is checked before the body is read or the policy looked up.
    assert.equal((await h.call('POST', '/v3/policies', { policy: {} }, memberToken)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { policy: { type: 'x' } }, memberToken)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/policies/${newId()}`, undefined, memberToken)).status, 403);
    assert.equal((await h.call('GET', '/v3/policies', undefined, null)).status, 401);
    assert.equal((await h.call('GET', `/v3/policies/${p.id}`)).status, 200);
  });
});
