// The token the conductor gives a compute agent to download an instance's
// image (api/identity/auth/delegated-token.ts): the instance's user on its
// project, with the roles the user holds there now.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueDelegatedToken, instanceTokenIssuer } from '../../api/identity/auth/delegated-token.ts';
import { createLogger } from '../../lib/log.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

describe('delegated tokens for image downloads', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(async () => {
    await h?.close();
  });

  test("the admin's token on the admin project holds the admin's effective roles and expires as asked", async () => {
    const deps = { db: h.database.db, tokens: h.tokens };
    const token = await issueDelegatedToken(deps, h.admin.userId, h.admin.projectId, 600);
    const claims = h.tokens.verify(token);
    assert.deepEqual(claims.scope, { type: 'project', project_id: h.admin.projectId, domain_id: h.admin.domainId });
    assert.deepEqual(claims.roles.map((r) => r.name).sort(), ['admin', 'member', 'reader']);
    const ttl = claims.expires_at.getTime() - Date.now();
    assert.ok(ttl > 500_000 && ttl <= 600_000, `ttl ${ttl}`);
    // The services accept it as any token of that user.
    const r = await h.call('GET', `/v3/projects/${h.admin.projectId}`, undefined, token);
    assert.equal(r.status, 200);
  });

  test('a user with no role on the project, or no such user, gets none: the issuer warns and returns undefined', async () => {
    const deps = { db: h.database.db, tokens: h.tokens };
    await assert.rejects(issueDelegatedToken(deps, 'no-such-user', h.admin.projectId, 60), (e: any) => e.status === 401);
    const issue = instanceTokenIssuer({ ...deps, logger: createLogger({ level: 'silent' }) }, 60);
    assert.equal(await issue({ uuid: 'u', user_id: 'no-such-user', project_id: h.admin.projectId }), undefined);
    assert.ok(await issue({ uuid: 'u', user_id: h.admin.userId, project_id: h.admin.projectId }));
  });
});
