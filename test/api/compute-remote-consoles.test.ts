import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createConsoleProxyApp, novncDir } from '../../api/compute/consoles/proxy.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { createConsoleListener, type ConsoleListener } from '../../compute-driver/agent/console-listener.ts';
import { FakeDriver } from '../../compute-driver/drivers/fake/index.ts';
import { emptyBlockDeviceInfo } from '../../compute-driver/driver.ts';
import { computeTopic } from '../../compute-driver/rpc.ts';
import { BusRemoteError } from '../../lib/bus/bus.ts';
import { createLogger } from '../../lib/log.ts';
import { addImage, placeServer, startCompute, type ComputeHarness, type ProjectUser } from '../support/compute.ts';
import { addComputeHost } from '../support/compute-rows.ts';
import { connectWebSocket, type TestWebSocket } from '../support/websocket-client.ts';

const conforms = createBodyValidator(loadSpec('compute'));
const tokenOf = (url: string) => decodeURIComponent(url).match(/token=([A-Za-z0-9_-]+)/)![1];

describe('Nova remote consoles', () => {
  let h: ComputeHarness;
  let alice: ProjectUser;
  let image: string;
  let driver: FakeDriver;
  let listener: ConsoleListener;
  let proxy: FastifyInstance;
  let proxyUrl: string;
  const db = () => h.identity.database.db;

  before(async () => {
    h = await startCompute();
    alice = await h.projectToken();
    await h.call('PUT', `/v2.1/os-quota-sets/${alice.projectId}`, { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
    image = await addImage(db(), { owner: alice.projectId, visibility: 'private' });
    await h.call('POST', '/v2.1/flavors', { body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } } });
    await addComputeHost(db(), h.identity.config, 'node-1');
    await h.bus.serveCompute('node-1');
    await addComputeHost(db(), h.identity.config, 'node-2');
    await h.bus.serveCompute('node-2', { consoleTarget: new BusRemoteError('no consoles', 'NotSupported') });
    await addComputeHost(db(), h.identity.config, 'node-3');
    await h.bus.serveCompute('node-3', { consoleTarget: new BusRemoteError('Unavailable console type serial.', 'ConsoleTypeUnavailable') });
    // node-4: the agent's real console listener in front of the fake driver.
    const logger = createLogger({ level: 'silent' });
    driver = new FakeDriver();
    await driver.init('node-4');
    listener = createConsoleListener({ driver, log: logger });
    await listener.start();
    await addComputeHost(db(), h.identity.config, 'node-4');
    await h.identity.bus.serve(computeTopic('node-4'), { get_console_target: (args: any) => listener.target(args) });
    proxy = createConsoleProxyApp({ db: db(), logger });
    await proxy.listen({ host: '127.0.0.1', port: 0 });
    proxyUrl = `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await proxy.close();
    await listener.stop();
    await driver.cleanupHost();
    await h.close();
  });

  const server = async (host = 'node-1', vmState = 'active') => {
    const r = await h.call('POST', '/v2.1/servers', { body: { server: { name: 'vm', imageRef: image, flavorRef: '1' } }, token: alice.token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await placeServer(db(), r.body.server.id, host, vmState);
    return r.body.server.id as string;
  };
  const create = (id: string, remote_console: unknown, opts: { token?: string; version?: string } = {}) =>
    h.call('POST', `/v2.1/servers/${id}/remote-consoles`, { body: { remote_console }, token: opts.token ?? alice.token, version: opts.version ?? '2.6' });
  const act = (id: string, body: unknown, version = '2.1') => h.call('POST', `/v2.1/servers/${id}/action`, { body, token: alice.token, version });
  /** A server on node-4 that the fake driver runs. */
  const realServer = async () => {
    const id = await server('node-4');
    await driver.spawn({ uuid: id, name: `instance-${id}`, hostname: 'vm', metadata: {}, flavor: { vcpus: 1, memory_mb: 512, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} } } as any, { id: image, properties: {} }, [], emptyBlockDeviceInfo());
    return id;
  };
  /** Opens the proxy's WebSocket as a console URL names it. */
  const open = (url: string) => connectWebSocket(`${proxyUrl}/?token=${tokenOf(url)}`);
  const opened = async (url: string): Promise<TestWebSocket> => {
    const c = await open(url);
    assert.ok(c.ok, c.ok ? '' : `refused: ${c.status} ${c.body}`);
    return c.ws;
  };

  test('vnc/novnc: the noVNC URL with a token kept only as its sha256, get_console_target asked for vnc, expiring after console_token_ttl', async () => {
    const id = await server();
    const r = await create(id, { protocol: 'vnc', type: 'novnc' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    conforms('RemoteConsoleResponse', r.body);
    assert.equal(r.body.remote_console.protocol, 'vnc');
    assert.equal(r.body.remote_console.type, 'novnc');
    assert.match(r.body.remote_console.url, /^http:\/\/[^/]+:6080\/vnc_lite\.html\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(r.body.remote_console.url);
    const call = await h.bus.waitFor('compute.node-1', 'get_console_target', (args) => args.instance.uuid === id);
    assert.equal(call.args.kind, 'vnc');
    assert.equal(call.args.instance.name, `instance-${id}`);
    const rows = await db()('console_auth_tokens').where({ instance_uuid: id });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].token_hash, createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify(rows).includes(token), 'the token itself is not stored');
    assert.equal(rows[0].console_type, 'novnc');
    assert.equal(rows[0].port, 9);
    const ttl = new Date(rows[0].expires).getTime() - Date.now();
    assert.ok(ttl > 590_000 && ttl <= 600_000, `expires in ${ttl} ms`);
  });

  test('serial/serial: a ws:// URL, get_console_target asked for serial', async () => {
    const id = await server();
    const r = await create(id, { protocol: 'serial', type: 'serial' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.remote_console.url, /^ws:\/\/[^/]+:6080\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal((await h.bus.waitFor('compute.node-1', 'get_console_target', (args) => args.instance.uuid === id)).args.kind, 'serial');
  });

  test('bad protocol or type 400, spice and rdp unavailable 400, before 2.6 404, not active 409, another project 404, drivers that cannot 501/400', async () => {
    const id = await server();
    assert.equal((await create(id, { protocol: 'vnc', type: 'serial' })).status, 400);
    assert.equal((await create(id, { protocol: 'telnet', type: 'serial' })).status, 400);
    assert.equal((await create(id, { protocol: 'vnc' })).status, 400);
    const spice = await create(id, { protocol: 'spice', type: 'spice-html5' });
    assert.equal(spice.status, 400);
    assert.match(spice.body.badRequest.message, /Unavailable console type spice-html5/);
    assert.equal((await create(id, { protocol: 'rdp', type: 'rdp-html5' })).status, 400);
    assert.equal((await create(id, { protocol: 'vnc', type: 'novnc' }, { version: '2.5' })).status, 404);
    const stopped = await server('node-1', 'stopped');
    assert.equal((await create(stopped, { protocol: 'vnc', type: 'novnc' })).status, 409);
    const building = (await h.call('POST', '/v2.1/servers', { body: { server: { name: 'b', imageRef: image, flavorRef: '1' } }, token: alice.token })).body.server.id;
    assert.equal((await create(building, { protocol: 'serial', type: 'serial' })).status, 409);
    const bob = await h.projectToken();
    assert.equal((await create(id, { protocol: 'vnc', type: 'novnc' }, { token: bob.token })).status, 404);
    assert.equal((await create(await server('node-2'), { protocol: 'vnc', type: 'novnc' })).status, 501);
    const unavailable = await create(await server('node-3'), { protocol: 'serial', type: 'serial' });
    assert.equal(unavailable.status, 400);
    assert.match(unavailable.body.badRequest.message, /Unavailable console type serial/);
  });

  test('os-getVNCConsole and os-getSerialConsole up to 2.5 answer {console: {type, url}}; 404 from 2.6; a wrong type 400', async () => {
    const id = await server();
    const vnc = await act(id, { 'os-getVNCConsole': { type: 'novnc' } });
    assert.equal(vnc.status, 200, JSON.stringify(vnc.body));
    conforms('ServerConsoleUrl', vnc.body);
    assert.equal(vnc.body.console.type, 'novnc');
    assert.match(vnc.body.console.url, /vnc_lite\.html\?path=%3Ftoken%3D/);
    const serial = await act(id, { 'os-getSerialConsole': { type: 'serial' } });
    assert.equal(serial.status, 200);
    assert.match(serial.body.console.url, /^ws:\/\/.*\/\?token=/);
    assert.equal((await act(id, { 'os-getVNCConsole': { type: 'serial' } })).status, 400);
    assert.equal((await act(id, { 'os-getSerialConsole': {} })).status, 400);
    assert.equal((await act(id, { 'os-getSPICEConsole': { type: 'spice-html5' } })).status, 400);
    assert.equal((await act(id, { 'os-getVNCConsole': { type: 'novnc' } }, '2.6')).status, 404);
  });

  test('os-console-auth-tokens: admins see where an unused token leads from 2.31 (401 before), 404 for unknown or used tokens, 403 for others', async () => {
    const id = await realServer();
    const url = (await create(id, { protocol: 'serial', type: 'serial' })).body.remote_console.url;
    const token = tokenOf(url);
    const shown = await h.call('GET', `/v2.1/os-console-auth-tokens/${token}`, { version: '2.31' });
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    conforms('ConsoleAuthTokenResponse', shown.body);
    assert.equal(shown.body.console.instance_uuid, id);
    assert.equal(shown.body.console.host, '127.0.0.1');
    assert.equal(typeof shown.body.console.port, 'number');
    assert.equal(shown.body.console.internal_access_path, null);
    assert.equal((await h.call('GET', `/v2.1/os-console-auth-tokens/${token}`)).status, 401);
    assert.equal((await h.call('GET', `/v2.1/os-console-auth-tokens/${token}`, { token: alice.token, version: '2.31' })).status, 403);
    assert.equal((await h.call('GET', '/v2.1/os-console-auth-tokens/nope', { version: '2.31' })).status, 404);
    (await opened(url)).close();
    assert.equal((await h.call('GET', `/v2.1/os-console-auth-tokens/${token}`, { version: '2.31' })).status, 404);
  });

  test('the proxy reaches the fake guest through the agent listener: the RFB handshake for vnc, the subprotocol binary; the token works once', async () => {
    const id = await realServer();
    const url = (await create(id, { protocol: 'vnc', type: 'novnc' })).body.remote_console.url;
    const ws = await opened(url);
    assert.equal(ws.protocol, 'binary');
    assert.equal((await ws.read(12)).toString(), 'RFB 003.008\n');
    // The rest of the handshake as Tempest's test_novnc checks it: security type None, SecurityResult OK, ServerInit.
    ws.send('RFB 003.008\n');
    assert.deepEqual([...(await ws.read(2))], [1, 1]);
    ws.send(Buffer.from([1]));
    assert.deepEqual([...(await ws.read(4))], [0, 0, 0, 0]);
    ws.send(Buffer.from([1]));
    const init = await ws.read(28);
    assert.deepEqual([init.readUInt16BE(0), init.readUInt16BE(2), init.readUInt32BE(20)], [640, 480, 4]);
    assert.equal(init.subarray(24).toString(), 'fake');
    ws.send(Buffer.alloc(0), 0x9);
    const pong = await ws.frame();
    assert.equal(pong.opcode, 0xa);
    ws.close();
    const again = await open(url);
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.status, 403);
    assert.equal(((await connectWebSocket(`${proxyUrl}/?token=made-up`)) as { status: number }).status, 403);
    assert.equal(((await connectWebSocket(`${proxyUrl}/websockify`)) as { status: number }).status, 403);
  });

  test('a browser page from another site is refused (403) before the token is used; its own Origin connects', async () => {
    const id = await realServer();
    const url = (await create(id, { protocol: 'serial', type: 'serial' })).body.remote_console.url;
    const wsUrl = `${proxyUrl}/?token=${tokenOf(url)}`;
    const evil = await connectWebSocket(wsUrl, ['binary'], { Origin: 'http://evil.example' });
    assert.equal(!evil.ok && evil.status, 403);
    const scheme = await connectWebSocket(wsUrl, ['binary'], { Origin: 'file://127.0.0.1' });
    assert.equal(!scheme.ok && scheme.status, 403);
    const own = await connectWebSocket(wsUrl, ['binary'], { Origin: proxyUrl });
    assert.ok(own.ok, own.ok ? '' : `refused: ${own.status}`);
    own.ws.close();
  });

  test('serial echoes through the proxy, large frames too; closing the socket closes the WebSocket', async () => {
    const id = await realServer();
    const ws = await opened((await create(id, { protocol: 'serial', type: 'serial' })).body.remote_console.url);
    ws.send('hello\r\n');
    assert.equal((await ws.read(7)).toString(), 'hello\r\n');
    const big = Buffer.alloc(50_000, 0x61);
    ws.send(big);
    assert.equal((await ws.read(big.length)).length, big.length);
    await driver.destroy({ uuid: id, name: `instance-${id}` });
    const f = await ws.frame().catch(() => ({ opcode: 8 }));
    assert.equal(f.opcode, 8);
  });

  test('an expired token is refused; a token with a secret the agent does not know reaches nothing', async () => {
    const id = await realServer();
    const url = (await create(id, { protocol: 'serial', type: 'serial' })).body.remote_console.url;
    await db()('console_auth_tokens').where({ instance_uuid: id }).update({ expires: new Date(Date.now() - 1000) });
    const c = await open(url);
    assert.equal(!c.ok && c.status, 403);

    const url2 = (await create(id, { protocol: 'serial', type: 'serial' })).body.remote_console.url;
    await db()('console_auth_tokens').where({ instance_uuid: id }).update({ internal_access_path: 'wrong' });
    const ws = await opened(url2);
    await assert.rejects(ws.next(5000), /closed/);
  });

  test('the console page: vnc_lite.html and vnc.html load noVNC from core/; its files come from @novnc/novnc when installed', async () => {
    for (const page of ['vnc_lite.html', 'vnc.html']) {
      const r = await fetch(`${proxyUrl}/${page}?path=%3Ftoken%3Dx`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await r.text(), /import RFB from '\.\/core\/rfb\.js'/);
    }
    const rfb = await fetch(`${proxyUrl}/core/rfb.js`);
    if (novncDir()) {
      assert.equal(rfb.status, 200);
      assert.match(rfb.headers.get('content-type') ?? '', /javascript/);
    } else {
      assert.equal(rfb.status, 404);
      assert.match(await rfb.text(), /npm install @novnc\/novnc/);
    }
    assert.equal((await fetch(`${proxyUrl}/core/..%2f..%2fpackage.json`)).status, 404);
  });
});
