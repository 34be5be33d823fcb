// The qemu driver behind the compute agent, through the API: `nubo scheduler`
// and `nubo compute` (NUBO_COMPUTE_DRIVER=qemu, TCG, a temporary state dir,
// power sync every 3 s) as separate processes on a private RabbitMQ node and
// a fresh PostgreSQL database, the compute API in this process
// (test/support/process-cloud.ts), real guests (the shared test guest of
// test/guest/). The images are uploaded to the real image API, private to the
// project, and the agent downloads them from it with the token of the build
// message (the conductor's, for the instance's user), through a proxy that
// the catalog names as the image endpoint, which notes each download and cuts
// one short. Skipped when QEMU is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertComputeConsistent } from '../support/compute-consistency.ts';
import type { ProjectUser } from '../support/compute.ts';
import { faultSuite } from '../support/fault-suite.ts';
import { serverCalls, until } from '../support/qemu-api.ts';
import { newRsaOpensshKey } from '../support/ssh-keys.ts';
import { guestLine, parseGuestConsole, qemuAvailable, testGuestImage } from '../support/guest.ts';
import { useRealImageService, type ImageApiBehindProxy } from '../support/image-proxy.ts';
import type { NuboProcess, ProcessCloud } from '../support/process-cloud.ts';

const SYNC_S = 3;
const BOOT_MS = 240_000;
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

