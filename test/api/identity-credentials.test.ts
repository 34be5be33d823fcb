import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { newId } from '../../lib/ids.ts';
import { startIdentity, type IdentityHarness } from '../support/identity.ts';

/** Throws (naming the field) unless `body` matches the spec's schema. */
const conforms = createBodyValidator(loadSpec('identity'));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('/v3/credentials, OS-EC2 and OS-OAUTH1 consumers', () => {
  let h: IdentityHarness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  const createUser = async () => (await h.call('POST', '/v3/users', { user: { name: `u-${newId()}` } })).body.user as { id: string };
  const createProject = async () =>
    (await h.call('POST', '/v3/projects', { project: { name: `p-${newId()}` } })).body.project as { id: string };
  const tokenFor = async (userId: string, projectId = h.admin.projectId, roles = ['member', 'reader']) => {
    const { token } = await h.tokens.issue({
      user_id: userId,
      user_domain_id: 'default',
      methods: ['password'],
      scope: { type: 'project', project_id: projectId, domain_id: 'default' },
      roles: roles.map((name) => ({ id: h.admin.roleIds[name], name })),
      expires_at: new Date(Date.now() + 3600_000),
    });
    return token;
  };
  const createCredential = async (credential: Record<string, unknown>, token?: string) => {
    const r = await h.call('POST', '/v3/credentials', { credential }, token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('CredentialShow', r.body);
    return r.body.credential;
  };

  test('create, show, list, update and delete a credential', async () => {
    const user = await createUser();
    const cred = await createCredential({ user_id: user.id, type: 'cert', blob: 'opaque', label: 'x' });
    assert.match(cred.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...cred, links: undefined },
      { id: cred.id, user_id: user.id, project_id: null, type: 'cert', blob: 'opaque', label: 'x', links: undefined },
    );
    assert.match(cred.links.self, new RegExp(`/v3/credentials/${cred.id}$`));

    const shown = await h.call('GET', `/v3/credentials/${cred.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.credential, cred);

    const list = await h.call('GET', '/v3/credentials');
    assert.equal(list.status, 200);
    conforms('CredentialList', list.body);
    assert.deepEqual(list.body.credentials.find((c: { id: string }) => c.id === cred.id), cred);

    const updated = await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { blob: 'other', label: 'y' } });
    assert.equal(updated.status, 200);
    conforms('CredentialShow', updated.body);
    assert.equal(updated.body.credential.blob, 'other');
    assert.equal(updated.body.credential.label, 'y');
    assert.equal(updated.body.credential.type, 'cert');
    assert.deepEqual((await h.call('GET', `/v3/credentials/${cred.id}`)).body.credential, updated.body.credential);

    assert.equal((await h.call('DELETE', `/v3/credentials/${cred.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/credentials/${cred.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find credential: ${cred.id}.`);
    assert.equal((await h.call('DELETE', `/v3/credentials/${cred.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { blob: 'b' } })).status, 404);
  });

  test('an ec2 credential is identified by the sha256 of its access key, which may change but not its scope', async () => {
    const user = await createUser();
    const [p1, p2] = [await createProject(), await createProject()];
    const access = `a-${newId()}`;
    const blob = JSON.stringify({ access, secret: 's' });
    const cred = await createCredential({ user_id: user.id, project_id: p1.id, type: 'ec2', blob });
    assert.equal(cred.id, sha256(access));
    assert.equal(cred.blob, blob);

    const dup = await h.call('POST', '/v3/credentials', { credential: { user_id: user.id, project_id: p1.id, type: 'ec2', blob } });
    assert.equal(dup.status, 409);

    const newBlob = JSON.stringify({ access: `n-${newId()}`, secret: 't' });
    const updated = await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { blob: newBlob, project_id: p2.id, type: 'ec2' } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.credential.id, cred.id);
    assert.equal(updated.body.credential.project_id, p2.id);
    assert.equal(updated.body.credential.blob, newBlob);

    const scoped = await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { blob: JSON.stringify({ access, trust_id: 't' }) } });
    assert.equal(scoped.status, 400);
    assert.match(scoped.body.error.message, /trust_id/);
    const notEc2 = await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { blob: 'not json' } });
    assert.equal(notEc2.status, 400);
    assert.match(notEc2.body.error.message, /credential\/blob/);
    const changeId = await h.call('PATCH', `/v3/credentials/${cred.id}`, { credential: { id: 'other' } });
    assert.equal(changeId.status, 400);

    // As in Keystone, the OS-EC2 extension still finds it by the access key its id came from.
    const viaEc2 = await h.call('GET', `/v3/users/${user.id}/credentials/OS-EC2/${access}`);
    assert.equal(viaEc2.status, 200);
    assert.equal(viaEc2.body.credential.tenant_id, p2.id);
    assert.equal(viaEc2.body.credential.access, JSON.parse(newBlob).access);
  });

  test('bad input is a 400 naming the field; unknown user or project is 404', async () => {
    const user = await createUser();
    const cases: [unknown, RegExp][] = [
      [{}, /'credential'/],
      [{ credential: { type: 'x', blob: 'b' } }, /credential\/user_id/],
      [{ credential: { user_id: user.id, blob: 'b' } }, /credential\/type/],
      [{ credential: { user_id: user.id, type: 'x' } }, /credential\/blob/],
      [{ credential: { user_id: user.id, type: 'x', blob: 5 } }, /credential\/blob/],
      [{ credential: { user_id: user.id, type: 'ec2', blob: '{"access":"a"}' } }, /credential\/project_id/],
      [{ credential: { user_id: user.id, type: 'ec2', project_id: h.admin.projectId, blob: '{"secret":"s"}' } }, /credential\/blob/],
      [{ credential: { user_id: user.id, type: 'ec2', project_id: h.admin.projectId, blob: 'nope' } }, /credential\/blob/],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/v3/credentials', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    const cred = await createCredential({ user_id: user.id, type: 'x', blob: 'b' });
    for (const [body, field] of [
      [{ credential: {} }, /credential/],
      [{ credential: { blob: 1 } }, /credential\/blob/],
      [{ credential: { type: 'ec2' } }, /credential\/project_id/],
    ] as [unknown, RegExp][]) {
      const r = await h.call('PATCH', `/v3/credentials/${cred.id}`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    const noUser = await h.call('POST', '/v3/credentials', { credential: { user_id: 'nobody', type: 'x', blob: 'b' } });
    assert.equal(noUser.status, 404);
    assert.equal(noUser.body.error.message, 'Could not find user: nobody.');
    const noProject = await h.call('POST', '/v3/credentials', { credential: { user_id: user.id, project_id: 'nowhere', type: 'x', blob: 'b' } });
    assert.equal(noProject.status, 404);
  });

  test('a member sees and manages only its own credentials', async () => {
    const [alice, bob] = [await createUser(), await createUser()];
    const [aliceToken, bobToken] = [await tokenFor(alice.id), await tokenFor(bob.id)];
    const mine = await createCredential({ user_id: alice.id, type: 'totp', blob: 'seed' }, aliceToken);
    const theirs = await createCredential({ user_id: bob.id, type: 'totp', blob: 'seed' }, bobToken);

    const list = await h.call('GET', '/v3/credentials', undefined, aliceToken);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.credentials.map((c: { id: string }) => c.id), [mine.id]);
    const filtered = await h.call('GET', `/v3/credentials?user_id=${bob.id}`, undefined, aliceToken);
    assert.deepEqual(filtered.body.credentials, []);
    const adminFiltered = await h.call('GET', `/v3/credentials?user_id=${bob.id}&type=totp`);
    assert.deepEqual(adminFiltered.body.credentials.map((c: { id: string }) => c.id), [theirs.id]);
    assert.deepEqual((await h.call('GET', `/v3/credentials?type=none`)).body.credentials, []);

    assert.equal((await h.call('GET', `/v3/credentials/${mine.id}`, undefined, aliceToken)).status, 200);
    assert.equal((await h.call('GET', `/v3/credentials/${theirs.id}`, undefined, aliceToken)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/credentials/${theirs.id}`, { credential: { blob: 'x' } }, aliceToken)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/credentials/${theirs.id}`, undefined, aliceToken)).status, 403);
    assert.equal((await h.call('POST', '/v3/credentials', { credential: { user_id: bob.id, type: 'x', blob: 'b' } }, aliceToken)).status, 403);
    // Nor hand its own to another user.
    assert.equal((await h.call('PATCH', `/v3/credentials/${mine.id}`, { credential: { user_id: bob.id } }, aliceToken)).status, 403);
    assert.equal((await h.call('PATCH', `/v3/credentials/${mine.id}`, { credential: { blob: 'new' } }, aliceToken)).status, 200);
    assert.equal((await h.call('DELETE', `/v3/credentials/${mine.id}`, undefined, aliceToken)).status, 204);
    assert.equal((await h.call('GET', '/v3/credentials', undefined, null)).status, 401);
  });

  test('deleting a user or a project deletes its credentials', async () => {
    const user = await createUser();
    const project = await createProject();
    const a = await createCredential({ user_id: user.id, type: 'x', blob: 'b' });
    const other = await createUser();
    const b = await createCredential({ user_id: other.id, project_id: project.id, type: 'x', blob: 'b' });
    assert.equal((await h.call('DELETE', `/v3/users/${user.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/credentials/${a.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/projects/${project.id}`, { project: { enabled: false } })).status, 200);
    assert.equal((await h.call('DELETE', `/v3/projects/${project.id}`)).status, 204);
    assert.equal((await h.call('GET', `/v3/credentials/${b.id}`)).status, 404);
  });

  test('OS-EC2: create, list, show and delete a user\'s access keys', async () => {
    const user = await createUser();
    const token = await tokenFor(user.id);
    const base = `/v3/users/${user.id}/credentials/OS-EC2`;
    const created = await h.call('POST', base, { tenant_id: h.admin.projectId }, token);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conforms('Ec2CredentialShow', created.body);
    const cred = created.body.credential;
    assert.deepEqual(Object.keys(cred).sort(), ['access', 'links', 'secret', 'tenant_id', 'trust_id', 'user_id']);
    assert.equal(cred.user_id, user.id);
    assert.equal(cred.tenant_id, h.admin.projectId);
    assert.equal(cred.trust_id, null);
    assert.match(cred.links.self, new RegExp(`${base}/${cred.access}$`));

    // Also a credential of type ec2 in /v3/credentials, with the hashed access key as its id.
    const stored = await h.call('GET', `/v3/credentials/${sha256(cred.access)}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.credential.type, 'ec2');
    assert.deepEqual(JSON.parse(stored.body.credential.blob), { access: cred.access, secret: cred.secret, trust_id: null });

    const list = await h.call('GET', base, undefined, token);
    assert.equal(list.status, 200);
    conforms('Ec2CredentialList', list.body);
    assert.deepEqual(list.body.credentials, [cred]);
    const shown = await h.call('GET', `${base}/${cred.access}`, undefined, token);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.credential, cred);

    // Another member may not see, list, create for or delete them.
    const stranger = await tokenFor((await createUser()).id);
    assert.equal((await h.call('GET', base, undefined, stranger)).status, 403);
    assert.equal((await h.call('GET', `${base}/${cred.access}`, undefined, stranger)).status, 403);
    assert.equal((await h.call('DELETE', `${base}/${cred.access}`, undefined, stranger)).status, 403);
    assert.equal((await h.call('POST', base, { tenant_id: h.admin.projectId }, stranger)).status, 403);

    assert.equal((await h.call('DELETE', `${base}/${cred.access}`, undefined, token)).status, 204);
    const gone = await h.call('GET', `${base}/${cred.access}`, undefined, token);
    assert.equal(gone.status, 404);
    assert.equal((await h.call('DELETE', `${base}/${cred.access}`, undefined, token)).status, 404);
  });

  test('OS-EC2: bad input is a 400 naming the field; unknown user, project or key is 404', async () => {
    const user = await createUser();
    const base = `/v3/users/${user.id}/credentials/OS-EC2`;
    const missing = await h.call('POST', base, {});
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /tenant_id/);
    const wrongType = await h.call('POST', base, { tenant_id: 5 });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.error.message, /tenant_id/);
    assert.equal((await h.call('POST', base, { tenant_id: 'nowhere' })).status, 404);
    assert.equal((await h.call('POST', '/v3/users/nobody/credentials/OS-EC2', { tenant_id: h.admin.projectId })).status, 404);
    assert.equal((await h.call('GET', '/v3/users/nobody/credentials/OS-EC2')).status, 404);
    assert.equal((await h.call('GET', `${base}/unknown-key`)).status, 404);

    // A key is found only under its own user.
    const created = (await h.call('POST', base, { tenant_id: h.admin.projectId })).body.credential;
    const other = await createUser();
    assert.equal((await h.call('GET', `/v3/users/${other.id}/credentials/OS-EC2/${created.access}`)).status, 404);
    assert.equal((await h.call('DELETE', `/v3/users/${other.id}/credentials/OS-EC2/${created.access}`)).status, 404);
    assert.equal((await h.call('GET', `${base}/${created.access}`)).status, 200);
  });

  test('OS-OAUTH1 consumers: create (secret shown once), show, list, update and delete', async () => {
    const created = await h.call('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'an app', color: 'red' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conforms('ConsumerCreated', created.body);
    const consumer = created.body.consumer;
    assert.match(consumer.secret, /^[0-9a-f]{32}$/);
    assert.equal(consumer.description, 'an app');
    assert.equal(consumer.color, 'red');
    assert.match(consumer.links.self, new RegExp(`/v3/OS-OAUTH1/consumers/${consumer.id}$`));
    const { secret: _secret, ...visible } = consumer;

    const shown = await h.call('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`);
    assert.equal(shown.status, 200);
    conforms('ConsumerShow', shown.body);
    assert.deepEqual(shown.body.consumer, visible);
    const stored = await h.database.db('oauth1_consumers').where({ id: consumer.id }).first();
    assert.notEqual(stored.secret_hash, consumer.secret);

    const list = await h.call('GET', '/v3/OS-OAUTH1/consumers');
    assert.equal(list.status, 200);
    conforms('ConsumerList', list.body);
    assert.deepEqual(list.body.consumers.find((c: { id: string }) => c.id === consumer.id), visible);

    const bare = await h.call('POST', '/v3/OS-OAUTH1/consumers', { consumer: {} });
    assert.equal(bare.status, 201);
    assert.equal(bare.body.consumer.description, null);

    const updated = await h.call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { description: 'renamed' } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.consumer, { ...visible, description: 'renamed' });
    for (const [body, field] of [
      [{ consumer: { secret: 'mine' } }, /consumer\/secret/],
      [{ consumer: {} }, /consumer/],
      [{ consumer: { description: 5 } }, /consumer\/description/],
      [{}, /'consumer'/],
    ] as [unknown, RegExp][]) {
      const r = await h.call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, field);
    }
    assert.equal((await h.call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { id: 'x' } })).status, 400);
    const badCreate = await h.call('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: [] } });
    assert.equal(badCreate.status, 400);
    assert.match(badCreate.body.error.message, /consumer\/description/);

    const member = await tokenFor((await createUser()).id);
    assert.equal((await h.call('GET', '/v3/OS-OAUTH1/consumers', undefined, member)).status, 403);
    assert.equal((await h.call('POST', '/v3/OS-OAUTH1/consumers', { consumer: {} }, member)).status, 403);
    assert.equal((await h.call('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`, undefined, member)).status, 403);

    assert.equal((await h.call('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`)).status, 204);
    const gone = await h.call('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, 'Consumer not found');
    assert.equal((await h.call('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`)).status, 404);
    assert.equal((await h.call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { description: 'x' } })).status, 404);
  });
});
