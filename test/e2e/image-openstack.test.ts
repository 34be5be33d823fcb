import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';

const GiB = 1024 ** 3;

/** Writes `bytes` of incompressible data (a random MiB, varied per MiB) to `file`. */
async function makeFile(file: string, bytes: number): Promise<void> {
  const block = randomBytes(1024 * 1024);
  const out = createWriteStream(file);
  for (let off = 0; off < bytes; off += block.length) {
    block.writeUInt32LE(off / block.length, 0);
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

async function digest(file: string, algo: string): Promise<string> {
  const hash = createHash(algo);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

/** The image workflow of the real `openstack` client against a real all-in-one. */
describe('openstack image commands against the all-in-one', () => {
  let cloud: AllInOne;
  let dir: string;
  let file: string;
  let imageId: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubo-e2e-image-'));
    file = join(dir, 'disk.raw');
    await makeFile(file, GiB);
    cloud = await startAllInOne();
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('image create --file uploads 1 GiB; list and show report it active with its checksums', async () => {
    const created = cloud.openstack(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', '--property', 'os_distro=test', 'e2e-1g', '-f', 'json'], {}, 300_000);
    imageId = created.id;
    // OSC prints the image as the create call returned it, before the data went up.
    assert.equal(created.name, 'e2e-1g');
    const md5 = await digest(file, 'md5');
    const list = cloud.openstack(['image', 'list', '-f', 'json']);
    assert.ok(list.some((i: { ID: string; Status: string }) => i.ID === imageId && i.Status === 'active'));
    const shown = cloud.openstack(['image', 'show', imageId, '-f', 'json']);
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, GiB);
    assert.equal(shown.checksum, md5);
    assert.equal(shown.properties.os_hash_algo ?? shown.os_hash_algo, 'sha512');
    assert.equal(shown.properties.os_hash_value ?? shown.os_hash_value, await digest(file, 'sha512'));
    assert.equal(shown.properties.os_distro, 'test');
  });

  test('image set --property and --tag change it; image save gives the same bytes back', async () => {
    cloud.openstack(['image', 'set', '--property', 'hw_disk_bus=virtio', '--tag', 'e2e', imageId]);
    const shown = cloud.openstack(['image', 'show', imageId, '-f', 'json']);
    assert.equal(shown.properties.hw_disk_bus, 'virtio');
    assert.deepEqual(shown.tags, ['e2e']);
    const out = join(dir, 'saved.raw');
    cloud.openstack(['image', 'save', '--file', out, imageId], {}, 300_000);
    assert.equal(statSync(out).size, GiB);
    assert.equal(await digest(out, 'md5'), shown.checksum);
    rmSync(out);
  });

  test('an image shared with a second project is seen there once accepted', () => {
    const project = cloud.openstack(['project', 'create', 'e2e-consumer', '-f', 'json']);
    const password = randomBytes(12).toString('hex');
    cloud.openstack(['user', 'create', '--password', password, '--project', project.id, 'e2e-consumer-user', '-f', 'json']);
    cloud.openstack(['role', 'add', '--user', 'e2e-consumer-user', '--project', project.id, 'member']);
    const consumer = {
      OS_AUTH_URL: cloud.authUrl,
      OS_USERNAME: 'e2e-consumer-user',
      OS_PASSWORD: password,
      OS_PROJECT_NAME: 'e2e-consumer',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_IDENTITY_API_VERSION: '3',
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    };
    const asConsumer = (args: string[]) => {
      const r = cloud.openstackRaw(args, consumer);
      assert.equal(r.status, 0, `openstack ${args.join(' ')} as the consumer failed:\n${r.stderr}`);
      return args.includes('json') ? JSON.parse(r.stdout) : r.stdout;
    };
    const listed = () => asConsumer(['image', 'list', '-f', 'json']).map((i: { ID: string }) => i.ID);

    cloud.openstack(['image', 'set', '--shared', imageId]);
    assert.ok(!listed().includes(imageId), 'a shared image is not listed before its member is added');
    const member = cloud.openstack(['image', 'add', 'project', imageId, project.id, '-f', 'json']);
    assert.equal(member.status, 'pending');
    assert.ok(!listed().includes(imageId), 'a pending member does not list the image by default');
    asConsumer(['image', 'set', '--accept', imageId]);
    assert.ok(listed().includes(imageId), 'the accepted image is listed');
    const members = cloud.openstack(['image', 'member', 'list', imageId, '-f', 'json']);
    assert.deepEqual(members.map((m: { 'Member ID': string; Status: string }) => [m['Member ID'], m.Status]), [[project.id, 'accepted']]);
    const shown = asConsumer(['image', 'show', imageId, '-f', 'json']);
    assert.equal(shown.visibility, 'shared');
  });

  test('image delete removes it and its data', () => {
    cloud.openstack(['image', 'delete', imageId]);
    const r = cloud.openstackRaw(['--os-cloud', 'nubo', 'image', 'show', imageId], { OS_CLIENT_CONFIG_FILE: cloud.cloudsFile, PATH: process.env.PATH, HOME: process.env.HOME });
    assert.notEqual(r.status, 0);
  });
});
