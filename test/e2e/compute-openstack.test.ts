import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';
import { md5Fingerprint, newRsaOpensshKey, opensshRsaPublicKey } from '../support/ssh-keys.ts';

/**
 * The server workflow of the real `openstack` client (OSC 6.0.0: its compute
 * commands go through novaclient at microversion 2.1 unless told otherwise)
 * against an all-in-one with the fake driver.
 */
describe('openstack compute commands against the all-in-one', () => {
  let cloud: AllInOne;
  let dir: string;
  let imageId: string;
  let flavorId: string;
  let serverId: string;
  const userData = '#cloud-config\nruncmd:\n  - echo nubo-e2e\n';

  const os = (args: string[], timeoutMs?: number) => cloud.openstack(args, {}, timeoutMs);
  /** Runs a command expected to fail; returns its status and stderr. */
  const osFails = (args: string[]) => {
    const r = cloud.openstackRaw(['--os-cloud', 'nubo', ...args], { OS_CLIENT_CONFIG_FILE: cloud.cloudsFile, PATH: process.env.PATH, HOME: process.env.HOME });
    assert.notEqual(r.status, 0, `openstack ${args.join(' ')} succeeded:\n${r.stdout}`);
    return r;
  };
  const show = (name: string, version?: string) => os([...(version ? ['--os-compute-api-version', version] : []), 'server', 'show', name, '-f', 'json']);
  const names = () => os(['server', 'list', '-f', 'json']).map((s: { Name: string }) => s.Name).sort();
  /** Polls `server show` (as a user of the client would) until the server has `status` and no task. */
  const waitFor = async (name: string, status: string) => {
    let last: any;
    for (let i = 0; i < 120; i++) {
      last = show(name);
      if (last.status === status && last['OS-EXT-STS:task_state'] === null) return last;
      await sleep(500);
    }
    assert.fail(`${name} did not become ${status}: ${last.status}/${last['OS-EXT-STS:task_state']}`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubo-e2e-compute-'));
    cloud = await startAllInOne();
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('flavor create, and a private flavor shared with a project with flavor set --project', () => {
    const small = os(['flavor', 'create', '--ram', '128', '--disk', '1', '--vcpus', '1', 'e2e.small', '-f', 'json']);
    flavorId = small.id;
    assert.deepEqual([small.name, small.ram, small.disk, small.vcpus, small['os-flavor-access:is_public']], ['e2e.small', 128, 1, 1, true]);

    const priv = os(['flavor', 'create', '--ram', '256', '--disk', '1', '--vcpus', '2', '--private', 'e2e.private', '-f', 'json']);
    assert.equal(priv['os-flavor-access:is_public'], false);
    const project = os(['project', 'create', 'e2e-flavor-user', '-f', 'json']);
    const password = randomBytes(12).toString('hex');
    os(['user', 'create', '--password', password, '--project', project.id, 'e2e-flavor-user', '-f', 'json']);
    os(['role', 'add', '--user', 'e2e-flavor-user', '--project', project.id, 'member']);
    const asMember = () => {
      const r = cloud.openstackRaw(['flavor', 'list', '-f', 'json'], {
        OS_AUTH_URL: cloud.authUrl,
        OS_USERNAME: 'e2e-flavor-user',
        OS_PASSWORD: password,
        OS_PROJECT_NAME: 'e2e-flavor-user',
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_IDENTITY_API_VERSION: '3',
        PATH: process.env.PATH,
        HOME: process.env.HOME,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout).map((f: { Name: string }) => f.Name);
    };
    assert.ok(!asMember().includes('e2e.private'), 'a private flavor is hidden from a project without access');
    os(['flavor', 'set', '--project', project.id, 'e2e.private']);
    assert.deepEqual(os(['flavor', 'show', 'e2e.private', '-f', 'json']).access_project_ids, [project.id]);
    const seen = asMember();
    assert.ok(seen.includes('e2e.private') && seen.includes('e2e.small'), `the member sees: ${seen}`);
  });

  test('keypair create generates a key and prints its private half; --public-key imports one', () => {
    const privatePem = os(['keypair', 'create', 'e2e-key']);
    assert.match(privatePem, /^-----BEGIN (RSA )?PRIVATE KEY-----\n/);
    const generated = os(['keypair', 'show', 'e2e-key', '-f', 'json']);
    assert.equal(generated.fingerprint, md5Fingerprint(opensshRsaPublicKey(createPrivateKey(privatePem))), 'the printed private key is the pair of the stored public key');

    // An ed25519 key from ssh-keygen where there is one, else RSA from node:crypto.
    const keyFile = join(dir, 'id');
    const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e', '-f', keyFile]);
    if (keygen.status !== 0) writeFileSync(`${keyFile}.pub`, newRsaOpensshKey('e2e') + '\n');
    const publicKey = readFileSync(`${keyFile}.pub`, 'utf8');
    const imported = os(['keypair', 'create', '--public-key', `${keyFile}.pub`, 'e2e-imported', '-f', 'json']);
    assert.equal(imported.fingerprint, md5Fingerprint(publicKey));
    assert.equal(os(['keypair', 'show', '--public-key', 'e2e-imported']).trim(), publicKey.trim());
    const listed = os(['keypair', 'list', '-f', 'json']).map((k: { Name: string; Fingerprint: string }) => [k.Name, k.Fingerprint]);
    assert.deepEqual(listed.sort(), [
      ['e2e-imported', imported.fingerprint],
      ['e2e-key', generated.fingerprint],
    ]);
  });

  test('image create --file makes the image servers boot from', () => {
    const file = join(dir, 'disk.raw');
    writeFileSync(file, randomBytes(64 * 1024));
    imageId = os(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', 'e2e-img', '-f', 'json']).id;
    assert.equal(os(['image', 'show', imageId, '-f', 'json']).status, 'active');
  });

  test('server create --wait builds the server ACTIVE with its flavor, image, key, properties and user data', () => {
    const udFile = join(dir, 'user-data');
    writeFileSync(udFile, userData);
    const created = os(
      ['server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', '--key-name', 'e2e-key', '--property', 'k=v', '--user-data', udFile, '--wait', 'e2e-vm', '-f', 'json'],
      120_000,
    );
    serverId = created.id;
    assert.equal(created.status, 'ACTIVE');
    assert.match(created.adminPass, /^\S{8,}$/);
    const s = show('e2e-vm');
    assert.equal(s.id, serverId);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
    assert.equal(s['OS-EXT-STS:task_state'], null);
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.equal(s.flavor, `e2e.small (${flavorId})`);
    assert.equal(s.image, `e2e-img (${imageId})`);
    assert.equal(s.key_name, 'e2e-key');
    assert.deepEqual(s.properties, { k: 'v' });
    assert.deepEqual(s.addresses, {});
    assert.equal(s['OS-EXT-AZ:availability_zone'], 'nova');
    assert.ok(s['OS-EXT-SRV-ATTR:host'], 'an admin sees the host');
    assert.match(s['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    // User data shows (base64, as sent) to an admin from 2.3.
    assert.equal(show('e2e-vm', '2.3')['OS-EXT-SRV-ATTR:user_data'], Buffer.from(userData).toString('base64'));
  });

  test('server list shows it ACTIVE with image and flavor names; --long with host and properties', () => {
    const list = os(['server', 'list', '-f', 'json']);
    assert.deepEqual(list, [{ ID: serverId, Name: 'e2e-vm', Status: 'ACTIVE', Networks: {}, Image: 'e2e-img', Flavor: 'e2e.small' }]);
    const [long] = os(['server', 'list', '--long', '-f', 'json']);
    assert.equal(long['Task State'], null);
    assert.equal(long['Power State'], 1);
    assert.equal(long['Availability Zone'], 'nova');
    assert.deepEqual(long.Properties, { k: 'v' });
    assert.equal(long['Flavor ID'], flavorId);
  });

  test('server reboot --wait and reboot --hard --wait come back ACTIVE', () => {
    os(['server', 'reboot', '--wait', 'e2e-vm'], 120_000);
    assert.equal(show('e2e-vm').status, 'ACTIVE');
    os(['server', 'reboot', '--hard', '--wait', 'e2e-vm'], 120_000);
    assert.equal(show('e2e-vm').status, 'ACTIVE');
  });

  test('server stop → SHUTOFF, start → ACTIVE; pause → PAUSED, unpause; suspend → SUSPENDED, resume', async () => {
    const steps: [string, string, number][] = [
      ['stop', 'SHUTOFF', 4],
      ['start', 'ACTIVE', 1],
      ['pause', 'PAUSED', 3],
      ['unpause', 'ACTIVE', 1],
      ['suspend', 'SUSPENDED', 7],
      ['resume', 'ACTIVE', 1],
    ];
    for (const [action, status, power] of steps) {
      os(['server', action, 'e2e-vm']);
      const s = await waitFor('e2e-vm', status);
      assert.equal(s['OS-EXT-STS:power_state'], power, `power state after ${action}`);
    }
    const actions = os(['server', 'event', 'list', 'e2e-vm', '-f', 'json']).map((e: { Action: string }) => e.Action);
    assert.deepEqual(actions.slice().reverse(), ['create', 'reboot', 'reboot', ...steps.map(([a]) => a)]);
  });

  test('a state an action cannot start from is the client error Nova gives (409)', () => {
    const r = osFails(['server', 'unpause', 'e2e-vm']);
    // OSC 6.0.0 pauses and unpauses through openstacksdk, which words the error its own way.
    assert.match(r.stderr, /ConflictException: 409: .*Cannot 'unpause' instance \S+ while it is in vm_state active/);
  });

  test('console log show prints what the driver logged, --lines the last of it', () => {
    const log = os(['console', 'log', 'show', 'e2e-vm']);
    for (const line of ['[fake] booting', '[fake] soft reboot', '[fake] hard reboot', '[fake] powered off', '[fake] resume']) {
      assert.ok(log.includes(line), `console log has ${line}:\n${log}`);
    }
    assert.deepEqual(os(['console', 'log', 'show', '--lines', '2', 'e2e-vm']).trim().split('\n'), ['[fake] suspend', '[fake] resume']);
  });

  test('server set --name renames it', () => {
    os(['server', 'set', '--name', 'e2e-renamed', 'e2e-vm']);
    assert.equal(show(serverId).name, 'e2e-renamed');
    assert.deepEqual(names(), ['e2e-renamed']);
  });

  test('bad input fails with the client\'s message and status 1, and leaves no server', () => {
    const unknownFlavor = osFails(['server', 'create', '--flavor', 'e2e.nope', '--image', 'e2e-img', 'e2e-bad']);
    assert.equal(unknownFlavor.status, 1);
    assert.match(unknownFlavor.stderr, /No flavor with a name or ID of 'e2e.nope' exists\./);
    const unknownKey = osFails(['server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', '--key-name', 'e2e-nokey', 'e2e-bad']);
    assert.equal(unknownKey.status, 1);
    assert.match(unknownKey.stderr, /Invalid key_name provided\. \(HTTP 400\) \(Request-ID: req-[0-9a-f-]{36}\)/);
    const unknownImage = osFails(['server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-noimage', 'e2e-bad']);
    assert.equal(unknownImage.status, 1);
    assert.match(unknownImage.stderr, /No Image found for e2e-noimage/);
    assert.deepEqual(names(), ['e2e-renamed']);
  });

  test('from 2.37 the client asks for networks "auto" (none without a network service) or --nic none', () => {
    const auto = os(['--os-compute-api-version', '2.37', 'server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', '--wait', 'e2e-auto', '-f', 'json'], 120_000);
    assert.equal(auto.status, 'ACTIVE');
    const none = os(['--os-compute-api-version', '2.37', 'server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', '--nic', 'none', '--wait', 'e2e-none', '-f', 'json'], 120_000);
    assert.equal(none.status, 'ACTIVE');
    for (const name of ['e2e-auto', 'e2e-none']) assert.deepEqual(show(name).addresses, {});
  });

  test('server delete --wait removes them from the list, and show then fails', () => {
    os(['server', 'delete', '--wait', 'e2e-renamed', 'e2e-auto', 'e2e-none'], 120_000);
    assert.deepEqual(names(), []);
    const r = osFails(['server', 'show', serverId]);
    assert.match(r.stderr, new RegExp(`No server with a name or ID of '${serverId}' exists`));
  });

  test('quota set --instances binds: --min 2 --max 2 fits, the next server is over quota (403)', () => {
    os(['quota', 'set', '--instances', '2', 'admin']);
    assert.equal(os(['quota', 'show', 'admin', '-f', 'json']).instances, 2);
    const first = os(['server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', '--min', '2', '--max', '2', '--wait', 'e2e-pair', '-f', 'json'], 120_000);
    assert.equal(first.status, 'ACTIVE');
    assert.deepEqual(names(), ['e2e-pair-1', 'e2e-pair-2']);
    const over = osFails(['server', 'create', '--flavor', 'e2e.small', '--image', 'e2e-img', 'e2e-third']);
    assert.equal(over.status, 1);
    assert.match(over.stderr, /Quota exceeded for instances: Requested 1, but already used 2 of 2 instances \(HTTP 403\)/);
    const usage = Object.fromEntries(
      os(['quota', 'list', '--compute', '--detail', '-f', 'json']).map((r: { Resource: string; 'In Use': number; Limit: number }) => [r.Resource, [r['In Use'], r.Limit]]),
    );
    assert.deepEqual(usage.instances, [2, 2]);
    assert.deepEqual(usage.cores, [2, 20]);
    assert.deepEqual(usage.ram, [256, 51200]);
    os(['server', 'delete', '--wait', 'e2e-pair-1', 'e2e-pair-2'], 120_000);
    assert.deepEqual(names(), []);
  });
});
