// Resize through the API with the qemu driver behind the agent: `nubo
// scheduler` and `nubo compute` (NUBO_COMPUTE_DRIVER=qemu, TCG) as separate
// processes on a private RabbitMQ node, the compute API in this process
// (test/support/process-cloud.ts, as qemu-agent.test.ts), one host, so the
// resize stays on it (compute.allow_resize_to_same_host). The test guest
// counts its boots on its root disk and prints the RAM it got: resize +
// confirm shows the new memory on the same disk; a smaller disk is refused
// with the guest running on; resize + revert brings the old memory back; a
// server deleted in VERIFY_RESIZE leaves no <uuid>_resize behind.
// The image is the real image API's (private to the project, downloaded by
// the agent with the build's image token; test/support/image-proxy.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertComputeConsistent } from '../support/compute-consistency.ts';
import type { ProjectUser } from '../support/compute.ts';
import { faultSuite } from '../support/fault-suite.ts';
import { useRealImageService, type ImageApiBehindProxy } from '../support/image-proxy.ts';
import { serverCalls, until } from '../support/qemu-api.ts';
import { parseGuestConsole, qemuDriverMissing, testGuestImage, type GuestBoot } from '../support/guest.ts';
import type { ProcessCloud } from '../support/process-cloud.ts';

const BOOT_MS = 300_000;
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);

