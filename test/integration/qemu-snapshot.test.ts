/**
 * The qemu driver's snapshot (createImage) driven directly, with real QEMU
 * guests (the test guest of test/guest/, TCG) and a real image API on
 * loopback (test/support/qemu-images.ts): a running guest's root disk becomes
 * an active standalone qcow2 image that boots a second guest, a stopped guest
 * stays stopped, and no temporary file is left, even when the upload fails
 * or the agent died mid-snapshot (and then the guest goes on).
 * Skipped when QEMU or genisoimage is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { emptyBlockDeviceInfo, InstanceNotFound, type ImageMeta, type InstanceSpec } from '../../compute-driver/driver.ts';
import { sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { QemuDriver } from '../../compute-driver/drivers/qemu/index.ts';
import { PowerState } from '../../compute-driver/states.ts';
import { createLogger } from '../../lib/log.ts';
import { qemuDriverMissing, waitForGuest } from '../support/guest.ts';
import { startQemuImages, type QemuImages } from '../support/qemu-images.ts';

const skip = qemuDriverMissing();

const BOOT_MS = 300_000;
const GiB = 1024 ** 3;
const log = createLogger({ level: process.env.NUBO_TEST_LOG ?? 'warn', name: 'qemu-snapshot-test' });
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);

describe('qemu driver snapshots', { skip, timeout: 30 * 60_000 }, () => {
  let stateDir: string;
  let images: QemuImages;
  let guest: ImageMeta;
  let driver: QemuDriver;

  const spec = (over: Partial<InstanceSpec> = {}) =>
    sampleInstance({ flavor: { flavorid: 'q1', name: 'q.tiny', vcpus: 1, memory_mb: 128, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} }, config_drive: true, ...over });
  const consoleLog = (i: InstanceSpec) => join(stateDir, i.uuid, 'console.log');
  const leftovers = (i: InstanceSpec) => readdirSync(join(stateDir, i.uuid)).filter((n) => n.startsWith('snapshot-'));
  const ready = (i: InstanceSpec) => waitForGuest(consoleLog(i), (boots) => boots.length === 1 && boots[0].ready, BOOT_MS);
  /** The image's data, as qemu-img sees it. */
  const qemuImgInfo = async (id: string) => {
    const res = await fetch(`${images.base}/v2/images/${id}/file`, { headers: { 'x-auth-token': images.harness.adminToken } });
    assert.equal(res.status, 200);
    const file = join(stateDir, `download-${id}`);
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' }));
  };

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'nubo-qsnap-'));
    images = await startQemuImages();
    guest = await images.guest();
    driver = new QemuDriver({ stateDir, accelCacheFile: join(tmpdir(), 'nubo-test-accel-probe.json'), logger: log });
    await driver.init('qemu-snapshot-host');
  });

  after(async () => {
    for (const ref of (await driver?.listInstances().catch(() => [])) ?? []) await driver.destroy(ref).catch(() => {});
    await driver?.cleanupHost('qemu-snapshot-host');
    await images?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test('a running guest becomes a standalone qcow2 image that boots a second guest; the guest runs on', async () => {
    const a = spec();
    step('spawn a');
    await driver.spawn(a, guest, [], emptyBlockDeviceInfo());
    await ready(a);
    const pid = (await driver.monitor(driver.dir(a.uuid)))!.pid;

    step('a snapshot whose upload is refused');
    const refused = { ...(await images.target('refused')), token: 'not-a-token' };
    await assert.rejects(driver.snapshot(a, refused, async () => {}), /refused the snapshot data/);
    assert.equal((await driver.getInfo(a)).powerState, PowerState.RUNNING, 'the guest runs again after a failed snapshot');
    assert.deepEqual(leftovers(a), []);

    step('snapshot a');
    const target = await images.target('snap-of-running');
    const seen: string[] = [];
    await driver.snapshot(a, target, async (s) => void seen.push(s));
    assert.deepEqual(seen, ['image_pending_upload', 'image_uploading']);
    assert.equal((await driver.getInfo(a)).powerState, PowerState.RUNNING);
    assert.equal((await driver.monitor(driver.dir(a.uuid)))!.pid, pid, 'the same QEMU goes on');
    assert.deepEqual(leftovers(a), []);
    const shown = await images.show(target.image_id);
    assert.equal(shown.status, 'active');
    assert.equal(shown.virtual_size, GiB);
    const info = await qemuImgInfo(target.image_id);
    assert.equal(info.format, 'qcow2');
    assert.equal(info['backing-filename'], undefined, 'flattened: no backing file');

    // The disk b boots from is a's: its boot counter (fsynced by a's first boot before ready) says 2.
    step('spawn b from the snapshot');
    const b = spec();
    await driver.spawn(b, images.meta(target.image_id), [], emptyBlockDeviceInfo());
    const [boot] = await ready(b);
    assert.equal(boot.values.boot, '2');
    assert.equal(boot.values.uuid, b.uuid);
    await driver.destroy(b);
    await driver.destroy(a);
  });

  test('a stopped guest stays stopped; a paused one stays paused', async () => {
    const c = spec();
    await driver.spawn(c, guest, [], emptyBlockDeviceInfo(), { powerOn: false });
    const target = await images.target('snap-of-stopped');
    await driver.snapshot(c, target, async () => {});
    assert.equal((await driver.getInfo(c)).powerState, PowerState.SHUTDOWN);
    assert.deepEqual(leftovers(c), []);
    assert.equal((await images.show(target.image_id)).status, 'active');
    const info = await qemuImgInfo(target.image_id);
    assert.equal(info['backing-filename'], undefined);
    assert.equal(info['virtual-size'], GiB);

    step('snapshot of a paused guest');
    await driver.powerOn(c);
    await ready(c);
    await driver.pause(c);
    await driver.snapshot(c, await images.target('snap-of-paused'), async () => {});
    assert.equal((await driver.getInfo(c)).powerState, PowerState.PAUSED);
    assert.deepEqual(leftovers(c), []);
    await driver.destroy(c);
  });

  test('a snapshot cut short by the agent\'s death: the next driver lets the guest it stopped go on and removes the half-made file', async () => {
    const d = spec();
    await driver.spawn(d, guest, [], emptyBlockDeviceInfo());
    const dir = driver.dir(d.uuid);
    // What a snapshot leaves when the agent dies during the convert: the marker, a part file, the guest stopped.
    await writeFile(dir.snapshotPause, 'now\n');
    await writeFile(dir.snapshotFile('cut-short'), 'half');
    await (await driver.monitor(dir))!.qmp.execute('stop');
    assert.equal((await driver.getInfo(d)).powerState, PowerState.PAUSED);
    await driver.cleanupHost('qemu-snapshot-host');
    driver = new QemuDriver({ stateDir, accelCacheFile: join(tmpdir(), 'nubo-test-accel-probe.json'), logger: log });
    await driver.init('qemu-snapshot-host');
    assert.equal((await driver.getInfo(d)).powerState, PowerState.RUNNING);
    assert.deepEqual(leftovers(d), []);
    await driver.destroy(d);
  });

  test('an unknown guest is InstanceNotFound', async () => {
    const target = await images.target('nothing');
    await assert.rejects(driver.snapshot(spec(), target, async () => {}), InstanceNotFound);
  });
});
