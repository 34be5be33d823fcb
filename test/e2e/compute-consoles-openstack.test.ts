import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';
import { connectWebSocket } from '../support/websocket-client.ts';

/**
 * `openstack console url show` (--novnc, --serial; the console actions at
 * 2.1, remote-consoles at 2.6) against the all-in-one, and the URL it prints
 * opened through the API's console proxy, the compute agent's console
 * listener and the fake driver's console sockets.
 */
describe('openstack console url show against the all-in-one', () => {
  let cloud: AllInOne;
  let dir: string;
  const os = (args: string[], timeoutMs?: number) => cloud.openstack(args, {}, timeoutMs);
  /** The proxy's WebSocket for a console URL (noVNC page URLs carry it in `path`). */
  const socketUrl = (url: string) => {
    const u = new URL(url);
    const token = (u.searchParams.get('path') ?? u.search).match(/token=([A-Za-z0-9_-]+)/)![1];
    return `ws://${u.host}/?token=${token}`;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubo-e2e-consoles-'));
    cloud = await startAllInOne();
    const file = join(dir, 'disk.raw');
    writeFileSync(file, randomBytes(64 * 1024));
    os(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', 'console-img', '-f', 'json']);
    const created = os(['server', 'create', '--flavor', 'm1.tiny', '--image', 'console-img', '--wait', 'console-vm', '-f', 'json'], 120_000);
    assert.equal(created.status, 'ACTIVE');
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('--novnc prints the noVNC page URL; its WebSocket greets as RFB 3.8 once, and the page is served', async () => {
    const shown = os(['console', 'url', 'show', '--novnc', 'console-vm', '-f', 'json']);
    assert.equal(shown.type, 'novnc');
    assert.match(shown.url, /\/vnc_lite\.html\?path=%3Ftoken%3D/);
    const page = await fetch(shown.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /core\/rfb\.js/);
    const c = await connectWebSocket(socketUrl(shown.url));
    assert.ok(c.ok, c.ok ? '' : `refused: ${c.status} ${c.body}`);
    assert.equal((await c.ws.read(12)).toString(), 'RFB 003.008\n');
    c.ws.close();
    const again = await connectWebSocket(socketUrl(shown.url));
    assert.equal(!again.ok && again.status, 403, 'the token works once');
  });

  test('--serial (at 2.6: remote-consoles) prints a ws:// URL whose console echoes', async () => {
    const shown = os(['--os-compute-api-version', '2.6', 'console', 'url', 'show', '--serial', 'console-vm', '-f', 'json']);
    assert.equal(shown.type, 'serial');
    assert.equal(shown.protocol, 'serial');
    assert.match(shown.url, /^ws:\/\/.*\/\?token=/);
    const c = await connectWebSocket(shown.url);
    assert.ok(c.ok, c.ok ? '' : `refused: ${c.status} ${c.body}`);
    c.ws.send('echo me\n');
    assert.equal((await c.ws.read(8)).toString(), 'echo me\n');
    c.ws.close();
  });
});
