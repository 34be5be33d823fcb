// The turnkey path of the README: an all-in-one with compute.driver auto and
// the test guest as its default image; the real `openstack` client boots a
// server from the registered image and flavor and reads what the guest
// printed on its console. Skipped where QEMU is not installed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { InstanceDir } from '../../compute-driver/drivers/qemu/instance-dir.ts';
import { removeDataDir, startAllInOne, type AllInOne } from '../support/all-in-one.ts';
import { GUEST_READY, guestLine, qemuAvailable, testGuestImage } from '../support/guest.ts';

const skip = qemuAvailable() ? false : 'qemu-system-x86_64 is not installed (bin/setup-host.sh installs it)';
/** Generous: TCG on a loaded machine. */
const BOOT_MS = 600_000;

const alive = (pid: number, uuid: string) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(uuid);
  } catch {
    return false;
  }
};

describe('turnkey: auto driver, default image and flavor, a guest booted with openstack', { skip }, () => {
  let cloud: AllInOne;
  let guest: string;
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const os = (args: string[], timeoutMs?: number) => cloud.openstack(args, {}, timeoutMs);

  before(async () => {
    guest = await testGuestImage();
    cloud = await startAllInOne({ env: { NUBO_COMPUTE_DRIVER: 'auto', NUBO_COMPUTE_DEFAULT_IMAGE: guest }, startTimeoutMs: 240_000 });
    console.log(`# all-in-one started after ${since()}`);
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
  });

  test('the start says the driver is qemu and which accelerator guests get', () => {
    assert.match(cloud.stderr, /driver qemu \((KVM|TCG)\)/);
    if (/\(TCG\)/.test(cloud.stderr)) assert.match(cloud.stderr, /TCG: slow software emulation/);
    assert.doesNotMatch(cloud.stderr, /FAKE/);
  });

  test('image list shows nubo-guest public; flavor list shows m1.nano', () => {
    const images = os(['image', 'list', '--long', '-f', 'json']);
    const img = images.find((i: any) => i.Name === 'nubo-guest');
    assert.ok(img, `no nubo-guest in ${JSON.stringify(images)}`);
    assert.equal(img.Visibility, 'public');
    assert.equal(img.Status, 'active');
    assert.equal(img['Disk Format'], 'qcow2');
    const shown = os(['image', 'show', 'nubo-guest', '-f', 'json']);
    assert.equal(shown.properties.hw_disk_bus, 'virtio');
    const nano = os(['flavor', 'list', '-f', 'json']).find((f: any) => f.Name === 'm1.nano');
    assert.deepEqual([nano?.ID, nano?.RAM, nano?.VCPUs, nano?.Disk, nano?.['Is Public']], ['42', 128, 1, 1, true]);
  });

  test('hypervisor list and the hypervisor itself say QEMU', async () => {
    const hvs = os(['hypervisor', 'list', '--long', '-f', 'json']);
    assert.equal(hvs.length, 1);
    assert.equal(hvs[0]['Hypervisor Type'], 'QEMU');
    // `openstack hypervisor show` also lists os-aggregates, which Nubo does not serve yet: GET the hypervisor itself.
    const token = os(['token', 'issue', '-f', 'json']).id;
    const compute = os(['catalog', 'show', 'compute', '-f', 'json']).endpoints.find((e: any) => e.interface === 'public').url;
    const res = await fetch(`${compute}/os-hypervisors/${hvs[0].ID}`, { headers: { 'X-Auth-Token': token } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).hypervisor.hypervisor_type, 'QEMU');
  });

  test('server create --wait goes ACTIVE, the console shows the guest ready with its uuid, hostname and key; delete leaves no process', { timeout: BOOT_MS * 2 }, async () => {
    os(['keypair', 'create', 'k'], 120_000);
    const publicKey = os(['keypair', 'show', '--public-key', 'k']).trim();
    const created = Date.now();
    const server = os(['server', 'create', '--image', 'nubo-guest', '--flavor', 'm1.nano', '--key-name', 'k', '--wait', 'vm1', '-f', 'json'], BOOT_MS);
    assert.equal(server.status, 'ACTIVE');
    console.log(`# vm1 ACTIVE ${((Date.now() - created) / 1000).toFixed(1)} s after server create (${since()} from the start of the test)`);
    let log = '';
    const until = Date.now() + BOOT_MS;
    while (Date.now() < until) {
      log = os(['console', 'log', 'show', 'vm1']);
      if (log.includes(GUEST_READY)) break;
      await sleep(2000);
    }
    assert.ok(log.includes(GUEST_READY), `the guest did not get ready; console:\n${log}`);
    console.log(`# vm1 console ready ${((Date.now() - created) / 1000).toFixed(1)} s after server create (${since()} from the start of the test)`);
    assert.equal(guestLine.uuid.exec(log)?.[1], server.id);
    assert.equal(guestLine.hostname.exec(log)?.[1], 'vm1');
    assert.equal(guestLine.publicKey.exec(log)?.[1], publicKey);

    const dir = new InstanceDir(join(cloud.dataDir, 'instances'), server.id);
    const pid = Number(readFileSync(dir.pidfile, 'utf8').trim());
    assert.ok(alive(pid, server.id), `qemu ${pid} of ${server.id} is not running`);
    os(['server', 'delete', '--wait', 'vm1'], 300_000);
    for (let i = 0; i < 30 && alive(pid, server.id); i++) await sleep(500);
    assert.ok(!alive(pid, server.id), `qemu ${pid} of ${server.id} still runs after the delete`);
    assert.ok(!existsSync(dir.path), `${dir.path} remains after the delete`);
  });
});

describe('turnkey: the default image is registered once; without QEMU auto runs the fake driver', () => {
  test('a second start registers nothing; a start whose PATH lacks qemu says FAKE and why, and hypervisor_type is fake', { timeout: 300_000 }, async () => {
    const guest = qemuAvailable() ? await testGuestImage() : '/nonexistent/nubo-guest.qcow2';
    const env = { NUBO_COMPUTE_DRIVER: 'fake', NUBO_COMPUTE_DEFAULT_IMAGE: guest };
    let cloud = await startAllInOne({ env });
    const dataDir = cloud.dataDir;
    try {
      const first = cloud.openstack(['image', 'list', '-f', 'json']).filter((i: any) => i.Name === 'nubo-guest');
      assert.equal(first.length, qemuAvailable() ? 1 : 0);
      await cloud.stop();
      // No qemu on PATH: auto falls back to fake (node itself is found by its full path).
      cloud = await startAllInOne({ dataDir, env: { ...env, NUBO_COMPUTE_DRIVER: 'auto', PATH: '/nonexistent-bin' } });
      const again = cloud.openstack(['image', 'list', '-f', 'json']).filter((i: any) => i.Name === 'nubo-guest');
      assert.deepEqual(again.map((i: any) => i.ID), first.map((i: any) => i.ID));
      assert.match(cloud.stderr, /driver fake/);
      assert.match(cloud.stderr, /The compute driver is FAKE/);
      assert.match(cloud.stderr, /qemu-system-x86_64, qemu-img, genisoimage not found on PATH/);
      const hvs = cloud.openstack(['hypervisor', 'list', '--long', '-f', 'json']);
      assert.equal(hvs[0]['Hypervisor Type'], 'fake');
    } finally {
      await cloud.stop();
      removeDataDir(dataDir);
    }
  });
});
