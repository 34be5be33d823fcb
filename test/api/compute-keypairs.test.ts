import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, createPrivateKey, X509Certificate } from 'node:crypto';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';

const conforms = createBodyValidator(loadSpec('compute'));

/** Keys made with ssh-keygen, with `ssh-keygen -l -E md5`'s fingerprints. */
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILtWmVmxnh3VWzuHrRdFYxIJHHHkgdn2Rb6PnYb9iHak root@vm';
const ED25519_FP = '19:60:d2:69:ff:87:4d:3e:1f:96:3c:ea:18:fc:3a:46';
const ECDSA =
  'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBDTltt16ph8THtnbmfTt6BiMjpOo1L+a1kF/PZrJJLg6o6AeO1lzjHqQbB/KY/gTFlKxuhJ3ahYCh0ujetoAV1HNjyzJimmlOkJrCZj0n+cYads4s66NE2s01vemQKMoww== root@vm';
const ECDSA_FP = '33:db:3e:c4:95:be:0d:1f:f8:84:3f:82:1b:02:3e:e5';
/** Tempest's test_keypair_create_with_pub_key key. */
const RSA =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsNe3/1ILNCqFyfYWDeTKLD6jEXC2OQHLmietMWW+/vdaZq7KZEwO0jhglaFjU1mpqq4Gz5RX156sCTNM9vRbwKAxfsdF9laBYVsex3m3Wmui3uYrKyumsoJn2g9GNnG1PI1mrVjZ61i0GY3khna+wzlTpCCmy5HNlrmbj3XLqBUpipTOXmsnr4sChzC53KCd8LXuwc1i/CZPvF+3XipvAgFSE53pCtLOeB1kYMOBaiUPLQTWXR3JpckqFIQwhIH0zoHlJvZE8hh90XcPojYN56tI0OlrGqojbediJYD0rUsJu4weZpbn8vilb3JuDY+jwssnSA8wzBx3A/8y9Pp1B nova@ubuntu';

const md5Fingerprint = (pub: string) => createHash('md5').update(Buffer.from(pub.split(' ')[1], 'base64')).digest('hex').match(/../g)!.join(':');

