import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';
import { parseGuestConsole, qemuDriverMissing, testGuestImage } from '../support/guest.ts';
import { connectWebSocket, type TestWebSocket } from '../support/websocket-client.ts';

/**
 * The all-in-one with the qemu driver (TCG) and the test guest as its
 * default image, through the openstack CLI: a server's serial console and
 * noVNC URLs opened through the API's console proxy and the agent's console
 * listener reach QEMU's own sockets (the guest's ticks on the serial one, an
 * RFB 3.8 greeting on the VNC one), and `server image create` of the running
 * server makes an image that boots a second server from the first one's disk.
 */
const skip = qemuDriverMissing();
const BOOT_MS = 300_000;
const TICKS = '#!/bin/sh\nn=0\nwhile sleep 1; do n=$((n+1)); echo "tick $n"; done\n';
const step = (what: string) => console.log(`# ${new Date().toISOString()} ${what}`);

/** Data frames until `done` holds for their text. */
async function readUntil(ws: TestWebSocket, done: (text: string) => boolean, timeoutMs = 120_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let text = '';
  while (!done(text)) {
    if (Date.now() > until) throw new Error(`the console did not send what was expected: ${JSON.stringify(text.slice(-300))}`);
    text += (await ws.next(until - Date.now())).toString('latin1');
  }
  return text;
}

describe('qemu consoles and snapshots through the all-in-one', { skip, timeout: 30 * 60_000 }, () => {
  let cloud: AllInOne;
  let dir: string;
  const os = (args: string[], timeoutMs?: number) => cloud.openstack(args, {}, timeoutMs);
  const socketUrl = (url: string) => {
    const u = new URL(url);
    const token = (u.searchParams.get('path') ?? u.search).match(/token=([A-Za-z0-9_-]+)/)![1];
    return `ws://${u.host}/?token=${token}`;
  };
  const readyBoots = async (name: string) => {
    const until = Date.now() + BOOT_MS;
    for (;;) {
      const boots = parseGuestConsole(os(['console', 'log', 'show', name])).filter((b) => b.ready);
      if (boots.length) return boots;
      if (Date.now() > until) throw new Error(`${name} did not get ready`);
      await sleep(3000);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubo-e2e-qemu-'));
    cloud = await startAllInOne({
      env: { NUBO_COMPUTE_DRIVER: 'qemu', NUBO_COMPUTE_QEMU_ACCEL: 'tcg', NUBO_COMPUTE_DEFAULT_IMAGE: await testGuestImage() },
      startTimeoutMs: 180_000,
    });
    os(['flavor', 'create', '--ram', '128', '--disk', '1', '--vcpus', '1', 'q.tiny', '-f', 'json']);
    writeFileSync(join(dir, 'ticks.sh'), TICKS);
    step('server create');
    const created = os(['server', 'create', '--flavor', 'q.tiny', '--image', 'nubo-guest', '--user-data', join(dir, 'ticks.sh'), '--wait', 'qvm', '-f', 'json'], BOOT_MS);
    assert.equal(created.status, 'ACTIVE');
    await readyBoots('qvm');
  });
  after(async () => {
    for (const name of ['qvm', 'qvm2']) cloud?.openstackRaw(['--os-cloud', 'nubo', 'server', 'delete', '--wait', name], { ...process.env, OS_CLIENT_CONFIG_FILE: cloud.cloudsFile }, 120_000);
    await cloud?.stop();
    // Guests outlive the agent: any left over ends here.
    const instances = cloud ? join(cloud.dataDir, 'instances') : '';
    for (const uuid of instances && existsSync(instances) ? readdirSync(instances) : []) {
      const pid = Number(existsSync(join(instances, uuid, 'qemu.pid')) ? readFileSync(join(instances, uuid, 'qemu.pid'), 'utf8') : 0);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    if (cloud) removeDataDir(cloud.dataDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the serial console carries the guest ticks; the noVNC one greets as RFB 3.8', async () => {
    const serial = os(['--os-compute-api-version', '2.6', 'console', 'url', 'show', '--serial', 'qvm', '-f', 'json']);
    const s = await connectWebSocket(serial.url);
    assert.ok(s.ok, s.ok ? '' : `refused: ${s.status} ${s.body}`);
    assert.match(await readUntil(s.ws, (t) => /tick \d+\r?\n/.test(t)), /tick \d+/);
    s.ws.close();
    const vnc = os(['console', 'url', 'show', '--novnc', 'qvm', '-f', 'json']);
    const v = await connectWebSocket(socketUrl(vnc.url));
    assert.ok(v.ok, v.ok ? '' : `refused: ${v.status} ${v.body}`);
    assert.equal((await v.ws.read(12)).toString(), 'RFB 003.008\n');
    v.ws.close();
  });

  test('server image create of the running server makes an image that boots its disk in a second server', async () => {
    step('server image create');
    const image = os(['server', 'image', 'create', '--name', 'qsnap', '--wait', 'qvm', '-f', 'json'], BOOT_MS);
    assert.equal(os(['image', 'show', image.id, '-f', 'json']).status, 'active');
    assert.equal(os(['server', 'show', 'qvm', '-f', 'json']).status, 'ACTIVE');
    step('server create from the snapshot');
    const created = os(['server', 'create', '--flavor', 'q.tiny', '--image', 'qsnap', '--wait', 'qvm2', '-f', 'json'], BOOT_MS);
    assert.equal(created.status, 'ACTIVE');
    const [boot] = await readyBoots('qvm2');
    assert.equal(boot.values.boot, '2', 'the boot counter of the first server’s disk goes on');
  });
});
