// Resize of a real guest with the real `openstack` client: an all-in-one
// with the qemu driver and the test guest as its default image (as
// kvm-turnkey.test.ts), one host, so the resize stays on it. `server resize
// --wait` ends in VERIFY_RESIZE with the guest running the new flavor's
// memory on the same disk; `server resize confirm` leaves no kept disks;
// `server resize revert` brings the old memory back. Skipped where QEMU is
// not installed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { removeDataDir, startAllInOne, type AllInOne } from '../support/all-in-one.ts';
import { parseGuestConsole, qemuDriverMissing, testGuestImage, type GuestBoot } from '../support/guest.ts';

const skip = qemuDriverMissing() ?? false;
/** Generous: TCG on a loaded machine. */
const BOOT_MS = 600_000;

describe('openstack server resize of a qemu guest', { skip }, () => {
  let cloud: AllInOne;
  const os = (args: string[], timeoutMs = 120_000) => cloud.openstack(args, {}, timeoutMs);
  /** The guest's n-th ready boot in `console log show`. */
  const bootN = async (name: string, n: number): Promise<GuestBoot> => {
    const until = Date.now() + BOOT_MS;
    let log = '';
    while (Date.now() < until) {
      log = os(['console', 'log', 'show', name]);
      const boot = parseGuestConsole(log).filter((b) => b.ready)[n - 1];
      if (boot) return boot;
      await sleep(2000);
    }
    throw new Error(`${name} did not get to boot ${n}; console:\n${log.slice(-2000)}`);
  };

  before(async () => {
    cloud = await startAllInOne({ env: { NUBO_COMPUTE_DRIVER: 'qemu', NUBO_COMPUTE_DEFAULT_IMAGE: await testGuestImage() }, startTimeoutMs: 240_000 });
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
  });

  test('resize --wait and confirm: the new memory on the same disk; resize again and revert: the old memory back', { timeout: BOOT_MS * 4 }, async () => {
    const server = os(['server', 'create', '--image', 'nubo-guest', '--flavor', 'm1.nano', '--wait', 'rz1', '-f', 'json'], BOOT_MS);
    assert.equal(server.status, 'ACTIVE');
    assert.equal((await bootN('rz1', 1)).values.ram_mb, '128');
    const kept = join(cloud.dataDir, 'instances', `${server.id}_resize`);

    os(['server', 'resize', '--flavor', 'm1.tiny', '--wait', 'rz1'], BOOT_MS);
    const verify = os(['server', 'show', 'rz1', '-f', 'json']);
    assert.equal(verify.status, 'VERIFY_RESIZE');
    assert.ok(existsSync(kept), 'the old disks are kept until the resize is confirmed');
    const resized = await bootN('rz1', 1);
    assert.equal(resized.values.ram_mb, '512');
    assert.equal(resized.values.boot, '2', 'the same root disk (its boot count goes on)');
    os(['server', 'resize', 'confirm', 'rz1']);
    for (let i = 0; i < 120 && os(['server', 'show', 'rz1', '-f', 'json']).status !== 'ACTIVE'; i++) await sleep(1000);
    assert.equal(os(['server', 'show', 'rz1', '-f', 'json']).status, 'ACTIVE');
    for (let i = 0; i < 60 && existsSync(kept); i++) await sleep(500);
    assert.ok(!existsSync(kept), 'confirm removes the kept disks');

    os(['server', 'resize', '--flavor', 'm1.small', '--wait', 'rz1'], BOOT_MS);
    assert.equal((await bootN('rz1', 1)).values.ram_mb, '2048');
    os(['server', 'resize', 'revert', 'rz1']);
    for (let i = 0; i < 300 && os(['server', 'show', 'rz1', '-f', 'json']).status !== 'ACTIVE'; i++) await sleep(1000);
    const back = os(['server', 'show', 'rz1', '-f', 'json']);
    assert.equal(back.status, 'ACTIVE');
    assert.match(JSON.stringify(back.flavor), /m1\.tiny/);
    assert.equal((await bootN('rz1', 2)).values.ram_mb, '512');
    assert.ok(!existsSync(kept), 'nothing of the move is left');
    os(['server', 'delete', '--wait', 'rz1'], 300_000);
    assert.ok(!existsSync(join(cloud.dataDir, 'instances', server.id)));
  });
});
