import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createServiceApp } from '../../api/http/app.ts';
import { createLogger } from '../../lib/log.ts';
import { badRequest, notFound } from '../../lib/errors.ts';

function capture() {
  const lines: any[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

async function appWithRoutes() {
  const { lines, logger } = capture();
  const app = createServiceApp({ service: 'identity', logger, bodyLimit: 2048 });
  app.post('/echo', async (request) => {
    request.log.info({ body: request.body }, 'got body');
    return { ok: true };
  });
  app.get('/missing', async () => {
    throw notFound('Could not find widget: w1.');
  });
  app.get('/bad', async () => {
    throw badRequest("Invalid input for field 'name'");
  });
  app.get('/boom', async () => {
    throw new Error('database exploded with secret internals');
  });
  await app.ready();
  return { app, lines };
}

test('every response carries x-openstack-request-id and every log line the same id', async () => {
  const { app, lines } = await appWithRoutes();
  const res = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
  const id = res.headers['x-openstack-request-id'] as string;
  assert.match(id, /^req-[0-9a-f-]{36}$/);
  const mine = lines.filter((l) => l.request_id === id);
  assert.ok(mine.length >= 2, 'the handler line and the access line');
  assert.ok(lines.filter((l) => l.msg === 'got body' || l.msg === 'request').every((l) => l.request_id === id));
  const other = await app.inject({ method: 'GET', url: '/missing' });
  assert.notEqual(other.headers['x-openstack-request-id'], id);
  await app.close();
});

test('passwords and tokens never reach the log', async () => {
  const { app, lines } = await appWithRoutes();
  await app.inject({
    method: 'POST',
    url: '/echo',
    headers: { 'x-auth-token': 'tok-SECRET-1' },
    payload: { auth: { identity: { methods: ['password'], pw: { user: { name: 'a', password: 'pw-SECRET-2' } } } }, secret: 'sec-SECRET-3', nested: [{ deep: { token: 'tok-SECRET-4' } }] },
  });
  const text = JSON.stringify(lines);
  assert.ok(!text.includes('SECRET'), text);
  await app.close();
});

test('errors become the Keystone error body with the right status, never leaking internals', async () => {
  const { app } = await appWithRoutes();
  const nf = await app.inject({ method: 'GET', url: '/missing' });
  assert.equal(nf.statusCode, 404);
  assert.deepEqual(nf.json(), { error: { code: 404, title: 'Not Found', message: 'Could not find widget: w1.' } });
  const bad = await app.inject({ method: 'GET', url: '/bad' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.title, 'Bad Request');
  const boom = await app.inject({ method: 'GET', url: '/boom' });
  assert.equal(boom.statusCode, 500);
  assert.ok(!boom.body.includes('secret internals'));
  const route = await app.inject({ method: 'GET', url: '/nowhere' });
  assert.equal(route.statusCode, 404);
  assert.equal(route.json().error.code, 404);
  await app.close();
});

test('malformed JSON is a 400, an oversized body a 413, an empty body is accepted', async () => {
  const { app } = await appWithRoutes();
  const malformed = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
  assert.equal(malformed.statusCode, 400);
  assert.equal(malformed.json().error.code, 400);
  const big = await app.inject({ method: 'POST', url: '/echo', payload: { pad: 'x'.repeat(5000) } });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, 413);
  const empty = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' });
  assert.equal(empty.statusCode, 200);
  const xml = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
  assert.equal(xml.statusCode, 415);
  await app.close();
});