if (!qemuAvailable()) {
  console.log('# skipping the qemu agent tests: qemu-system-x86_64 is missing (apt-get install qemu-system-x86 qemu-utils genisoimage)');
  describe('qemu behind the agent', { skip: 'qemu-system-x86_64 is missing' }, () => {});
} else {
  faultSuite('qemu behind the agent, through the API', (suite) => {
    let cloud: ProcessCloud;
    let stateDir: string;
    let images: ImageApiBehindProxy;
    /** A real user of the project (the conductor issues image tokens for an instance's user). */
    let user: ProjectUser;
    let agent: NuboProcess;
    let flavorId: string;
    const host = `qemu-${randomBytes(2).toString('hex')}`;
    let guest: Buffer;
    let goodImage: string;

    const image = (name: string, bytes: Buffer) => images.upload(user.token, name, bytes);
    /** The compute API as the project's user (whose servers get image tokens). */
    const call = (method: string, url: string, body?: unknown) => cloud.call(method, url, body, user.token);
    const startAgent = () =>
      cloud.compute(host, {
        NUBO_COMPUTE_DRIVER: 'qemu',
        NUBO_COMPUTE_QEMU_ACCEL: 'tcg',
        NUBO_COMPUTE_QEMU_STATE_DIR: stateDir,
        NUBO_COMPUTE_QEMU_SOFT_REBOOT_SECONDS: '120',
        NUBO_COMPUTE_SYNC_POWER_STATE_INTERVAL: String(SYNC_S),
      });
    const { server, settled, action, consoleText } = serverCalls(() => cloud, BOOT_MS);
    const readyBoots = async (id: string) => parseGuestConsole(await consoleText(id)).filter((b) => b.ready);
    const qemuPid = (id: string) => Number(readFileSync(join(stateDir, id, 'qemu.pid'), 'utf8'));
    const create = async (name: string, over: Record<string, unknown> = {}) => {
      const r = await call('POST', '/v2.1/servers', { server: { name, imageRef: goodImage, flavorRef: flavorId, ...over } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.server.id as string;
    };
    const remove = async (id: string) => {
      assert.equal((await call('DELETE', `/v2.1/servers/${id}`)).status, 204);
      await until(`server ${id} gone`, async () => (await cloud.call('GET', `/v2.1/servers/${id}`)).status === 404, 120_000);
    };

    before(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'nubo-qa-'));
      guest = readFileSync(await testGuestImage());
      cloud = await suite.cloud({ timings: { buildTimeout: 600, sweepInterval: 5, serviceDownTime: 120, reportInterval: 2 }, logLevel: 'info' });
      ({ images, user } = await useRealImageService(cloud));
      flavorId = `qa-${randomBytes(2).toString('hex')}`;
      const made = await cloud.call('POST', '/v2.1/flavors', { flavor: { id: flavorId, name: flavorId, ram: 128, vcpus: 1, disk: 1 } }, cloud.identity.admin.token);
      assert.equal(made.status, 200, JSON.stringify(made.body));
      goodImage = await image('qa-guest', guest);
      cloud.scheduler();
      agent = startAgent();
      await cloud.hostsUp([host], 120_000);
      await agent.logged('compute agent started', { ms: 120_000 });
    });

    after(async () => {
      for (const uuid of existsSync(stateDir) ? readdirSync(stateDir) : []) {
        const pidFile = join(stateDir, uuid, 'qemu.pid');
        if (existsSync(pidFile)) {
          const pid = Number(readFileSync(pidFile, 'utf8'));
          if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
        }
      }
      await images?.close();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    });

    test('a server lives through every power action and is deleted without a trace', async () => {
      const pub = newRsaOpensshKey('nubo@qemu-agent-test');
      assert.equal((await call('POST', '/v2.1/os-keypairs', { keypair: { name: 'qa-key', public_key: pub } })).status, 200);
      const id = await create('qa-one', { key_name: 'qa-key', user_data: Buffer.from('hello from user data\n').toString('base64') });
      step('create');
      const active = await settled(id, 'ACTIVE');
      assert.equal(active['OS-EXT-STS:power_state'], 1);
      assert.equal(active['OS-EXT-SRV-ATTR:host'] ?? host, host);
      const fetched = images.downloads.filter((d) => d.imageId === goodImage);
      assert.ok(fetched.length > 0, 'the agent downloaded the image from the image API');
      for (const d of fetched) {
        assert.ok(d.token, 'with the token of the build message');
        assert.notEqual(d.token, user.token, 'the conductor\'s token, not the user\'s own');
        assert.equal(d.status, 200, 'which the image API accepts for the private image');
      }
      assert.equal(cloud.identity.tokens.verify(fetched[0]!.token!).user_id, user.userId, 'a token of the instance\'s user');
      assert.equal((await fetch(`${images.apiUrl}/v2/images/${goodImage}/file`)).status, 401, 'without a token the image API refuses the download');
      const first = await until('the guest ready', async () => ((await readyBoots(id)).length === 1 ? consoleText(id) : null), BOOT_MS);
      assert.equal(guestLine.uuid.exec(first)?.[1], id);
      assert.ok(guestLine.hostname.exec(first)?.[1]?.startsWith('qa-one'), guestLine.hostname.exec(first)?.[1]);
      assert.equal(guestLine.publicKey.exec(first)?.[1], pub);
      assert.equal(guestLine.userData.exec(first)?.[1], 'hello from user data');

      for (const [type, n] of [['HARD', 2], ['SOFT', 3]] as const) {
        step(`reboot ${type}`);
        await action(id, { reboot: { type } });
        await settled(id, 'ACTIVE');
        const boots = await until(`boot ${n}`, async () => ((await readyBoots(id)).length === n ? readyBoots(id) : null), BOOT_MS);
        assert.equal(boots.at(-1)!.values.boot, String(n));
      }

      step('stop');
      const running = qemuPid(id);
      await action(id, { 'os-stop': null });
      const stopped = await settled(id, 'SHUTOFF');
      assert.equal(stopped['OS-EXT-STS:power_state'], 4);
      assert.ok(!alive(running), 'QEMU ended');
      step('start');
      await action(id, { 'os-start': null });
      await settled(id, 'ACTIVE');
      const started = await until('boot 4', async () => ((await readyBoots(id)).length === 4 ? readyBoots(id) : null), BOOT_MS);

      step('pause');
      await action(id, { pause: null });
      assert.equal((await settled(id, 'PAUSED'))['OS-EXT-STS:power_state'], 3);
      await action(id, { unpause: null });
      await settled(id, 'ACTIVE');
      step('suspend');
      await action(id, { suspend: null });
      assert.equal((await settled(id, 'SUSPENDED'))['OS-EXT-STS:power_state'], 7);
      await action(id, { resume: null });
      assert.equal((await settled(id, 'ACTIVE'))['OS-EXT-STS:power_state'], 1);
      await sleep(SYNC_S * 2 * 1000);
      assert.equal((await server(id)).status, 'ACTIVE', 'the power sync agrees');
      const after = parseGuestConsole(await consoleText(id));
      assert.equal(after.length, 4, 'no new boot after pause or resume');
      assert.equal(after.at(-1)!.values.boot_id, started.at(-1)!.values.boot_id);

      // Rebuild: a new root disk from the image (the boot counter on it starts again), the same guest identity, the console log goes on.
      step('rebuild');
      const beforeRebuild = qemuPid(id);
      await action(id, { rebuild: { imageRef: goodImage } });
      assert.equal((await settled(id, 'ACTIVE'))['OS-EXT-STS:power_state'], 1);
      const rebuilt = await until('the rebuilt guest ready', async () => ((await readyBoots(id)).length === 5 ? readyBoots(id) : null), BOOT_MS);
      assert.notEqual(qemuPid(id), beforeRebuild);
      assert.equal(rebuilt.at(-1)!.values.boot, '1', 'a fresh root disk');
      assert.equal(rebuilt.at(-1)!.values.uuid, id);
      assert.ok(agent.logs.some((l) => l.msg === 'rebuilt' && l.uuid === id), 'the driver rebuilt in place');

      step('delete');
      const last = qemuPid(id);
      await remove(id);
      assert.ok(!alive(last), 'QEMU ended');
      assert.ok(!existsSync(join(stateDir, id)), 'the instance directory is gone');
      await assertComputeConsistent(cloud.db, { quotaInUse: cloud.quotaInUse, projects: [cloud.project.projectId] });
      const rows = await cloud.db('allocations').where({ consumer_id: id });
      assert.deepEqual(rows, [], 'no allocation left');
    });

    test('kill -9 of the agent leaves the guests running; the restarted agent adopts them and the API never changes', async () => {
      const ids = [await create('qa-adopt-a'), await create('qa-adopt-b')];
      for (const id of ids) await settled(id, 'ACTIVE');
      const pids = ids.map(qemuPid);
      const watch = { stop: false, seen: [] as string[] };
      const watcher = (async () => {
        while (!watch.stop) {
          for (const id of ids) {
            const s = await server(id);
            if (s.status !== 'ACTIVE' || s['OS-EXT-STS:power_state'] !== 1) watch.seen.push(`${id} ${s.status} power_state ${s['OS-EXT-STS:power_state']}`);
          }
          await sleep(500);
        }
      })();
      step('kill -9 the agent');
      await agent.crash();
      await sleep(SYNC_S * 2 * 1000);
      for (const pid of pids) assert.ok(alive(pid), 'the guests run on without their agent');
      agent = startAgent();
      await agent.logged('compute agent started', { ms: 120_000 });
      const adopted = await agent.logged('adopted a running guest', { count: 2, ms: 60_000 });
      assert.deepEqual(new Set(adopted.map((l) => l.uuid)), new Set(ids));
      await sleep(SYNC_S * 3 * 1000);
      watch.stop = true;
      await watcher;
      assert.deepEqual(watch.seen, [], 'ACTIVE and running throughout');
      assert.deepEqual(ids.map(qemuPid), pids, 'the same QEMU processes');
      for (const id of ids) await remove(id);
    });

    test('kill -9 of a QEMU process shows SHUTOFF within the sync interval', async () => {
      const id = await create('qa-kill');
      await settled(id, 'ACTIVE');
      step('kill -9 QEMU');
      const killedAt = Date.now();
      process.kill(qemuPid(id), 'SIGKILL');
      const off = await settled(id, 'SHUTOFF', SYNC_S * 1000 + 30_000);
      console.log(`# SHUTOFF ${Date.now() - killedAt} ms after the kill`);
      assert.equal(off['OS-EXT-STS:power_state'], 4);
      await remove(id);
    });

    test('bad input ends in ERROR with a fault, and leaves nothing on disk', async () => {
      const cacheEntries = (prefix: string) => (existsSync(join(stateDir, '_base')) ? readdirSync(join(stateDir, '_base')).filter((n) => n.startsWith(prefix)) : []);
      const junkBytes = randomBytes(256 * 1024);
      const junk = await image('qa-junk', junkBytes);
      const cut = await image('qa-cut', guest);
      images.cut.add(cut);
      // More RAM than the host has (within the project's quota of 102400 MB).
      const bigFlavor = `qa-big-${randomBytes(2).toString('hex')}`;
      assert.equal((await cloud.call('POST', '/v2.1/flavors', { flavor: { id: bigFlavor, name: bigFlavor, ram: 100_000, vcpus: 1, disk: 1 } }, cloud.identity.admin.token)).status, 200);

      const notADisk = await create('qa-junk', { imageRef: junk });
      const tooBig = await create('qa-big', { flavorRef: bigFlavor });
      const cutShort = await create('qa-cut', { imageRef: cut });
      const faults: Record<string, string> = {};
      for (const [name, id] of Object.entries({ notADisk, tooBig, cutShort })) {
        const s = await settled(id, 'ERROR');
        faults[name] = s.fault?.message ?? '';
        console.log(`# ${name}: ${faults[name]}`);
        assert.ok(!existsSync(join(stateDir, id)), `${name}: no instance directory`);
      }
      assert.match(faults.notADisk!, /disk_format is qcow2 but its data is raw/);
      assert.match(faults.tooBig!, /No valid host was found/);
      assert.match(faults.cutShort!, /Exhausted all hosts available for retrying build failures/, 'the cut download is rescheduled, and this host was the only one');
      assert.deepEqual(cacheEntries(junk), [], 'the junk image is not cached');
      assert.deepEqual(cacheEntries(cut), [], 'the cut download left no cache entry');
      for (const id of [junk, cut]) {
        assert.ok(images.downloads.some((d) => d.imageId === id && d.token && d.status === 200), `${id}: the image API served the download (the fault comes after it)`);
      }
      for (const id of [notADisk, tooBig, cutShort]) await remove(id);
      await assertComputeConsistent(cloud.db, { quotaInUse: cloud.quotaInUse, projects: [cloud.project.projectId] });
    });
  });
}
