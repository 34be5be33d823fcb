// What the tests of qemu guests behind the API share (qemu-agent*.test.ts):
// polling, the server calls they wait on, and a loopback image service named
// in the catalog as Glance.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../../lib/ids.ts';
import type { ProcessCloud } from './process-cloud.ts';

/** Polls fn every 500 ms until it gives a value; an error with `fatal` set ends the wait at once. */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch((e: Error & { fatal?: boolean }) => {
      if (e.fatal) throw e;
      return null;
    });
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(500);
  }
}

/** GET of a server, waiting for a status with no task, server actions and the console, against `cloud()`. */
export function serverCalls(cloud: () => ProcessCloud, defaultMs: number) {
  const server = async (id: string) => (await cloud().call('GET', `/v2.1/servers/${id}`)).body.server;
  const settled = (id: string, status: string, ms = defaultMs) =>
    until(`server ${id} ${status}`, async () => {
      const s = await server(id);
      if (s.status === 'ERROR' && status !== 'ERROR') throw Object.assign(new Error(`server ${id} went ERROR: ${JSON.stringify(s.fault)}`), { fatal: true });
      return s.status === status && !s['OS-EXT-STS:task_state'] ? s : null;
    }, ms).catch(async (e) => {
      const s = await server(id);
      throw new Error(`${e.message}; it is ${s?.status}/${s?.['OS-EXT-STS:task_state']} ${JSON.stringify(s?.fault ?? '')}`);
    });
  const action = async (id: string, body: unknown) => {
    const r = await cloud().call('POST', `/v2.1/servers/${id}/action`, body);
    assert.ok(r.status < 300, `${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const consoleText = async (id: string) => (await action(id, { 'os-getConsoleOutput': {} })).output as string;
  return { server, settled, action, consoleText };
}

/** Makes the listening `imageServer` the catalog's only image endpoint. */
export async function useAsImageService(cloud: ProcessCloud, imageServer: Server): Promise<void> {
  const serviceId = newId();
  await cloud.db('endpoints').whereIn('service_id', cloud.db('services').select('id').where({ type: 'image' })).delete();
  await cloud.db('services').where({ type: 'image' }).delete();
  await cloud.db('services').insert({ id: serviceId, type: 'image', name: 'glance', enabled: true });
  await cloud.db('endpoints').insert({ id: newId(), service_id: serviceId, interface: 'internal', url: `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`, enabled: true });
}
