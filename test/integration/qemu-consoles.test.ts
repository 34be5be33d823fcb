/**
 * The qemu driver's remote consoles driven directly, with a real QEMU guest
 * (the test guest of test/guest/, TCG): the serial socket carries what the
 * guest writes on ttyS0 while console.log keeps it too (after an agent
 * restart adopted the guest as well), the VNC socket speaks RFB, and a guest
 * without QEMU has neither. Skipped when QEMU or genisoimage is missing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleTypeUnavailable, emptyBlockDeviceInfo, InstanceNotFound, type InstanceSpec } from '../../compute-driver/driver.ts';
import { sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { QemuDriver } from '../../compute-driver/drivers/qemu/index.ts';
import { createLogger } from '../../lib/log.ts';
import { qemuDriverMissing, waitForGuest } from '../support/guest.ts';
import { startQemuImages, type QemuImages } from '../support/qemu-images.ts';

const skip = qemuDriverMissing();

const BOOT_MS = 300_000;
const log = createLogger({ level: process.env.NUBO_TEST_LOG ?? 'warn', name: 'qemu-consoles-test' });
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);
const TICKS = Buffer.from('#!/bin/sh\nn=0\nwhile sleep 1; do n=$((n+1)); echo "tick $n"; done\n').toString('base64');

/** What the unix socket at `path` sends until `done` holds for it (or fails after timeoutMs); the connection is closed then. */
function readSocket(path: string, done: (text: string) => boolean, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    const timer = setTimeout(() => finish(new Error(`${path} did not send what was expected in ${timeoutMs} ms: ${JSON.stringify(text.slice(-300))}`)), timeoutMs);
    const finish = (e?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e);
      else resolve(text);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    });
    socket.on('error', (e) => finish(e));
    socket.on('close', () => finish(new Error(`${path} closed: ${JSON.stringify(text.slice(-300))}`)));
  });
}

const lastTick = (text: string) => Math.max(0, ...[...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));

describe('qemu driver consoles', { skip, timeout: 20 * 60_000 }, () => {
  let stateDir: string;
  let images: QemuImages;
  const drivers: QemuDriver[] = [];

  const newDriver = async () => {
    const d = new QemuDriver({ stateDir, accelCacheFile: join(tmpdir(), 'nubo-test-accel-probe.json'), logger: log });
    await d.init('qemu-consoles-host');
    drivers.push(d);
    return d;
  };
  const spec = (over: Partial<InstanceSpec> = {}) =>
    sampleInstance({ flavor: { flavorid: 'q1', name: 'q.tiny', vcpus: 1, memory_mb: 128, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} }, config_drive: true, ...over });

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'nubo-qcon-'));
    images = await startQemuImages();
  });

  after(async () => {
    const d = drivers.at(-1);
    for (const ref of (await d?.listInstances().catch(() => [])) ?? []) await d!.destroy(ref).catch(() => {});
    for (const x of drivers) await x.cleanupHost('qemu-consoles-host');
    await images?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test('serial and VNC sockets of a running guest; the console log goes on, after adoption too; none once it is off', async () => {
    const driver = await newDriver();
    const inst = spec({ user_data: TICKS });
    const dir = join(stateDir, inst.uuid);
    step('spawn');
    await driver.spawn(inst, await images.guest(), [], emptyBlockDeviceInfo());
    await waitForGuest(join(dir, 'console.log'), (boots) => boots[0]?.ready === true, BOOT_MS);

    step('serial');
    const serial = await driver.consoleSocket(inst, 'serial');
    assert.equal(serial, join(dir, 'serial.sock'));
    const seen = lastTick(await readSocket(serial, (t) => /tick \d+\r?\n/.test(t)));
    assert.ok(seen > 0);
    // What went to the socket went to the log as well.
    for (let i = 0; !(await driver.getConsoleOutput(inst)).includes(`tick ${seen}\r\n`); i++) {
      assert.ok(i < 100, `tick ${seen} is not in the console log`);
      await sleep(100);
    }

    step('vnc');
    const vnc = await driver.consoleSocket(inst, 'vnc');
    assert.equal(vnc, join(dir, 'vnc.sock'));
    assert.equal(await readSocket(vnc, (t) => t.length >= 12), 'RFB 003.008\n');

    // An agent restart: the new driver adopts the guest; its log and serial socket go on.
    step('adoption');
    await driver.cleanupHost('qemu-consoles-host');
    const driver2 = await newDriver();
    const before = lastTick(await driver2.getConsoleOutput(inst));
    const later = lastTick(await readSocket(await driver2.consoleSocket(inst, 'serial'), (t) => lastTick(t) > before));
    assert.ok(later > before);
    for (let i = 0; lastTick(await driver2.getConsoleOutput(inst)) < later; i++) {
      assert.ok(i < 100, `tick ${later} is not in the console log after adoption`);
      await sleep(100);
    }

    step('power off');
    await driver2.powerOff(inst, 0);
    for (const kind of ['serial', 'vnc'] as const) await assert.rejects(driver2.consoleSocket(inst, kind), ConsoleTypeUnavailable);
    await assert.rejects(driver2.consoleSocket(spec(), 'serial'), InstanceNotFound);
    await driver2.destroy(inst);
  });
});