const missing = qemuDriverMissing();
if (missing) {
  console.log(`# skipping the qemu resize API tests: ${missing}`);
  describe('qemu resize through the API', { skip: missing }, () => {});
} else {
  faultSuite('qemu resize through the API', (suite) => {
    let cloud: ProcessCloud;
    let stateDir: string;
    let images: ImageApiBehindProxy;
    let user: ProjectUser;
    let goodImage: string;
    const host = `qrz-${randomBytes(2).toString('hex')}`;
    const tag = randomBytes(2).toString('hex');
    const flavors = { small: `qrz-s-${tag}`, big: `qrz-b-${tag}`, bigger: `qrz-x-${tag}`, tinyDisk: `qrz-t-${tag}` };

    const { server, settled, action, consoleText } = serverCalls(() => cloud, BOOT_MS);
    const bootN = (id: string, n: number): Promise<GuestBoot> =>
      until(`boot ${n} of ${id}`, async () => parseGuestConsole(await consoleText(id)).filter((b) => b.ready)[n - 1], BOOT_MS);
    const qemuPid = (id: string) => Number(readFileSync(join(stateDir, id, 'qemu.pid'), 'utf8'));
    const entries = () => readdirSync(stateDir).filter((n) => !n.startsWith('_') && !n.endsWith('.json')).sort();
    const migrationOf = (id: string) => cloud.db('migrations').where({ instance_uuid: id }).orderBy('id', 'desc').first();

    before(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'nubo-qrz-'));
      const guest = readFileSync(await testGuestImage());
      cloud = await suite.cloud({ timings: { buildTimeout: 600, sweepInterval: 5, serviceDownTime: 120, reportInterval: 2 }, logLevel: 'info' });
      ({ images, user } = await useRealImageService(cloud));
      for (const [id, ram, disk] of [[flavors.small, 128, 1], [flavors.big, 256, 2], [flavors.bigger, 320, 2], [flavors.tinyDisk, 384, 1]] as const) {
        const made = await cloud.call('POST', '/v2.1/flavors', { flavor: { id, name: id, ram, vcpus: 1, disk } }, cloud.identity.admin.token);
        assert.equal(made.status, 200, JSON.stringify(made.body));
      }
      goodImage = await images.upload(user.token, 'qrz-guest', guest);
      cloud.scheduler();
      const agent = cloud.compute(host, {
        NUBO_COMPUTE_DRIVER: 'qemu',
        NUBO_COMPUTE_QEMU_ACCEL: 'tcg',
        NUBO_COMPUTE_QEMU_STATE_DIR: stateDir,
        NUBO_COMPUTE_SYNC_POWER_STATE_INTERVAL: '3',
      });
      await cloud.hostsUp([host], 120_000);
      await agent.logged('compute agent started', { ms: 120_000 });
    });

    after(async () => {
      for (const name of existsSync(stateDir) ? readdirSync(stateDir) : []) {
        const pidFile = join(stateDir, name, 'qemu.pid');
        const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
      await images?.close();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    });

    test('resize + confirm on the same host: the new memory on the same disk; a smaller disk refused; resize + revert: the old memory back', async () => {
      const r = await cloud.call('POST', '/v2.1/servers', { server: { name: 'qrz', imageRef: goodImage, flavorRef: flavors.small } }, user.token);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.server.id as string;
      await settled(id, 'ACTIVE');
      assert.ok(images.downloads.some((d) => d.imageId === goodImage && d.token && d.status === 200), 'the agent downloaded the image from the image API with a token');
      assert.equal((await bootN(id, 1)).values.ram_mb, '128');

      step('resize to the bigger flavor');
      await action(id, { resize: { flavorRef: flavors.big } });
      const verify = await settled(id, 'VERIFY_RESIZE');
      assert.equal(verify.flavor.original_name ?? verify.flavor.id, flavors.big);
      assert.deepEqual(entries(), [id, `${id}_resize`], 'the old disks are kept beside the resized guest');
      const resized = await bootN(id, 1);
      assert.equal(resized.values.ram_mb, '256');
      assert.equal(resized.values.boot, '2', 'the root disk came along');
      assert.match(resized.values.disks, /\bvda:2048\b/);

      step('confirm');
      await action(id, { confirmResize: null });
      const confirmed = await settled(id, 'ACTIVE');
      assert.equal(confirmed['OS-EXT-STS:power_state'], 1);
      await until('the kept disks removed', async () => entries().length === 1, 60_000);
      assert.deepEqual(entries(), [id]);
      assert.equal((await migrationOf(id)).status, 'confirmed');

      step('a smaller disk is refused, the guest runs on');
      const pid = qemuPid(id);
      await action(id, { resize: { flavorRef: flavors.tinyDisk } });
      await until('the refused resize', async () => (await migrationOf(id))?.status === 'error', 120_000);
      await settled(id, 'ACTIVE');
      // The API shows a fault only on ERROR: the row keeps it.
      const row = await cloud.db('instances').where({ uuid: id }).first();
      assert.match(row.fault?.message ?? '', /resize disk down/);
      assert.equal(qemuPid(id), pid, 'the same QEMU');
      assert.deepEqual(entries(), [id]);

      step('resize again, then revert');
      await action(id, { resize: { flavorRef: flavors.bigger } });
      await settled(id, 'VERIFY_RESIZE');
      assert.equal((await bootN(id, 1)).values.ram_mb, '320');
      await action(id, { revertResize: null });
      const reverted = await settled(id, 'ACTIVE');
      assert.equal(reverted.flavor.original_name ?? reverted.flavor.id, flavors.big);
      assert.equal((await migrationOf(id)).status, 'reverted');
      // The old guest's console log goes on: its first ready boot was before this resize.
      const back = await bootN(id, 2);
      assert.equal(back.values.ram_mb, '256');
      assert.equal(back.values.boot, '3', 'the disk as it was before this resize (two boots on it)');
      assert.deepEqual(entries(), [id], 'nothing of the move is left');

      step('delete');
      assert.equal((await cloud.call('DELETE', `/v2.1/servers/${id}`)).status, 204);
      await until(`server ${id} gone`, async () => (await cloud.call('GET', `/v2.1/servers/${id}`)).status === 404, 120_000);
      assert.deepEqual(entries(), []);
      await assertComputeConsistent(cloud.db, { quotaInUse: cloud.quotaInUse, projects: [cloud.project.projectId] });
    });

    test('deleted in VERIFY_RESIZE: the agent drops <uuid>_resize and the base it pinned, the migration failed', async () => {
      const r = await cloud.call('POST', '/v2.1/servers', { server: { name: 'qrz-del', imageRef: goodImage, flavorRef: flavors.small } }, user.token);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.server.id as string;
      await settled(id, 'ACTIVE');
      await action(id, { resize: { flavorRef: flavors.big } });
      await settled(id, 'VERIFY_RESIZE');
      assert.deepEqual(entries(), [id, `${id}_resize`]);
      step('delete while the resize waits for confirmation');
      assert.equal((await cloud.call('DELETE', `/v2.1/servers/${id}`)).status, 204);
      await until(`server ${id} gone`, async () => (await cloud.call('GET', `/v2.1/servers/${id}`)).status === 404, 120_000);
      await until('the kept disks removed', async () => entries().length === 0, 60_000);
      await until('the migration failed', async () => (await migrationOf(id)).status === 'failed', 60_000);
      assert.deepEqual(readdirSync(join(stateDir, '_base')).filter((n) => n.startsWith(goodImage)), [], 'no base image left pinned');
      await assertComputeConsistent(cloud.db, { quotaInUse: cloud.quotaInUse, projects: [cloud.project.projectId] });
    });
  });
}
