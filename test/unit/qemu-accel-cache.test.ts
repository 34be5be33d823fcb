/**
 * The KVM probe's answer is kept in a file and used while what it depends on
 * holds: a fake QEMU (a script that counts its runs and exits at once) shows
 * when the driver probes and when it reads the answer back.
 */
import assert from 'node:assert/strict';
import { accessSync, constants, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { probeKey, readProbe, writeProbe } from '../../compute-driver/drivers/qemu/accel-cache.ts';
import { detectAccel } from '../../compute-driver/drivers/qemu/accel.ts';
import { createLogger } from '../../lib/log.ts';

const log = createLogger({ level: 'silent', name: 'accel-test' });
const kvmOpens = (() => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

describe('the KVM probe cache', () => {
  let dir: string;
  let qemu: string;
  let runs: string;
  const count = () => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean).length : 0);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nubo-accel-'));
    qemu = join(dir, 'fake-qemu');
    runs = join(dir, 'runs');
    writeFileSync(qemu, `#!/bin/sh\necho run >> '${runs}'\necho 'no KVM here' >&2\nexit 1\n`);
    await chmod(qemu, 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('an answer is kept with its key, and a changed key reads as no answer', async () => {
    const file = join(dir, 'kept.json');
    const key = probeKey(qemu, '8.2.2', null);
    assert.equal(await readProbe(file, key), null);
    await writeProbe(file, key, { accel: 'kvm', cpu: 'host', reason: 'probed' });
    assert.deepEqual(await readProbe(file, key), { accel: 'kvm', cpu: 'host', reason: 'probed' });
    assert.equal(await readProbe(file, { ...key, qemuVersion: '9.0.0' }), null);
    assert.equal(await readProbe(file, { ...key, kernelRelease: 'another' }), null);
    assert.equal(await readProbe(file, { ...key, kvmDevice: '/dev/kvm rdev=1 size=0 mtime=1' }), null);
    writeFileSync(file, '{ half a fi');
    assert.equal(await readProbe(file, key), null);
  });

  test('auto probes when there is no answer, saves it, and uses a saved one without probing', async () => {
    const fresh = join(dir, 'fresh', 'accel.json');
    const probed = await detectAccel('auto', qemu, log, { qemuVersion: '8.2.2', cacheFile: fresh, probeTimeoutMs: 5000 });
    assert.equal(probed.accel, 'tcg');
    if (kvmOpens) {
      assert.equal(count(), 2, 'one probe boot per CPU model');
      assert.match(probed.reason, /qemu exited \(1\) before the kernel banner: no KVM here/);
    }
    const saved = JSON.parse(readFileSync(fresh, 'utf8'));
    assert.equal(saved.accel.accel, 'tcg');
    assert.equal(saved.key.qemuVersion, '8.2.2');

    // What a later start finds: an answer for the key as it is now (here a made-up KVM one) is used as it is.
    const kept = join(dir, 'kept-kvm.json');
    const before = count();
    // The probe kernel is part of the key: take it from the saved one.
    await writeProbe(kept, { ...saved.key }, { accel: 'kvm', cpu: 'qemu64', reason: 'KVM with -cpu qemu64' });
    const reused = await detectAccel('auto', qemu, log, { qemuVersion: '8.2.2', cacheFile: kept });
    assert.equal(reused.accel, 'kvm');
    assert.equal(reused.cpu, 'qemu64');
    assert.match(reused.reason, /probed earlier/);
    assert.equal(count(), before, 'no probe boot');

    // Another QEMU version: the saved answer does not count, the probe runs again.
    const again = await detectAccel('auto', qemu, log, { qemuVersion: '9.0.0', cacheFile: kept, probeTimeoutMs: 5000 });
    assert.equal(again.accel, 'tcg');
    if (kvmOpens) assert.equal(count(), before + 2);
    assert.equal(JSON.parse(readFileSync(kept, 'utf8')).key.qemuVersion, '9.0.0');
  });

  test('kvm and tcg are taken as told, with no probe and no file', async () => {
    const file = join(dir, 'forced.json');
    const before = count();
    assert.equal((await detectAccel('kvm', qemu, log, { qemuVersion: '8.2.2', cacheFile: file })).accel, 'kvm');
    assert.equal((await detectAccel('tcg', qemu, log, { qemuVersion: '8.2.2', cacheFile: file })).accel, 'tcg');
    assert.equal(count(), before);
    assert.ok(!existsSync(file));
  });
});
