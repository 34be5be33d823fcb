/**
 * The qemu driver driven directly (no API, no bus): real QEMU guests (the
 * shared test guest of test/guest/), an image served as Glance
 * serves `GET /v2/images/{id}/file`. Skipped when QEMU or the guest's tools
 * are missing. Guests run under TCG on loaded machines: waits are long.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, emptyBlockDeviceInfo, ImageUnacceptable, InstanceNotFound, type ImageMeta, type InstanceSpec, type LifecycleEvent } from '../../compute-driver/driver.ts';
import { sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { detectAccel } from '../../compute-driver/drivers/qemu/accel.ts';
import { QemuDriver } from '../../compute-driver/drivers/qemu/index.ts';
import { PowerState } from '../../compute-driver/states.ts';
import { createLogger } from '../../lib/log.ts';
import { GUEST_POWERDOWN, guestLine, parseGuestConsole, qemuDriverMissing, testGuestImage } from '../support/guest.ts';

const skip = qemuDriverMissing() ?? false;
if (skip) console.log(`# skipping the qemu driver tests: ${skip}`);

const BOOT_MS = 300_000;
const log = createLogger({ level: process.env.NUBO_TEST_LOG ?? 'warn', name: 'qemu-test' });

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = BOOT_MS): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);
const count = (text: string, needle: string) => text.split(needle).length - 1;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('qemu driver', { skip, timeout: 30 * 60_000 }, () => {
  let stateDir: string;
  let server: Server;
  let base: string;
  let guestData: Buffer;
  const downloads = new Map<string, number>();
  const drivers: QemuDriver[] = [];
  const good: ImageMeta = { id: randomUUID(), name: 'guest', disk_format: 'qcow2', container_format: 'bare', properties: {} };

  const newDriver = async () => {
    // The KVM probe's answer is shared by the test runs of this machine (the probe has its own test below).
    const d = new QemuDriver({ stateDir, accel: 'auto', accelCacheFile: join(tmpdir(), 'nubo-test-accel-probe.json'), softRebootSeconds: 240, logger: log });
    await d.init('qemu-test-host');
    drivers.push(d);
    return d;
  };
  const spec = (over: Partial<InstanceSpec> = {}) =>
    sampleInstance({
      flavor: { flavorid: 'q1', name: 'q.tiny', vcpus: 1, memory_mb: 128, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} },
      key_name: 'k1',
      key_data: 'ssh-ed25519 AAAATESTKEY test@nubo',
      config_drive: true,
      ...over,
    });
  const image = (over: Partial<ImageMeta>): ImageMeta => ({ ...good, ...over, download: { url: `${base}/v2/images/${over.id ?? good.id}/file`, token: 'secret-token' } });

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'nubo-qemu-'));
    guestData = readFileSync(await testGuestImage());
    const junk = randomBytes(256 * 1024);
    server = createServer((req, res) => {
      const id = /^\/v2\/images\/([^/]+)\/file$/.exec(req.url ?? '')?.[1] ?? '';
      downloads.set(id, (downloads.get(id) ?? 0) + 1);
      if (req.headers['x-auth-token'] !== 'secret-token') return void res.writeHead(401).end();
      if (id === good.id || id.startsWith('good')) return void res.writeHead(200, { 'content-length': guestData.length }).end(guestData);
      if (id.startsWith('junk')) return void res.writeHead(200, { 'content-length': junk.length }).end(junk);
      if (id.startsWith('cut')) {
        res.writeHead(200, { 'content-length': guestData.length });
        res.write(guestData.subarray(0, 64 * 1024));
        return void setTimeout(() => res.socket?.destroy(), 100);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    good.checksum = createHash('md5').update(guestData).digest('hex');
    good.os_hash_algo = 'sha512';
    good.os_hash_value = createHash('sha512').update(guestData).digest('hex');
  });

  after(async () => {
    for (const d of drivers) {
      for (const ref of await d.listInstances().catch(() => [])) await d.destroy(ref).catch(() => {});
      await d.cleanupHost('qemu-test-host');
    }
    server?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test('a guest lives through every power action, an agent restart and a kill', async () => {
    const driver = await newDriver();
    const resources = await driver.getAvailableResources();
    assert.equal(resources.hypervisor_type, 'QEMU');
    assert.ok(resources.hypervisor_version >= 2_000_000);
    console.log(`# accel ${driver.accel.accel} (-cpu ${driver.accel.cpu}): ${driver.accel.reason}`);

    // The user data ticks on the console after ready: a resumed guest goes on ticking.
    const inst = spec({ user_data: Buffer.from('#!/bin/sh\nn=0\nwhile sleep 2; do n=$((n+1)); echo "tick $n"; done\n').toString('base64') });
    const dir = join(stateDir, inst.uuid);
    const consoleLog = () => driver.getConsoleOutput(inst);
    const boots = async () => parseGuestConsole(await consoleLog()).filter((b) => b.ready).length;
    const pid = () => Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
    await driver.spawn(inst, image(good), [], emptyBlockDeviceInfo());
    const info = await driver.getInfo(inst);
    assert.equal(info.powerState, PowerState.RUNNING);
    assert.ok((info.cpuTimeNs ?? 0) > 0, 'getInfo tells the CPU time QEMU used');
    for (const f of ['disk', 'disk.config', 'launch.json', 'qemu.pid']) assert.ok(existsSync(join(dir, f)), f);
    assert.ok(existsSync(join(stateDir, '_base', good.id)));
    assert.deepEqual(await driver.listInstances(), [{ uuid: inst.uuid, name: inst.name }]);
    // The guest's init read its config drive.
    await waitFor('the guest to be ready', async () => (await boots()) === 1);
    const text = await consoleLog();
    assert.equal(guestLine.uuid.exec(text)?.[1], inst.uuid);
    assert.equal(guestLine.hostname.exec(text)?.[1], inst.hostname);
    assert.equal(guestLine.publicKey.exec(text)?.[1], 'ssh-ed25519 AAAATESTKEY test@nubo');
    assert.equal((await driver.getConsoleOutput(inst, 1)).split('\n').length, 1);
    const used = await driver.getAvailableResources();
    assert.equal(used.vcpus_used, 1);
    assert.equal(used.memory_mb_used, 128);

    step('pause');
    await driver.pause(inst);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.PAUSED);
    await assert.rejects(driver.pause(inst), { name: 'InstanceInvalidState' });
    await driver.unpause(inst);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);

    // Suspend saves the guest to a file and ends QEMU; resume goes on where it was (no new boot, the ticks go on).
    step('suspend');
    const beforeSuspend = pid();
    await driver.suspend(inst);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.SUSPENDED);
    assert.ok(!alive(beforeSuspend));
    assert.ok(existsSync(join(dir, 'suspend.state')));
    const ticks = count(await consoleLog(), '\ntick ');
    step('resume');
    await driver.resume(inst);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    assert.ok(!existsSync(join(dir, 'suspend.state')));
    await waitFor('the resumed guest to tick', async () => count(await consoleLog(), '\ntick ') > ticks, 120_000);
    assert.equal(parseGuestConsole(await consoleLog()).length, 1, 'no new boot after resume');

    step('hard reboot');
    await driver.reboot(inst, 'HARD');
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    await waitFor('the second boot (hard reboot)', async () => (await boots()) === 2);

    step('soft reboot');
    const beforeSoft = pid();
    await driver.reboot(inst, 'SOFT');
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    assert.notEqual(pid(), beforeSoft, 'a soft reboot powers the guest off and starts it again');
    assert.equal(count(await consoleLog(), GUEST_POWERDOWN), 1);
    await waitFor('the third boot (soft reboot)', async () => (await boots()) === 3);

    step('power off');
    const beforeOff = pid();
    await driver.powerOff(inst, 120, 10);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.SHUTDOWN);
    assert.ok(!alive(beforeOff));
    assert.equal(count(await consoleLog(), GUEST_POWERDOWN), 2);
    step('power on');
    await driver.powerOn(inst);
    assert.equal((await driver.getInfo(inst)).powerState, PowerState.RUNNING);
    await waitFor('the fourth boot (power on)', async () => (await boots()) === 4);

    // An agent restart: the guest keeps running and the new driver adopts it.
    step('agent restart');
    const running = pid();
    await driver.cleanupHost('qemu-test-host');
    const driver2 = await newDriver();
    assert.ok(alive(running));
    assert.equal(pid(), running);
    assert.equal((await driver2.getInfo(inst)).powerState, PowerState.RUNNING);
    const events: LifecycleEvent[] = [];
    driver2.onLifecycleEvent((e) => events.push(e));

    // The guest powers off by itself (the power button pressed behind the driver's back): SHUTDOWN, and an event.
    step('shutdown from inside');
    const monitor = await driver2.monitor(driver2.dir(inst.uuid));
    await monitor!.qmp.execute('system_powerdown');
    await waitFor('a SHUTDOWN lifecycle event', async () => events.length > 0, 120_000);
    assert.deepEqual(events, [{ uuid: inst.uuid, powerState: PowerState.SHUTDOWN }]);
    assert.equal((await driver2.getInfo(inst)).powerState, PowerState.SHUTDOWN);
    assert.ok(!alive(running));
    await driver2.powerOn(inst);
    await waitFor('the fifth boot (power on after the guest powered off)', async () => (await boots()) === 5);
    events.length = 0;

    // QEMU killed under the driver: a lifecycle event, and the guest is crashed (not running).
    step('kill');
    const victim = pid();
    process.kill(victim, 'SIGKILL');
    await waitFor('a lifecycle event', async () => events.length > 0, 30_000);
    assert.deepEqual(events[0], { uuid: inst.uuid, powerState: PowerState.CRASHED });
    assert.equal((await driver2.getInfo(inst)).powerState, PowerState.CRASHED);

    step('destroy');
    await driver2.destroy(inst);
    assert.ok(!existsSync(dir));
    await assert.rejects(driver2.getInfo(inst), InstanceNotFound);
    await driver2.destroy(inst);
    assert.ok(!existsSync(join(stateDir, '_base', good.id)), 'the base image goes with its last instance');
  });

  test('the KVM probe boots a kernel and keeps its answer', async () => {
    const file = join(stateDir, 'probe', 'accel.json');
    const version = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
    const accel = await detectAccel('auto', 'qemu-system-x86_64', log, { qemuVersion: version, cacheFile: file });
    console.log(`# probe: ${accel.accel} (-cpu ${accel.cpu}): ${accel.reason}`);
    assert.ok(accel.accel === 'kvm' || accel.accel === 'tcg');
    assert.ok(accel.reason.length > 0);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).accel, accel);
  });

  test('an image that is not what it claims is unacceptable, and nothing is left', async () => {
    const driver = drivers.at(-1) ?? (await newDriver());
    const inst = spec();
    const junk = image({ id: `junk-${randomUUID()}`, checksum: null, os_hash_algo: null, os_hash_value: null });
    await assert.rejects(driver.spawn(inst, junk, [], emptyBlockDeviceInfo()), (e: unknown) => {
      assert.ok(e instanceof ImageUnacceptable, String(e));
      assert.match((e as Error).message, /disk_format is qcow2 but its data is raw/);
      return true;
    });
    assert.ok(!existsSync(join(stateDir, inst.uuid)));
    assert.deepEqual(readdirSync(join(stateDir, '_base')).filter((n) => n.startsWith(junk.id)), []);
  });

  test('a download cut short fails the spawn and leaves no cache entry', async () => {
    const driver = drivers.at(-1) ?? (await newDriver());
    const inst = spec();
    const cut = image({ id: `cut-${randomUUID()}` });
    await assert.rejects(driver.spawn(inst, cut, [], emptyBlockDeviceInfo()), (e: unknown) => {
      assert.ok(e instanceof DriverError && e.reschedule, String(e));
      assert.match((e as Error).message, /Downloading image/);
      return true;
    });
    assert.ok(!existsSync(join(stateDir, inst.uuid)));
    assert.deepEqual(readdirSync(join(stateDir, '_base')).filter((n) => n.startsWith(cut.id)), []);
    assert.ok(!(await driver.listInstances()).some((r) => r.uuid === inst.uuid));
  });

  test('concurrent spawns of one image share one download; swap and ephemeral disks are made; a rebuild makes new ones', async () => {
    const driver = drivers.at(-1) ?? (await newDriver());
    const shared = image({ id: `good-${randomUUID()}` });
    const flavor = { flavorid: 'q2', name: 'q.disks', vcpus: 2, memory_mb: 128, root_gb: 0, ephemeral_gb: 1, swap: 16, extra_specs: { 'hw:cpu_cores': '2' } };
    const a = spec({ flavor });
    const b = spec({ flavor });
    await Promise.all([a, b].map((i) => driver.spawn(i, shared, [], emptyBlockDeviceInfo(), { powerOn: false })));
    assert.equal(downloads.get(shared.id), 1);
    for (const i of [a, b]) {
      assert.equal((await driver.getInfo(i)).powerState, PowerState.SHUTDOWN);
      for (const f of ['disk.eph0', 'disk.swap']) assert.ok(existsSync(join(stateDir, i.uuid, f)), f);
      const argv = JSON.parse(readFileSync(join(stateDir, i.uuid, 'launch.json'), 'utf8')).argv as string[];
      assert.ok(argv.includes('2,sockets=1,cores=2,threads=1'));
    }
    // A rebuild of a onto another image: a new root overlay of it, the ephemeral disk kept when asked, the old image released.
    const other = image({ id: `good-${randomUUID()}` });
    // Each disk gets an old mtime: a disk made anew has a new one.
    const old = new Date('2001-01-01T00:00:00Z');
    for (const f of ['disk', 'disk.eph0', 'disk.swap']) utimesSync(join(stateDir, a.uuid, f), old, old);
    const mtime = (f: string) => statSync(join(stateDir, a.uuid, f)).mtimeMs;
    const [disk, eph, swap] = [old.getTime(), old.getTime(), old.getTime()];
    await driver.rebuild(a, other, [], emptyBlockDeviceInfo(), { powerOn: false, preserveEphemeral: true });
    assert.equal((await driver.getInfo(a)).powerState, PowerState.SHUTDOWN);
    assert.notEqual(mtime('disk'), disk, 'a new root disk');
    assert.notEqual(mtime('disk.swap'), swap, 'a new swap disk');
    assert.equal(mtime('disk.eph0'), eph, 'the ephemeral disk is kept');
    assert.equal(JSON.parse(readFileSync(join(stateDir, a.uuid, 'launch.json'), 'utf8')).imageId, other.id);
    assert.match(execFileSync('qemu-img', ['info', '-U', '--output=json', join(stateDir, a.uuid, 'disk')], { encoding: 'utf8' }), new RegExp(other.id));
    await driver.rebuild(a, other, [], emptyBlockDeviceInfo(), { powerOn: false });
    assert.notEqual(mtime('disk.eph0'), eph, 'a new ephemeral disk unless preserved');
    assert.ok(existsSync(join(stateDir, '_base', shared.id)), 'still used by b');
    await driver.destroy(a);
    assert.ok(!existsSync(join(stateDir, '_base', other.id)), 'the rebuilt image goes with its last instance');
    assert.ok(existsSync(join(stateDir, '_base', shared.id)), 'still used by b');
    await driver.destroy(b);
    assert.ok(!existsSync(join(stateDir, '_base', shared.id)));
  });
});
