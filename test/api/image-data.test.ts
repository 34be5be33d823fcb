import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createFilesystemStore } from '../../api/image/data/filesystem.ts';
import { sweepStaleUploads } from '../../api/image/data/sweeper.ts';
import { createLogger } from '../../lib/log.ts';
import { databaseEngines } from '../support/db.ts';
import { startImage, type ImageHarness } from '../support/image.ts';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Files in the store (data and staging areas), temporaries included. */
function storeFiles(h: ImageHarness): string[] {
  const top = readdirSync(h.storeDir).filter((f) => f !== 'staging');
  return [...top, ...readdirSync(join(h.storeDir, 'staging')).map((f) => `staging/${f}`)].sort();
}

/** A qcow2 header (version 3) announcing `virtual` bytes, padded to `size`. */
function qcow2(virtual: bigint, size = 4096): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(0x514649fb, 0);
  b.writeUInt32BE(3, 4);
  b.writeUInt32BE(16, 20);
  b.writeBigUInt64BE(virtual, 24);
  return b;
}

interface Tenant {
  projectId: string;
  token: string;
}

function helpers(get: () => ImageHarness) {
  const create = async (t: Tenant, body: Record<string, unknown> = {}) => {
    const r = await get().call('POST', '/v2/images', { body: { name: 'img', disk_format: 'raw', container_format: 'bare', ...body }, token: t.token });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const show = async (id: string, token?: string) => (await get().call('GET', `/v2/images/${id}`, { token })).body;
  const upload = (id: string, data: Buffer, token?: string, headers: Record<string, string> = {}) =>
    get().call('PUT', `/v2/images/${id}/file`, { body: data, token, headers });
  /** An upload whose body is a stream (sent chunked, without Content-Length). */
  const uploadStream = (id: string, data: Readable, token: string) =>
    get().app.inject({ method: 'PUT', url: `/v2/images/${id}/file`, payload: data, headers: { 'content-type': 'application/octet-stream', 'x-auth-token': token } });
  const waitFor = async (id: string, status: string) => {
    for (let i = 0; i < 500; i++) {
      const img = await show(id);
      if (img.status === status) return img;
      await sleep(20);
    }
    throw new Error(`image ${id} never became ${status} (is ${(await show(id)).status})`);
  };
  return { create, show, upload, uploadStream, waitFor };
}

for (const [engine, openDatabase] of databaseEngines) {
  describe(`Glance v2 image data on ${engine}`, () => {
    let h: ImageHarness;
    let alice: Tenant;
    let bob: Tenant;
    let base: string;
    const { create, show, upload, uploadStream, waitFor } = helpers(() => h);

    before(async () => {
      h = await startImage({ database: await openDatabase(), overrides: { 'image.upload_stale_seconds': 5 } });
      alice = await h.projectToken();
      bob = await h.projectToken();
      await h.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    });
    after(() => h.close());

    test('discovery: import methods and stores', async () => {
      const imp = await h.call('GET', '/v2/info/import', { token: alice.token });
      assert.equal(imp.status, 200);
      assert.deepEqual(imp.body, { 'import-methods': { description: 'Import methods available.', type: 'array', value: ['glance-direct'] } });
      const stores = await h.call('GET', '/v2/info/stores', { token: alice.token });
      assert.equal(stores.status, 200);
      assert.equal(stores.body.stores.length, 1);
      assert.equal(stores.body.stores[0].id, 'file');
      assert.equal(stores.body.stores[0].default, true);
      assert.equal(typeof stores.body.stores[0].description, 'string');
      assert.equal((await h.call('GET', '/v2/info/import', { token: null })).status, 401);
    });

    test('upload then download: 204, active with md5 checksum and sha512 multihash, same bytes back', async () => {
      const id = await create(alice);
      const data = randomBytes(5 * MiB + 123);
      const r = await upload(id, data, alice.token);
      assert.equal(r.status, 204, JSON.stringify(r.body));
      const img = await show(id, alice.token);
      assert.equal(img.status, 'active');
      assert.equal(img.size, data.length);
      assert.equal(img.virtual_size, data.length);
      assert.equal(img.checksum, md5(data));
      assert.equal(img.os_hash_algo, 'sha512');
      assert.equal(img.os_hash_value, sha512(data));
      assert.equal(img.stores, 'file');
      const got = await h.call('GET', `/v2/images/${id}/file`, { token: alice.token });
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      assert.equal(got.headers['content-md5'], md5(data));
      assert.equal(Number(got.headers['content-length']), data.length);
      assert.ok(got.raw.equals(data));
      assert.ok(!storeFiles(h).some((f) => f.includes('.tmp-')), 'no temporary file is left');
    });

    test('large and chunked uploads (hashed on threads) come out right', async () => {
      const data = randomBytes(40 * MiB + 7);
      const id = await create(alice);
      assert.equal((await upload(id, data, alice.token)).status, 204);
      const chunked = await create(alice);
      const chunks = Array.from({ length: 20 }, (_, i) => data.subarray(i * 2 * MiB, Math.min(data.length, (i + 1) * 2 * MiB + (i === 19 ? 7 : 0))));
      const r = await uploadStream(chunked, Readable.from(chunks), alice.token);
      assert.equal(r.statusCode, 204, r.body);
      for (const i of [id, chunked]) {
        const img = await show(i);
        assert.equal(img.size, data.length);
        assert.equal(img.checksum, md5(data));
        assert.equal(img.os_hash_value, sha512(data));
      }
    });

    test('an empty upload makes an active image of size 0', async () => {
      const id = await create(alice);
      assert.equal((await upload(id, Buffer.alloc(0), alice.token)).status, 204);
      const img = await show(id);
      assert.equal(img.status, 'active');
      assert.equal(img.size, 0);
      assert.equal(img.checksum, md5(Buffer.alloc(0)));
      const got = await h.call('GET', `/v2/images/${id}/file`);
      assert.equal(got.status, 200);
      assert.equal(got.raw.length, 0);
    });

    test('virtual size: read from a qcow2 header, size for raw, null otherwise', async () => {
      const q = await create(alice, { disk_format: 'qcow2' });
      assert.equal((await upload(q, qcow2(10n << 30n), alice.token)).status, 204);
      assert.equal((await show(q)).virtual_size, 10 * 1024 * MiB);
      const notQcow = await create(alice, { disk_format: 'qcow2' });
      assert.equal((await upload(notQcow, randomBytes(4096), alice.token)).status, 204);
      assert.equal((await show(notQcow)).virtual_size, null);
      const iso = await create(alice, { disk_format: 'iso' });
      assert.equal((await upload(iso, randomBytes(100), alice.token)).status, 204);
      assert.equal((await show(iso)).virtual_size, null);
    });

    test('Range: 206 with Content-Range, suffixes, ends cut to the data; 416 and 400 as Glance', async () => {
      const id = await create(alice);
      const data = randomBytes(1000);
      await upload(id, data, alice.token);
      const get = (range: string) => h.call('GET', `/v2/images/${id}/file`, { token: alice.token, headers: { range } });
      let r = await get('bytes=0-9');
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], 'bytes 0-9/1000');
      assert.equal(Number(r.headers['content-length']), 10);
      assert.ok(r.raw.equals(data.subarray(0, 10)));
      r = await get('bytes=-5');
      assert.equal(r.headers['content-range'], 'bytes 995-999/1000');
      assert.ok(r.raw.equals(data.subarray(995)));
      r = await get('bytes=990-');
      assert.ok(r.raw.equals(data.subarray(990)));
      r = await get('bytes=500-5000');
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], 'bytes 500-999/1000');
      assert.ok(r.raw.equals(data.subarray(500)));
      r = await get('bytes=1000-');
      assert.equal(r.status, 416);
      assert.match(r.body.message, /Invalid start position in Range header/);
      assert.equal((await get('bytes=9-2')).status, 416);
      assert.equal((await get('pages=1-2')).status, 416);
      r = await get('bytes=0-1,5-6');
      assert.equal(r.status, 400);
      assert.match(r.body.message, /multiple ranges are not supported/);
    });

    /** GETs `path` over real HTTP: status, headers and body. */
    const fetchFile = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        httpRequest(`${base}${path}`, { headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    /** This process's open file descriptors on the store's files. */
    const storeFds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(h.storeDir);
        } catch {
          return false;
        }
      }).length;
    /** Waits (a while) for the server to close the store's files after a response ended; how many stay open. */
    const settledStoreFds = async () => {
      for (let i = 0; i < 200 && storeFds() > 0; i++) await sleep(20);
      return storeFds();
    };

    test('over real HTTP, downloads (whole and ranges) come out right in many send buffers, with the request id', async () => {
      const id = await create(alice);
      // Not a multiple of the send buffer, so the last read is short.
      const data = randomBytes(5 * MiB + 12345);
      assert.equal((await upload(id, data, alice.token)).status, 204);
      const whole = await fetchFile(`/v2/images/${id}/file`, { 'x-auth-token': alice.token });
      assert.equal(whole.status, 200);
      assert.equal(whole.headers['content-md5'], md5(data));
      assert.equal(whole.headers['content-length'], String(data.length));
      assert.equal(whole.headers['content-type'], 'application/octet-stream');
      assert.match(String(whole.headers['x-openstack-request-id']), /^req-/);
      assert.ok(whole.body.equals(data), 'same bytes back');
      const from = MiB - 7;
      const part = await fetchFile(`/v2/images/${id}/file`, { 'x-auth-token': alice.token, range: `bytes=${from}-${3 * MiB}` });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes ${from}-${3 * MiB}/${data.length}`);
      assert.ok(part.body.equals(data.subarray(from, 3 * MiB + 1)));
      const bad = await fetchFile(`/v2/images/${id}/file`, { 'x-auth-token': alice.token, range: `bytes=${data.length}-` });
      assert.equal(bad.status, 416);
      assert.equal(await settledStoreFds(), 0, 'no file left open');
    });

    test('a client that disconnects mid-download leaves no file open, and the server serves the next one', async () => {
      const id = await create(alice);
      const data = randomBytes(48 * MiB);
      assert.equal((await upload(id, data, alice.token)).status, 204);
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${base}/v2/images/${id}/file`, { headers: { 'x-auth-token': alice.token }, agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            // Well before the end, with the server's buffers full in the socket.
            if (got >= MiB) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
        req.end();
      });
      assert.equal(await settledStoreFds(), 0, 'the image file is closed');
      const again = await fetchFile(`/v2/images/${id}/file`, { 'x-auth-token': alice.token });
      assert.equal(again.status, 200);
      assert.ok(again.body.equals(data));
      assert.equal(await settledStoreFds(), 0);
    });

    test('upload to an image that is not queued is a 409, as Glance words it', async () => {
      const id = await create(alice);
      await upload(id, randomBytes(10), alice.token);
      const r = await upload(id, randomBytes(10), alice.token);
      assert.equal(r.status, 409);
      assert.equal(r.body.message, 'Image status transition from active to saving is not allowed');
      assert.equal((await show(id)).checksum !== null, true);
    });

    test('upload needs both formats (400), octet-stream (415), a known store (400) and upload_image (403)', async () => {
      const bare = await h.call('POST', '/v2/images', { body: { name: 'noformat' }, token: alice.token });
      let r = await upload(bare.body.id, randomBytes(10), alice.token);
      assert.equal(r.status, 400);
      assert.equal(r.body.message, 'Properties disk_format, container_format must be set prior to saving data.');
      const id = await create(alice);
      r = await h.call('PUT', `/v2/images/${id}/file`, { body: 'abc', contentType: 'text/plain', token: alice.token });
      assert.equal(r.status, 415);
      assert.equal(r.body.message, 'Invalid content type text/plain');
      r = await h.call('PUT', `/v2/images/${id}/file`, { body: { a: 1 }, token: alice.token });
      assert.equal(r.status, 415);
      r = await upload(id, randomBytes(10), alice.token, { 'x-image-meta-store': 'ceph' });
      assert.equal(r.status, 400);
      const reader = await h.projectToken(['reader']);
      const own = await create(alice, { visibility: 'community' });
      assert.equal((await upload(own, randomBytes(10), reader.token)).status, 403);
      assert.equal((await show(id)).status, 'queued');
    });

    test("another project's private image is a 404 for upload and download", async () => {
      const id = await create(alice, { visibility: 'private' });
      assert.equal((await upload(id, randomBytes(10), bob.token)).status, 404);
      assert.equal((await h.call('GET', `/v2/images/${id}/file`, { token: bob.token })).status, 404);
      await upload(id, randomBytes(10), alice.token);
      assert.equal((await h.call('GET', `/v2/images/${id}/file`, { token: bob.token })).status, 404);
      assert.equal((await h.call('GET', `/v2/images/${randomBytes(16).toString('hex')}/file`, { token: bob.token })).status, 404);
    });

    test('download of an image without data is a 204', async () => {
      const id = await create(alice);
      const r = await h.call('GET', `/v2/images/${id}/file`, { token: alice.token });
      assert.equal(r.status, 204);
      assert.equal(r.raw.length, 0);
    });

    test('a deactivated image downloads for admins only (403 for its owner)', async () => {
      const id = await create(alice);
      const data = randomBytes(64);
      await upload(id, data, alice.token);
      assert.equal((await h.call('POST', `/v2/images/${id}/actions/deactivate`, { token: alice.token })).status, 204);
      const r = await h.call('GET', `/v2/images/${id}/file`, { token: alice.token });
      assert.equal(r.status, 403);
      assert.equal(r.body.message, 'The requested image has been deactivated. Image data download is forbidden.');
      const admin = await h.call('GET', `/v2/images/${id}/file`);
      assert.equal(admin.status, 200);
      assert.ok(admin.raw.equals(data));
    });

    test('an upload whose body breaks midway leaves the image queued and no data (injected stream error)', async () => {
      const id = await create(alice);
      let sent = 0;
      const broken = new Readable({
        read() {
          if (sent >= 6 * MiB) return this.destroy(new Error('client went away'));
          sent += MiB;
          this.push(randomBytes(MiB));
        },
      });
      // The injected request fails with the body's error; the server sees its request stream break.
      await assert.rejects(uploadStream(id, broken, alice.token), /client went away/);
      const img = await waitFor(id, 'queued');
      assert.equal(img.status, 'queued');
      assert.equal(img.size, null);
      assert.equal(img.checksum, null);
      assert.deepEqual(storeFiles(h).filter((f) => f.includes(id)), []);
    });

    test('a client that disconnects mid-upload leaves the image queued and no data (real HTTP)', async () => {
      const id = await create(alice);
      const req = httpRequest(`${base}/v2/images/${id}/file`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(64 * MiB), 'x-auth-token': alice.token },
      });
      req.on('error', () => {});
      req.write(randomBytes(8 * MiB));
      await waitFor(id, 'saving');
      // The image is saving just before the store opens its file: give the store a moment.
      for (let i = 0; i < 100 && !storeFiles(h).some((f) => f.startsWith(`.tmp-${id}`)); i++) await sleep(20);
      assert.ok(storeFiles(h).some((f) => f.startsWith(`.tmp-${id}`)), 'data goes to a temporary file');
      req.destroy();
      await waitFor(id, 'queued');
      for (let i = 0; i < 100 && storeFiles(h).some((f) => f.includes(id)); i++) await sleep(20);
      assert.deepEqual(storeFiles(h).filter((f) => f.includes(id)), []);
      // The image takes a new upload.
      assert.equal((await upload(id, randomBytes(100), alice.token)).status, 204);
    });

    test('an image deleted during its upload: 410, and its data removed', async () => {
      const id = await create(alice);
      const data = randomBytes(2 * MiB);
      const res = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${base}/v2/images/${id}/file`, {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length), 'x-auth-token': alice.token },
        });
        req.on('response', (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
        req.write(data.subarray(0, MiB));
        waitFor(id, 'saving')
          .then(() => h.call('DELETE', `/v2/images/${id}`, { token: alice.token }))
          .then((d) => {
            assert.equal(d.status, 204);
            req.end(data.subarray(MiB));
          }, reject);
      });
      const r = await res;
      assert.equal(r.status, 410, r.body);
      assert.deepEqual(storeFiles(h).filter((f) => f.includes(id)), []);
    });

    test('stage then glance-direct import: uploading, importing, active; staged data gone', async () => {
      const id = await create(alice, { disk_format: 'qcow2' });
      const data = Buffer.concat([qcow2(1n << 30n, 512), randomBytes(3 * MiB)]);
      let r = await h.call('PUT', `/v2/images/${id}/stage`, { body: data, token: alice.token });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      let img = await show(id);
      assert.equal(img.status, 'uploading');
      assert.equal(img.size, data.length);
      assert.equal(img.checksum, null);
      assert.equal(storeFiles(h).filter((f) => f.startsWith(`staging/${id}`)).length, 1);
      assert.equal((await h.call('GET', `/v2/images/${id}/file`, { token: alice.token })).status, 204);
      assert.equal((await h.call('PUT', `/v2/images/${id}/stage`, { body: data, token: alice.token })).status, 409);
      assert.equal((await upload(id, data, alice.token)).status, 409);
      r = await h.call('POST', `/v2/images/${id}/import`, { body: { method: { name: 'glance-direct' } }, token: alice.token });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      img = await waitFor(id, 'active');
      assert.equal(img.size, data.length);
      assert.equal(img.virtual_size, 1 << 30);
      assert.equal(img.checksum, md5(data));
      assert.equal(img.os_hash_value, sha512(data));
      // The staged copy goes once the image is active (after, so a crash in between loses nothing).
      const staged = () => storeFiles(h).filter((f) => f.startsWith('staging/') && f.includes(id));
      for (let i = 0; i < 250 && staged().length; i++) await sleep(20);
      assert.deepEqual(staged(), []);
      const got = await h.call('GET', `/v2/images/${id}/file`, { token: alice.token });
      assert.ok(got.raw.equals(data));
      r = await h.call('POST', `/v2/images/${id}/import`, { body: { method: { name: 'glance-direct' } }, token: alice.token });
      assert.equal(r.status, 409);
      assert.equal(r.body.message, 'Image with status active cannot be target for import');
    });

    test('import: bad bodies are 400s, an unstaged image a 409, an unknown store a 409', async () => {
      const id = await create(alice);
      const imp = (body: unknown, headers: Record<string, string> = {}) => h.call('POST', `/v2/images/${id}/import`, { body, token: alice.token, headers });
      const cases: [unknown, string][] = [
        [{}, "Import request requires a 'method' field."],
        [{ method: {} }, "Import request requires a 'name' field."],
        [{ method: { name: 'web-download' } }, "Unknown import method name 'web-download'."],
        [{ method: { name: 'glance-direct' }, all_stores: 'yes' }, "'all_stores' must be boolean value only"],
        [{ method: { name: 'glance-direct' }, all_stores_must_succeed: 1 }, "'all_stores_must_succeed' must be boolean value only"],
      ];
      for (const [body, message] of cases) {
        const r = await imp(body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.message, message);
      }
      let r = await imp({ method: { name: 'glance-direct' } });
      assert.equal(r.status, 409);
      assert.equal(r.body.message, "Image needs to be staged before 'glance-direct' method can be used");
      await h.call('PUT', `/v2/images/${id}/stage`, { body: randomBytes(100), token: alice.token });
      r = await imp({ method: { name: 'glance-direct' }, stores: ['ceph'] });
      assert.equal(r.status, 409);
      r = await imp({ method: { name: 'glance-direct' }, stores: ['file'] }, { 'x-image-meta-store': 'file' });
      assert.equal(r.status, 400);
      assert.equal((await imp({ method: { name: 'glance-direct' } }, { 'x-image-meta-store': 'file' })).status, 202);
      await waitFor(id, 'active');
    });

    test('the sweeper resets stale writes and removes orphaned store files, not live ones', async () => {
      const db = h.identity.database.db;
      const store = createFilesystemStore(h.storeDir);
      const ctx = { db, config: h.identity.config, logger: createLogger({ level: 'silent' }), store };
      const old = new Date(Date.now() - 10 * 60_000);
      const saving = await create(alice);
      const stageDead = await create(alice);
      const importing = await create(alice);
      const live = await create(alice);
      // An import whose process died: staged data (old) still referenced.
      await h.call('PUT', `/v2/images/${importing}/stage`, { body: randomBytes(100), token: alice.token });
      const stagedFile = storeFiles(h).find((f) => f.startsWith(`staging/${importing}`))!;
      utimesSync(join(h.storeDir, stagedFile), old, old);
      await db('images').where({ id: importing }).update({ status: 'importing', upload_heartbeat_at: old });
      await db('images').where({ id: saving }).update({ status: 'saving', upload_heartbeat_at: old });
      await db('images').where({ id: stageDead }).update({ status: 'uploading', upload_heartbeat_at: old, size: 5, staged_size: 5 });
      await db('images').where({ id: live }).update({ status: 'saving', upload_heartbeat_at: new Date() });
      // Orphans: a dead writer's temporary, data published just before a crash; and a fresh temporary.
      const orphans = [`.tmp-${saving}-0a0a0a0a0a0a`, `${saving}-0b0b0b0b0b0b`, `staging/${stageDead}-0c0c0c0c0c0c`];
      for (const f of orphans) {
        writeFileSync(join(h.storeDir, f), 'partial');
        utimesSync(join(h.storeDir, f), old, old);
      }
      writeFileSync(join(h.storeDir, `.tmp-${live}-0d0d0d0d0d0d`), 'in progress');

      const result = await sweepStaleUploads(ctx);
      assert.deepEqual(Object.fromEntries(result.reset.map((r) => [r.id, r.status])), { [saving]: 'queued', [stageDead]: 'queued', [importing]: 'uploading' });
      assert.deepEqual(result.removed.sort(), [...orphans].sort());
      const files = storeFiles(h);
      for (const f of orphans) assert.ok(!files.includes(f), f);
      assert.ok(files.includes(stagedFile));
      assert.ok(files.includes(`.tmp-${live}-0d0d0d0d0d0d`));
      assert.equal((await show(live)).status, 'saving');
      assert.equal((await show(stageDead)).size, null);
      // The reset import can run again from its staged data.
      const r = await h.call('POST', `/v2/images/${importing}/import`, { body: { method: { name: 'glance-direct' } }, token: alice.token });
      assert.equal(r.status, 202);
      assert.equal((await waitFor(importing, 'active')).size, 100);
      // And the reset upload takes data again.
      assert.equal((await upload(saving, randomBytes(10), alice.token)).status, 204);
      rmSync(join(h.storeDir, `.tmp-${live}-0d0d0d0d0d0d`));
      await db('images').where({ id: live }).update({ status: 'queued', upload_heartbeat_at: null });
    });

    test('a store that fails leaves the image queued (500)', async () => {
      const id = await create(alice);
      const moved = `${h.storeDir}.away`;
      renameSync(h.storeDir, moved);
      writeFileSync(h.storeDir, 'not a directory');
      try {
        const r = await upload(id, randomBytes(100), alice.token);
        assert.equal(r.status, 500);
      } finally {
        rmSync(h.storeDir);
        renameSync(moved, h.storeDir);
      }
      assert.equal((await show(id)).status, 'queued');
    });
  });
}

describe('Glance v2 image data quotas', () => {
  let h: ImageHarness;
  let carol: Tenant;
  const { create, show, upload, uploadStream } = helpers(() => h);

  before(async () => {
    h = await startImage({ overrides: { 'image.image_size_total': 8, 'image.image_stage_total': 2, 'image.image_count_uploading': 1 } });
    carol = await h.projectToken();
  });
  after(() => h.close());

  test('a declared size over the remaining quota is refused up front (413)', async () => {
    const id = await create(carol);
    const r = await upload(id, randomBytes(9 * MiB), carol.token);
    assert.equal(r.status, 413);
    assert.match(r.body.message, /Image exceeds the storage quota/);
    assert.equal((await show(id)).status, 'queued');
  });

  test('an undeclared size is cut off when it passes the quota (413), leaving nothing', async () => {
    const id = await create(carol);
    const r = await uploadStream(id, Readable.from(Array.from({ length: 9 }, () => randomBytes(MiB))), carol.token);
    assert.equal(r.statusCode, 413);
    assert.equal((await show(id)).status, 'queued');
    assert.deepEqual(readdirSync(h.storeDir).filter((f) => f.includes(id)), []);
  });

  test('over real HTTP, the client gets the 413 and the connection stays usable', async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.app.server.address() as AddressInfo).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const id = await create(carol);
    const send = (method: string, path: string, body?: Buffer[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: { 'content-type': 'application/octet-stream', 'x-auth-token': carol.token } });
        req.on('response', (r) => {
          let text = '';
          r.on('data', (c) => (text += c));
          r.on('end', () => resolve({ status: r.statusCode!, body: text }));
        });
        req.on('error', reject);
        (async () => {
          for (const chunk of body ?? []) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        })();
      });
    const r = await send('PUT', `/v2/images/${id}/file`, Array.from({ length: 9 }, () => randomBytes(MiB)));
    assert.equal(r.status, 413);
    assert.match(JSON.parse(r.body).message, /Image exceeds the storage quota/);
    assert.equal((await send('GET', '/v2/info/import')).status, 200);
    agent.destroy();
    assert.equal((await show(id)).status, 'queued');
  });

  test('at the limit, further uploads are refused', async () => {
    const id = await create(carol);
    assert.equal((await upload(id, randomBytes(8 * MiB), carol.token)).status, 204);
    const more = await create(carol);
    assert.equal((await upload(more, randomBytes(1), carol.token)).status, 413);
    await h.call('DELETE', `/v2/images/${id}`, { token: carol.token });
    assert.equal((await upload(more, randomBytes(1), carol.token)).status, 204);
  });

  test('staging: image_stage_total (413) and image_count_uploading (413, image back to queued)', async () => {
    const big = await create(carol);
    let r = await h.call('PUT', `/v2/images/${big}/stage`, { body: randomBytes(3 * MiB), token: carol.token });
    assert.equal(r.status, 413);
    assert.equal((await show(big)).status, 'queued');
    const first = await create(carol);
    assert.equal((await h.call('PUT', `/v2/images/${first}/stage`, { body: randomBytes(MiB), token: carol.token })).status, 204);
    const second = await create(carol);
    r = await h.call('PUT', `/v2/images/${second}/stage`, { body: randomBytes(10), token: carol.token });
    assert.equal(r.status, 413);
    assert.match(r.body.message, /image_count_uploading/);
    assert.equal((await show(second)).status, 'queued');
    assert.deepEqual(readdirSync(join(h.storeDir, 'staging')).filter((f) => f.includes(second)), []);
  });
});