describe('Nova keypairs', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let bob: ProjectUser; // another user of alice's project
  let seq = 0;
  const name = () => `key-${++seq}`;
  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    bob = await h.userToken(alice.projectId);
  });
  after(() => h.close());

  const create = (keypair: Record<string, unknown>, opts: { token?: string; version?: string } = {}) =>
    h.call('POST', '/v2.1/os-keypairs', { body: { keypair }, token: opts.token ?? alice.token, version: opts.version });

  test('at 2.1 a generated keypair is a 200 with its private key (RSA, PEM) and no type; show has Nova\'s id and dates', async () => {
    const n = name();
    const r = await create({ name: n });
    assert.equal(r.status, 200);
    conforms('KeypairResponse', r.body);
    const kp = r.body.keypair;
    assert.deepEqual(Object.keys(kp).sort(), ['fingerprint', 'name', 'private_key', 'public_key', 'user_id']);
    assert.equal(kp.user_id, alice.userId);
    assert.match(kp.public_key, /^ssh-rsa AAAA\S+ Generated-by-Nova$/);
    assert.match(kp.private_key, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.equal(kp.fingerprint, md5Fingerprint(kp.public_key));
    // The private key matches the public one.
    const fromPrivate = createPublicKey(createPrivateKey(kp.private_key)).export({ format: 'jwk' });
    assert.equal(fromPrivate.kty, 'RSA');
    assert.equal(createPrivateKey(kp.private_key).asymmetricKeyDetails?.modulusLength, 2048);

    const shown = await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: alice.token });
    assert.equal(shown.status, 200);
    conforms('KeypairResponse', shown.body);
    const s = shown.body.keypair;
    assert.deepEqual(Object.keys(s).sort(), ['created_at', 'deleted', 'deleted_at', 'fingerprint', 'id', 'name', 'public_key', 'updated_at', 'user_id']);
    assert.equal(typeof s.id, 'number');
    assert.equal(s.deleted, false);
    assert.equal(s.deleted_at, null);
    assert.match(s.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(s.public_key, kp.public_key);
    assert.equal(s.fingerprint, kp.fingerprint);

    const del = await h.call('DELETE', `/v2.1/os-keypairs/${n}`, { token: alice.token });
    assert.equal(del.status, 202);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: alice.token })).status, 404);
  });

  test('from 2.2: 201 with type (ssh by default), 204 on delete; type is refused at 2.1', async () => {
    const n = name();
    const r = await create({ name: n, public_key: RSA }, { version: '2.2' });
    assert.equal(r.status, 201);
    assert.equal(r.body.keypair.type, 'ssh');
    assert.equal(r.body.keypair.private_key, undefined);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: alice.token, version: '2.2' })).body.keypair.type, 'ssh');
    const listed = await h.call('GET', '/v2.1/os-keypairs', { token: alice.token, version: '2.2' });
    assert.equal(listed.body.keypairs.find((k: any) => k.keypair.name === n).keypair.type, 'ssh');
    assert.equal((await h.call('DELETE', `/v2.1/os-keypairs/${n}`, { token: alice.token, version: '2.2' })).status, 204);
    const typed = await create({ name: name(), type: 'ssh' });
    assert.equal(typed.status, 400);
    assert.match(typed.body.badRequest.message, /keypair\/type/);
  });

  test('imports ssh-rsa, ssh-ed25519 and ecdsa keys with Nova\'s MD5 fingerprint', async () => {
    for (const [pub, fp] of [
      [RSA, md5Fingerprint(RSA)],
      [ED25519, ED25519_FP],
      [ECDSA, ECDSA_FP],
    ]) {
      const r = await create({ name: name(), public_key: pub });
      assert.equal(r.status, 200, pub.slice(0, 20));
      assert.equal(r.body.keypair.fingerprint, fp);
      assert.equal(r.body.keypair.public_key, pub);
      assert.equal(r.body.keypair.private_key, undefined);
    }
    assert.equal(md5Fingerprint(RSA), '61:5f:fe:c7:e0:fd:d7:4a:2b:52:6e:a6:f5:bf:da:27');
  });

  test('a public key that does not parse is a 400 (Tempest\'s junk, blank and oversized keys, mismatched type)', async () => {
    for (const pub of ['ssh-rsa JUNK nova@ubuntu', ' ', '', 'ssh-rsa ' + 'A'.repeat(2048) + ' openstack@ubuntu', ED25519.replace('ssh-ed25519', 'ssh-rsa'), 'ssh-dss AAAA']) {
      const r = await create({ name: name(), public_key: pub });
      assert.equal(r.status, 400, JSON.stringify(pub.slice(0, 30)));
      assert.equal(r.body.badRequest.message, 'Keypair data is invalid: failed to generate fingerprint');
    }
  });

  test('a name the user already has is a 409; another user may use it', async () => {
    const n = name();
    assert.equal((await create({ name: n, public_key: ED25519 })).status, 200);
    const again = await create({ name: n, public_key: ED25519 });
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, { conflictingRequest: { code: 409, message: `Key pair '${n}' already exists.` } });
    assert.equal((await create({ name: n, public_key: ED25519 }, { token: bob.token })).status, 200);
  });

  test('another user\'s keypair is not found, and not in one\'s list', async () => {
    const n = name();
    await create({ name: n, public_key: ED25519 });
    const r = await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: bob.token });
    assert.equal(r.status, 404);
    assert.equal(r.body.itemNotFound.message, `Keypair ${n} not found for user ${bob.userId}`);
    assert.equal((await h.call('DELETE', `/v2.1/os-keypairs/${n}`, { token: bob.token })).status, 404);
    const listed = await h.call('GET', '/v2.1/os-keypairs', { token: bob.token });
    assert.ok(!listed.body.keypairs.some((k: any) => k.keypair.name === n));
  });

  test('names: letters, digits, _, - and inner spaces until 2.91; @ and . from 2.92; at most 255', async () => {
    for (const bad of ['', ' lead', 'trail ', 'key_/.\\@:', 'a'.repeat(256), 'dot.ted']) {
      const r = await create({ name: bad, public_key: ED25519 });
      assert.equal(r.status, 400, bad);
      assert.match(r.body.badRequest.message, /keypair\/name/);
    }
    assert.equal((await create({ name: 'in ner_sp-ace', public_key: ED25519 })).status, 200);
    assert.equal((await create({ name: 'me@host.example', public_key: ED25519 }, { version: '2.91' })).status, 400);
    assert.equal((await create({ name: 'me@host.example', public_key: ED25519 }, { version: '2.92' })).status, 201);
    assert.equal((await create({ name: 'slash/y', public_key: ED25519 }, { version: '2.92' })).status, 400);
  });

  test('2.92 refuses to generate: public_key is required', async () => {
    const r = await create({ name: name() }, { version: '2.92' });
    assert.equal(r.status, 400);
    assert.match(r.body.badRequest.message, /public_key/);
    assert.equal((await create({ name: name() }, { version: '2.91' })).status, 201);
  });

  test('x509: a certificate is generated (PKCS#12 private key) or imported, fingerprinted by SHA-1', async () => {
    const n = name();
    const r = await create({ name: n, type: 'x509' }, { version: '2.2' });
    assert.equal(r.status, 201);
    const kp = r.body.keypair;
    assert.equal(kp.type, 'x509');
    const cert = new X509Certificate(kp.public_key);
    assert.equal(cert.subject, `CN=${alice.userId}`);
    assert.equal(kp.fingerprint, cert.fingerprint.toLowerCase());
    assert.ok(Buffer.from(kp.private_key, 'base64').length > 1000);
    const imported = await create({ name: name(), type: 'x509', public_key: kp.public_key }, { version: '2.2' });
    assert.equal(imported.status, 201);
    assert.equal(imported.body.keypair.fingerprint, kp.fingerprint);
    const bad = await create({ name: name(), type: 'x509', public_key: 'not a cert' }, { version: '2.2' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.badRequest.message, /failed to generate X509 fingerprint/);
    assert.equal((await create({ name: name(), type: 'pgp' }, { version: '2.2' })).status, 400);
  });

  test('user_id (2.10 on): admins manage another user\'s keypairs; others get a 403; before 2.10 it is refused or ignored', async () => {
    const n = name();
    const made = await create({ name: n, public_key: ED25519, user_id: bob.userId }, { token: h.adminToken, version: '2.10' });
    assert.equal(made.status, 201);
    assert.equal(made.body.keypair.user_id, bob.userId);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: bob.token })).status, 200);
    const shown = await h.call('GET', `/v2.1/os-keypairs/${n}?user_id=${bob.userId}`, { version: '2.10' });
    assert.equal(shown.body.keypair.user_id, bob.userId);
    const listed = await h.call('GET', `/v2.1/os-keypairs?user_id=${bob.userId}`, { version: '2.10' });
    assert.ok(listed.body.keypairs.some((k: any) => k.keypair.name === n));
    assert.ok(!(await h.call('GET', '/v2.1/os-keypairs', { version: '2.10' })).body.keypairs.some((k: any) => k.keypair.name === n));
    // Before 2.10 the query parameter is ignored: the admin's own keypairs.
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}?user_id=${bob.userId}`, { version: '2.9' })).status, 404);

    const forbidden = await create({ name: name(), public_key: ED25519, user_id: bob.userId }, { version: '2.10' });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body.forbidden.message, /os_compute_api:os-keypairs:create/);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}?user_id=${bob.userId}`, { token: alice.token, version: '2.10' })).status, 403);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs?user_id=${bob.userId}`, { token: alice.token, version: '2.10' })).status, 403);
    assert.equal((await h.call('DELETE', `/v2.1/os-keypairs/${n}?user_id=${bob.userId}`, { token: alice.token, version: '2.10' })).status, 403);
    assert.equal((await create({ name: name(), user_id: bob.userId }, { version: '2.9' })).status, 400);

    assert.equal((await h.call('DELETE', `/v2.1/os-keypairs/${n}?user_id=${bob.userId}`, { version: '2.10' })).status, 204);
    assert.equal((await h.call('GET', `/v2.1/os-keypairs/${n}`, { token: bob.token })).status, 404);
  });

  test('lists: everything before 2.35; from 2.35 limit/marker (names) with keypairs_links', async () => {
    const carol = await h.userToken(alice.projectId);
    for (const n of ['c', 'a', 'b', 'd']) assert.equal((await create({ name: n, public_key: ED25519 }, { token: carol.token })).status, 200);
    const all = await h.call('GET', '/v2.1/os-keypairs?limit=1', { token: carol.token, version: '2.34' });
    conforms('KeypairList', all.body);
    assert.deepEqual(all.body.keypairs.map((k: any) => k.keypair.name), ['a', 'b', 'c', 'd']);
    assert.deepEqual(Object.keys(all.body.keypairs[0].keypair).sort(), ['fingerprint', 'name', 'public_key', 'type']);
    assert.equal(all.body.keypairs_links, undefined);
    const page = await h.call('GET', '/v2.1/os-keypairs?limit=2', { token: carol.token, version: '2.35', headers: { host: 'nova:8774' } });
    assert.deepEqual(page.body.keypairs.map((k: any) => k.keypair.name), ['a', 'b']);
    assert.deepEqual(page.body.keypairs_links, [{ rel: 'next', href: 'http://nova:8774/v2.1/os-keypairs?limit=2&marker=b' }]);
    const next = await h.call('GET', '/v2.1/os-keypairs?limit=2&marker=b', { token: carol.token, version: '2.35' });
    assert.deepEqual(next.body.keypairs.map((k: any) => k.keypair.name), ['c', 'd']);
    const last = await h.call('GET', '/v2.1/os-keypairs?marker=c', { token: carol.token, version: '2.35' });
    assert.deepEqual(last.body.keypairs.map((k: any) => k.keypair.name), ['d']);
    assert.equal(last.body.keypairs_links, undefined);
    const badMarker = await h.call('GET', '/v2.1/os-keypairs?marker=zzz', { token: carol.token, version: '2.35' });
    assert.equal(badMarker.status, 400);
    assert.equal(badMarker.body.badRequest.message, 'Marker zzz could not be found.');
    assert.equal((await h.call('GET', '/v2.1/os-keypairs?limit=x', { token: carol.token, version: '2.35' })).status, 400);
    assert.equal((await h.call('GET', '/v2.1/os-keypairs?colour=red', { token: carol.token, version: '2.75' })).status, 400);
    assert.equal((await h.call('GET', '/v2.1/os-keypairs?colour=red', { token: carol.token, version: '2.74' })).status, 200);
  });

  test('the key_pairs quota: a user over it gets a 403 "Quota exceeded, too many key pairs."', async () => {
    const project = await h.projectToken();
    const set = await h.call('PUT', `/v2.1/os-quota-sets/${project.projectId}`, { body: { quota_set: { key_pairs: 2 } } });
    assert.equal(set.status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await create({ name: `q${i}`, public_key: ED25519 }, { token: project.token })).status, 200);
    const over = await create({ name: 'q2', public_key: ED25519 }, { token: project.token });
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, { forbidden: { code: 403, message: 'Quota exceeded, too many key pairs.' } });
    // The quota counts one user's keypairs: another user of the project still has room.
    const other = await h.userToken(project.projectId);
    assert.equal((await create({ name: 'q0', public_key: ED25519 }, { token: other.token })).status, 200);
    // A user's own limit wins over the project's.
    await h.call('PUT', `/v2.1/os-quota-sets/${project.projectId}?user_id=${project.userId}`, { body: { quota_set: { key_pairs: 3, force: true } } });
    assert.equal((await create({ name: 'q2', public_key: ED25519 }, { token: project.token })).status, 200);
    assert.equal((await h.call('DELETE', '/v2.1/os-keypairs/q0', { token: project.token })).status, 202);
    assert.equal((await create({ name: 'q3', public_key: ED25519 }, { token: project.token })).status, 200);
  });
});
