// registerImageFile (api/image/images/register-file.ts): how the all-in-one
// registers its default image — through the image service's own create and
// upload, once per name in the owner's project.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentialsOf } from '../../api/http/auth.ts';
import { createBodyValidator, loadSpec } from '../../api/http/validation.ts';
import { createFilesystemStore } from '../../api/image/data/filesystem.ts';
import type { ImageContext } from '../../api/image/context.ts';
import type { ImageCaller } from '../../api/image/images/access.ts';
import { registerImageFile, type ImageFile } from '../../api/image/images/register-file.ts';
import { imagePolicyDefaults } from '../../api/image/policy-rules.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { startImage, type ImageHarness } from '../support/image.ts';

describe('registering a local image file in the image service', () => {
  let h: ImageHarness;
  let ctx: ImageContext;
  let admin: ImageCaller;
  let dir: string;
  const data = Buffer.from('nubo test image data '.repeat(4096));
  const file = (over: Partial<ImageFile> = {}): ImageFile => ({
    path: join(dir, 'disk.raw'),
    name: 'nubo-guest',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'public',
    properties: { hw_disk_bus: 'virtio' },
    ...over,
  });

  before(async () => {
    h = await startImage();
    dir = mkdtempSync(join(tmpdir(), 'nubo-register-'));
    writeFileSync(join(dir, 'disk.raw'), data);
    const i = h.identity;
    ctx = {
      db: i.database.db,
      bus: i.bus,
      tokens: i.tokens,
      policy: new Enforcer(imagePolicyDefaults),
      config: i.config,
      logger: createLogger({ level: 'silent' }),
      validate: createBodyValidator(loadSpec('image')),
      store: createFilesystemStore(h.storeDir),
    };
    admin = { auth: { token: h.adminToken, claims: i.tokens.verify(h.adminToken), credentials: credentialsOf(i.tokens.verify(h.adminToken)) }, projectId: h.adminProjectId, isAdmin: true };
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a missing file registers nothing', async () => {
    assert.deepEqual(await registerImageFile(ctx, admin, file({ path: join(dir, 'absent.qcow2') })), { status: 'missing', path: join(dir, 'absent.qcow2') });
    assert.deepEqual(await registerImageFile(ctx, admin, file({ path: dir })), { status: 'missing', path: dir });
  });

  test('the first registration creates a public active image with the data, hashes and properties; the second finds it', async () => {
    const r = await registerImageFile(ctx, admin, file());
    assert.equal(r.status, 'created');
    const id = (r as { id: string }).id;
    const shown = await h.call('GET', `/v2/images/${id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(
      [shown.body.name, shown.body.status, shown.body.visibility, shown.body.owner, shown.body.size, shown.body.checksum, shown.body.hw_disk_bus],
      ['nubo-guest', 'active', 'public', h.adminProjectId, data.length, createHash('md5').update(data).digest('hex'), 'virtio'],
    );
    const got = await h.call('GET', `/v2/images/${id}/file`);
    assert.ok(got.raw.equals(data));
    assert.deepEqual(await registerImageFile(ctx, admin, file()), { status: 'present', id });
    const list = await h.call('GET', '/v2/images?name=nubo-guest');
    assert.equal(list.body.images.length, 1);
  });

  test('an image of that name left queued by a failed upload gets the data', async () => {
    const queued = await h.call('POST', '/v2/images', { body: { name: 'half-done', disk_format: 'raw', container_format: 'bare' } });
    assert.equal(queued.status, 201);
    assert.deepEqual(await registerImageFile(ctx, admin, file({ name: 'half-done' })), { status: 'resumed', id: queued.body.id });
    assert.equal((await h.call('GET', `/v2/images/${queued.body.id}`)).body.status, 'active');
  });

  test('a caller who may not publicize gets the policy\'s 403', async () => {
    const { token, projectId } = await h.projectToken();
    const claims = h.identity.tokens.verify(token);
    const member: ImageCaller = { auth: { token, claims, credentials: credentialsOf(claims) }, projectId, isAdmin: false };
    await assert.rejects(registerImageFile(ctx, member, file({ name: 'not-mine' })), (e: any) => e.status === 403);
  });
});
