// compute.driver auto (compute-driver/drivers/choose.ts): qemu where its
// binaries are on PATH and QEMU runs, else the fake driver with the reason.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseDriver, driverBanner, findOnPath } from '../../compute-driver/drivers/choose.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { createLogger } from '../../lib/log.ts';
import { qemuAvailable } from '../support/guest.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const config = (env: NodeJS.ProcessEnv = {}) => loadConfig({ env: { NUBO_CONFIG: '', ...env } });

test('compute.driver defaults to auto', () => {
  assert.equal(config()['compute.driver'], 'auto');
});

test('auto falls back to the fake driver when qemu-system-x86_64 is not on PATH, and says which binaries are missing', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'nubo-nopath-'));
  try {
    const choice = await chooseDriver(config(), logger, { path: empty });
    assert.equal(choice.name, 'fake');
    assert.equal(choice.driver.type, 'fake');
    assert.match(choice.reason, /qemu-system-x86_64, qemu-img, genisoimage not found on PATH/);
    const banner = driverBanner(choice).join('\n');
    assert.match(banner, /FAKE/);
    assert.match(banner, /qemu-system-x86_64/);
    assert.equal((await choice.driver.getAvailableResources()).hypervisor_type, 'fake');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('auto falls back to fake when a qemu-system-x86_64 is found but does not run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubo-badqemu-'));
  try {
    for (const b of ['qemu-system-x86_64', 'qemu-img', 'genisoimage']) {
      writeFileSync(join(dir, b), '#!/bin/sh\necho broken >&2\nexit 3\n');
      chmodSync(join(dir, b), 0o755);
    }
    assert.equal(findOnPath('qemu-img', `/nonexistent:${dir}`), join(dir, 'qemu-img'));
    const choice = await chooseDriver(config(), logger, { path: dir });
    assert.equal(choice.name, 'fake');
    assert.match(choice.reason, /qemu-system-x86_64 --version failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an explicit fake stays fake whatever is installed', async () => {
  const choice = await chooseDriver(config({ NUBO_COMPUTE_DRIVER: 'fake' }), logger);
  assert.equal(choice.name, 'fake');
  assert.equal(choice.reason, 'compute.driver is fake');
});

test('auto picks qemu where QEMU runs, and names the accelerator its guests get', { skip: qemuAvailable() ? false : 'qemu-system-x86_64 is not installed' }, async () => {
  const choice = await chooseDriver(config({ NUBO_COMPUTE_QEMU_ACCEL: 'tcg' }), logger);
  assert.equal(choice.name, 'qemu');
  assert.equal(choice.driver.type, 'qemu');
  assert.equal(choice.accel?.accel, 'tcg');
  assert.match(driverBanner(choice).join('\n'), /TCG: slow software emulation/);
});
