/**
 * Resize of real QEMU guests through the qemu driver (no API, no bus), as the
 * agents drive it (compute-driver/agent/resize.ts): migrateDiskAndPowerOff on
 * the source, finishMigration on the destination, then confirmMigration, or
 * destroy on the destination and finishRevertMigration on the source. The
 * test guest counts its boots on its root disk (boot=N) and prints the RAM it
 * was given (ram_mb=), so the console tells whether the disk came along and
 * whether the new flavor applies. Guests run under TCG: waits are long.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError, emptyBlockDeviceInfo, InstanceNotFound, type Flavor, type ImageMeta, type InstanceSpec, type MigrationInfo } from '../../compute-driver/driver.ts';
import { sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { QemuDriver } from '../../compute-driver/drivers/qemu/index.ts';
import { PowerState } from '../../compute-driver/states.ts';
import { createLogger } from '../../lib/log.ts';
import { parseGuestConsole, qemuDriverMissing, testGuestImage, type GuestBoot } from '../support/guest.ts';

const skip = qemuDriverMissing() ?? false;
if (skip) console.log(`# skipping the qemu resize tests: ${skip}`);

const BOOT_MS = 300_000;
const log = createLogger({ level: process.env.NUBO_TEST_LOG ?? 'warn', name: 'qemu-resize-test' });
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);

const small: Flavor = { flavorid: 'r1', name: 'r.small', vcpus: 1, memory_mb: 128, root_gb: 2, ephemeral_gb: 0, swap: 0, extra_specs: {} };
const big: Flavor = { flavorid: 'r2', name: 'r.big', vcpus: 2, memory_mb: 256, root_gb: 3, ephemeral_gb: 1, swap: 16, extra_specs: {} };
const tinyDisk: Flavor = { ...big, flavorid: 'r0', name: 'r.tinydisk', root_gb: 1 };

describe('qemu driver resize', { skip, timeout: 40 * 60_000 }, () => {
  const dirs: string[] = [];
  const drivers: QemuDriver[] = [];
  let server: Server;
  let base: string;
  const image: ImageMeta = { id: randomUUID(), name: 'guest', disk_format: 'qcow2', container_format: 'bare', properties: {} };

  const newDriver = async (host: string, stateDir?: string) => {
    const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'nubo-qresize-')));
    if (!stateDir) dirs.push(dir);
    const d = new QemuDriver({ stateDir: dir, accel: 'auto', accelCacheFile: join(tmpdir(), 'nubo-test-accel-probe.json'), logger: log });
    await d.init(host);
    drivers.push(d);
    return d;
  };
  const spec = (flavor: Flavor, over: Partial<InstanceSpec> = {}) => sampleInstance({ flavor, config_drive: true, ...over });
  const migration = (inst: InstanceSpec, source: string, dest: string, newFlavor: Flavor): MigrationInfo => ({
    uuid: randomUUID(),
    migration_type: 'resize',
    source_compute: source,
    source_node: source,
    dest_compute: dest,
    dest_node: dest,
    old_flavor: inst.flavor,
    new_flavor: newFlavor,
    old_vm_state: 'active',
  });
  const boots = async (d: QemuDriver, inst: InstanceSpec) => parseGuestConsole(await d.getConsoleOutput(inst).catch(() => '')).filter((b) => b.ready);
  /** Waits for the guest's n-th ready boot since its console log began, and gives it. */
  const readyBoot = async (d: QemuDriver, inst: InstanceSpec, n: number): Promise<GuestBoot> => {
    const until = Date.now() + BOOT_MS;
    for (;;) {
      const b = await boots(d, inst);
      if (b.length >= n) return b[n - 1];
      if (Date.now() > until) throw new Error(`guest ${inst.uuid} did not get to boot ${n}:\n${(await d.getConsoleOutput(inst).catch(() => '')).slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const pidOf = (stateDir: string, uuid: string) => Number(readFileSync(join(stateDir, uuid, 'qemu.pid'), 'utf8'));
  const launch = (stateDir: string, uuid: string) => JSON.parse(readFileSync(join(stateDir, uuid, 'launch.json'), 'utf8'));
  const backing = (path: string) => JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' }))['backing-filename'] as string;
  const virtualSize = (path: string) => Number(JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' }))['virtual-size']);
  const entries = (stateDir: string) => readdirSync(stateDir).filter((n) => !['_base', 'accel-probe.json'].includes(n)).sort();

  before(async () => {
    const data = readFileSync(await testGuestImage());
    server = createServer((req, res) => {
      if (req.url === `/v2/images/${image.id}/file`) return void res.writeHead(200, { 'content-length': data.length }).end(data);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    image.download = { url: `${base}/v2/images/${image.id}/file` };
  });

  after(async () => {
    for (const d of drivers) {
      for (const ref of await d.listInstances().catch(() => [])) await d.destroy(ref).catch(() => {});
      await d.cleanupHost(d.hostName);
    }
    server?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('on the same host: a smaller disk is refused; resize keeps the disk and gives the new memory; the kept disks outlive an agent restart; confirm removes them', async () => {
    const driver = await newDriver('rhost-a');
    const sd = driver.stateDir;
    const inst = spec(small);
    await driver.spawn(inst, image, [], emptyBlockDeviceInfo());
    const first = await readyBoot(driver, inst, 1);
    assert.equal(first.values.boot, '1');
    assert.equal(first.values.ram_mb, '128');
    const pid = pidOf(sd, inst.uuid);

    step('a smaller root disk is refused, the guest untouched');
    await assert.rejects(driver.migrateDiskAndPowerOff(inst, migration(inst, 'rhost-a', 'rhost-a', tinyDisk), [], emptyBlockDeviceInfo(), 60, 5), (e: unknown) => {
      assert.ok(e instanceof DriverError && !e.reschedule && e.name === 'ResizeError', String(e));
      assert.match((e as Error).message, /resize disk down/);
      return true;
    });
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    assert.equal(pidOf(sd, inst.uuid), pid);
    assert.deepEqual(entries(sd), [inst.uuid]);

    step('migrate (power off, keep the disks aside)');
    const m = migration(inst, 'rhost-a', 'rhost-a', big);
    const diskInfo = await driver.migrateDiskAndPowerOff(inst, m, [], emptyBlockDeviceInfo(), 120, 10);
    const info = JSON.parse(diskInfo);
    const kept = join(sd, `${inst.uuid}_resize`);
    assert.equal(info.kept_dir, kept);
    assert.equal(info.root.path, join(kept, 'disk'));
    assert.equal(info.base_path, join(sd, '_base', image.id));
    assert.deepEqual(entries(sd), [`${inst.uuid}_resize`]);
    assert.match(await readFileSync(join(kept, 'console.log'), 'utf8'), /nubo-guest: powerdown/, 'asked the guest to power off first');
    await assert.rejects(driver.getInfo(inst), InstanceNotFound);
    assert.deepEqual(await driver.listInstances(), []);

    step('finish on the same host with the bigger flavor');
    const resized = { ...inst, flavor: big };
    await driver.finishMigration(resized, m, diskInfo, image, [], emptyBlockDeviceInfo(), true, true);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    const second = await readyBoot(driver, inst, 1);
    assert.equal(second.values.boot, '2', 'the root disk came along (its boot count goes on)');
    assert.equal(second.values.ram_mb, '256');
    assert.equal(second.values.vcpus, '2');
    assert.match(second.values.disks, /\bvda:3072,vdb:1024,vdc:16\b/);
    assert.equal(virtualSize(join(sd, inst.uuid, 'disk')), 3 * 1024 ** 3);
    assert.equal(launch(sd, inst.uuid).spec.flavor.flavorid, 'r2');
    assert.equal(virtualSize(join(kept, 'disk')), 2 * 1024 ** 3, 'the kept disk is as it was');

    step('an agent restart adopts the resized guest, leaves the kept disks and their base');
    await driver.cleanupHost('rhost-a');
    const again = await newDriver('rhost-a', sd);
    assert.deepEqual(await again.listInstances(), [{ uuid: inst.uuid, name: inst.name }]);
    assert.equal((await again.getInfo(inst)).powerState, PowerState.RUNNING);
    assert.ok(existsSync(join(kept, 'disk')));
    assert.ok(await again.imageInUse(image.id));

    step('confirm');
    await again.confirmMigration(inst, m);
    assert.deepEqual(entries(sd), [inst.uuid]);
    assert.ok(existsSync(join(sd, '_base', image.id)), 'the resized guest still uses the base');
    await again.confirmMigration(inst, m);
    await again.destroy(inst);
    assert.deepEqual(entries(sd), []);
    assert.ok(!existsSync(join(sd, '_base', image.id)));
  });

  test('revert on the same host: the destination destroyed, the old guest back with its old disk and memory, nothing of the move left', async () => {
    const driver = drivers.at(-1) ?? (await newDriver('rhost-a'));
    const sd = driver.stateDir;
    const inst = spec(small);
    await driver.spawn(inst, image, [], emptyBlockDeviceInfo());
    await readyBoot(driver, inst, 1);
    const m = migration(inst, 'rhost-a', 'rhost-a', big);
    step('migrate + finish');
    const diskInfo = await driver.migrateDiskAndPowerOff(inst, m, [], emptyBlockDeviceInfo(), 120, 10);
    const resized = { ...inst, flavor: big };
    await driver.finishMigration(resized, m, diskInfo, image, [], emptyBlockDeviceInfo(), true, true);
    const onNew = await readyBoot(driver, inst, 1);
    assert.equal(onNew.values.ram_mb, '256');
    assert.equal(onNew.values.boot, '2');

    step('revert: destroy on the destination (this host), then finish the revert');
    await driver.destroy(resized, [], emptyBlockDeviceInfo(), true);
    assert.deepEqual(entries(sd), [`${inst.uuid}_resize`], 'destroy leaves the kept disks');
    assert.ok(existsSync(join(sd, '_base', image.id)), 'the kept disks keep their base in the cache');
    await driver.finishRevertMigration(inst, m, [], emptyBlockDeviceInfo(), true);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    // The kept console log goes on: its first boot is the one before the resize.
    const back = await readyBoot(driver, inst, 2);
    assert.equal(back.values.boot, '2', 'the old disk (one boot on it), not the resized one (two)');
    assert.equal(back.values.ram_mb, '128');
    assert.equal(launch(sd, inst.uuid).spec.flavor.flavorid, 'r1');
    assert.equal(virtualSize(join(sd, inst.uuid, 'disk')), 2 * 1024 ** 3);
    assert.ok(!existsSync(join(sd, inst.uuid, 'disk.eph0')));
    assert.deepEqual(entries(sd), [inst.uuid], 'nothing of the move is left');
    // A re-run of the revert (the agent died before it said so) finds the guest back and leaves it.
    const pid = pidOf(sd, inst.uuid);
    await driver.finishRevertMigration(inst, m, [], emptyBlockDeviceInfo(), true);
    assert.equal(pidOf(sd, inst.uuid), pid);
    await driver.destroy(inst);
    assert.deepEqual(entries(sd), []);
  });

  test('between two state directories of this machine: the disks are copied and rebased; unreadable disks fail clearly, leaving nothing', async () => {
    const a = drivers.at(-1) ?? (await newDriver('rhost-a'));
    const b = await newDriver('rhost-b');
    const inst = spec(small);
    await a.spawn(inst, image, [], emptyBlockDeviceInfo());
    await readyBoot(a, inst, 1);
    const m = migration(inst, 'rhost-a', 'rhost-b', big);
    const diskInfo = await a.migrateDiskAndPowerOff(inst, m, [], emptyBlockDeviceInfo(), 120, 10);
    const resized = { ...inst, flavor: big };

    step('disks that cannot be read there');
    const lost = JSON.parse(diskInfo);
    lost.root.path = join(a.stateDir, 'nowhere', 'disk');
    await assert.rejects(b.finishMigration(resized, m, JSON.stringify(lost), image, [], emptyBlockDeviceInfo(), true, true), (e: unknown) => {
      assert.ok(e instanceof DriverError && !e.reschedule, String(e));
      assert.match((e as Error).message, /cannot be read on rhost-b/);
      return true;
    });
    assert.deepEqual(entries(b.stateDir), []);

    step('finish on the other state directory');
    await b.finishMigration(resized, m, diskInfo, image, [], emptyBlockDeviceInfo(), true, true);
    const there = await readyBoot(b, inst, 1);
    assert.equal(there.values.boot, '2');
    assert.equal(there.values.ram_mb, '256');
    assert.equal(backing(join(b.stateDir, inst.uuid, 'disk')), join(b.stateDir, '_base', image.id), "the overlay is on the destination's own base");
    assert.deepEqual(entries(a.stateDir), [`${inst.uuid}_resize`]);
    await a.confirmMigration(inst, m);
    assert.deepEqual(entries(a.stateDir), []);
    assert.ok(!existsSync(join(a.stateDir, '_base', image.id)), "the source's base goes with the kept disks");
    assert.equal((await b.getInfo(inst)).powerState, PowerState.RUNNING);
    await b.destroy(inst);
    assert.deepEqual(entries(b.stateDir), []);
  });

  test('crash safety: a restarted driver keeps the kept disks and their base; re-runs find them; a half-made destination goes on a re-run or a revert', async () => {
    const driver = await newDriver('rhost-c');
    const sd = driver.stateDir;
    const bdi = emptyBlockDeviceInfo();
    const inst = spec(small);
    await driver.spawn(inst, image, [], bdi, { powerOn: false });
    const m = migration(inst, 'rhost-c', 'rhost-c', big);
    const diskInfo = JSON.parse(await driver.migrateDiskAndPowerOff(inst, m, [], bdi, 0, 0));

    step('the agent restarts with only the kept disks here');
    await driver.cleanupHost('rhost-c');
    const again = await newDriver('rhost-c', sd);
    assert.deepEqual(await again.listInstances(), [], 'the kept directory is no instance');
    assert.ok(existsSync(join(sd, '_base', image.id)), "init's cache sweep leaves the base the kept disks need");
    assert.deepEqual(JSON.parse(await again.migrateDiskAndPowerOff(inst, m, [], bdi, 0, 0)), diskInfo, 'a re-run finds the kept disks');

    step('a destination half made when the agent died');
    const half = () => {
      mkdirSync(join(sd, inst.uuid), { recursive: true });
      writeFileSync(join(sd, inst.uuid, 'incoming-resize'), `${m.uuid}\n`);
      writeFileSync(join(sd, inst.uuid, 'disk'), 'partial');
    };
    half();
    assert.deepEqual(JSON.parse(await again.migrateDiskAndPowerOff(inst, m, [], bdi, 0, 0)), diskInfo, 'a re-run of the source leaves it to the destination');
    await again.finishMigration({ ...inst, flavor: big }, m, JSON.stringify(diskInfo), image, [], bdi, true, false);
    assert.equal((await again.getInfo(inst)).powerState, PowerState.SHUTDOWN);
    assert.equal(launch(sd, inst.uuid).spec.flavor.flavorid, 'r2');
    assert.ok(!existsSync(join(sd, inst.uuid, 'incoming-resize')));
    await assert.rejects(again.finishMigration({ ...inst, flavor: big }, m, JSON.stringify(diskInfo), image, [], bdi, true, false), { name: 'InstanceExists' });

    step('a revert over a half-made destination');
    await again.destroy(inst);
    half();
    await again.finishRevertMigration(inst, m, [], bdi, false);
    assert.equal((await again.getInfo(inst)).powerState, PowerState.SHUTDOWN);
    assert.equal(launch(sd, inst.uuid).spec.flavor.flavorid, 'r1');
    assert.deepEqual(entries(sd), [inst.uuid]);
    await again.finishRevertMigration(inst, m, [], bdi, false);
    await assert.rejects(again.finishRevertMigration({ ...inst, flavor: big }, m, [], bdi, false), /Nothing of instance .* is kept/);
    await again.destroy(inst);
    assert.deepEqual(entries(sd), []);
    assert.ok(!existsSync(join(sd, '_base', image.id)));
  });
  test('a move ended without confirm or revert (cleanup_migration): only a half-made destination goes; the source drops its kept disks and their base', async () => {
    const src = await newDriver('rhost-s');
    const dst = await newDriver('rhost-d');
    const bdi = emptyBlockDeviceInfo();
    const inst = spec(small);
    await src.spawn(inst, image, [], bdi, { powerOn: false });
    const m = migration(inst, 'rhost-s', 'rhost-d', big);
    const diskInfo = await src.migrateDiskAndPowerOff(inst, m, [], bdi, 0, 0);
    assert.deepEqual(entries(src.stateDir), [`${inst.uuid}_resize`]);

    step('the destination died half way through finishMigration');
    mkdirSync(join(dst.stateDir, inst.uuid));
    writeFileSync(join(dst.stateDir, inst.uuid, 'incoming-resize'), `${m.uuid}\n`);
    writeFileSync(join(dst.stateDir, inst.uuid, 'disk'), 'partial');
    await dst.cleanupMigrationDestination(inst, m);
    assert.deepEqual(entries(dst.stateDir), [], 'the half-made guest is removed');

    step('a complete guest on the destination is left alone');
    await dst.finishMigration({ ...inst, flavor: big }, m, diskInfo, image, [], bdi, true, false);
    await dst.cleanupMigrationDestination(inst, m);
    assert.deepEqual(entries(dst.stateDir), [inst.uuid]);

    step('the source drops what it kept, and the cached base nothing else uses');
    assert.ok(existsSync(join(src.stateDir, '_base', image.id)), 'the kept disks pin the base');
    await src.confirmMigration(inst, m);
    await src.confirmMigration(inst, m);
    assert.deepEqual(entries(src.stateDir), []);
    assert.ok(!existsSync(join(src.stateDir, '_base', image.id)));
    await dst.destroy(inst);
    assert.deepEqual(entries(dst.stateDir), []);
  });
});
