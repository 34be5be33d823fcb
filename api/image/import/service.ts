import type { Readable } from 'node:stream';
import { badRequest, conflict } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { hasherFor } from '../data/hashing.ts';
import { ingest } from '../data/ingest.ts';
import { heartbeatMs, keepAlive } from '../data/lease.ts';
import { acquireLease, NO_DATA, releaseLease, type WriteLease } from '../data/rows.ts';
import type { StoredData } from '../data/store-backend.ts';
import { DEFAULT_STORE, unknownStoreMessage } from '../data/stores.ts';
import { abandonWrite, activeFields, LeaseLost, transitionConflict, writeImageData } from '../data/transfer.ts';
import { authorizeImage, findVisibleImage, type ImageCaller } from '../images/access.ts';
import type { ImageRow } from '../images/store.ts';
import { assertImageQuota } from '../quota.ts';

/** The import methods this cloud offers (Glance's enabled_import_methods). */
export const IMPORT_METHODS = ['glance-direct'];

/** GET /v2/info/import. */
export const importInfo = () => ({ 'import-methods': { description: 'Import methods available.', type: 'array', value: IMPORT_METHODS } });

/** An image going back to queued also gives up its staged data. */
const UNSTAGED: Partial<ImageRow> = { ...NO_DATA, staging_location: null, staged_size: null };

/**
 * Stages data for an interoperable import (PUT /v2/images/{id}/stage):
 * queued → uploading, the data kept in the store's staging area and counted
 * against image_stage_total until imported. A failed stage leaves the image
 * queued with nothing staged.
 */
export async function stageImageData(ctx: ImageContext, caller: ImageCaller, id: string, source: Readable, length: number | undefined): Promise<void> {
  const { image, memberId } = await findVisibleImage(ctx, caller, id);
  authorizeImage(ctx, caller, 'modify_image', image, memberId);
  await writeImageData(ctx, caller, image, source, length, {
    to: 'uploading',
    area: 'staging',
    quota: 'image_stage_total',
    queued: UNSTAGED,
    hash: false,
    finished: (location, data) => ['uploading', { staging_location: location, staged_size: data.size, size: data.size }],
  });
}

/** An import request, checked as Glance's deserializer does. */
export interface ImportRequest {
  method: string;
  stores?: unknown;
  allStores: boolean;
}

export function parseImportBody(body: unknown): ImportRequest {
  if (body === undefined || body === null) throw badRequest('Body expected in request.');
  const b = body as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b) || !('method' in b)) throw badRequest("Import request requires a 'method' field.");
  const method = b.method as Record<string, unknown> | null;
  if (!method || typeof method !== 'object' || !('name' in method)) throw badRequest("Import request requires a 'name' field.");
  if (typeof method.name !== 'string' || !IMPORT_METHODS.includes(method.name)) {
    throw badRequest(`Unknown import method name '${String(method.name)}'.`);
  }
  if ('all_stores_must_succeed' in b && typeof b.all_stores_must_succeed !== 'boolean') {
    throw badRequest("'all_stores_must_succeed' must be boolean value only");
  }
  if ('all_stores' in b && typeof b.all_stores !== 'boolean') throw badRequest("'all_stores' must be boolean value only");
  return { method: method.name, stores: b.stores, allStores: b.all_stores === true };
}

/** The target stores: all of them, those listed, the X-Image-Meta-Store one, or the default — each one we have (409 otherwise, as Glance). */
function assertImportStores(req: ImportRequest, storeHeader: string | undefined): void {
  if (req.allStores) {
    if (req.stores !== undefined || storeHeader !== undefined) {
      throw badRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter");
    }
    return;
  }
  if (req.stores !== undefined && storeHeader !== undefined) {
    throw badRequest("Stores parameter and x-image-meta-store header can't be both specified");
  }
  const stores = req.stores !== undefined ? req.stores : [storeHeader ?? DEFAULT_STORE];
  if (!Array.isArray(stores)) throw badRequest("'stores' must be a list of store identifiers");
  for (const s of stores) if (s !== DEFAULT_STORE) throw conflict(unknownStoreMessage(String(s)));
}

/** Imports that run in the background, so that the app can stop them when it closes. */
export interface ImportRunner {
  start(lease: WriteLease, image: ImageRow): void;
  close(): Promise<void>;
}

/**
 * Starts an import (POST /v2/images/{id}/import, glance-direct): checks it
 * as Glance does, moves the image uploading → importing, and leaves the
 * rest to `runner` (the client polls for active).
 */
export async function importImage(
  ctx: ImageContext,
  runner: ImportRunner,
  caller: ImageCaller,
  id: string,
  body: unknown,
  storeHeader: string | undefined,
): Promise<void> {
  const req = parseImportBody(body);
  const { image, memberId } = await findVisibleImage(ctx, caller, id);
  const owner = image.owner ?? caller.projectId;
  if (owner) await assertImageQuota(ctx, owner, 'image_size_total', 0);
  if (image.status === 'active') throw conflict('Image with status active cannot be target for import');
  if (image.status !== 'uploading' || !image.staging_location) {
    throw conflict("Image needs to be staged before 'glance-direct' method can be used");
  }
  for (const format of ['container_format', 'disk_format'] as const) {
    if (!image[format]) throw conflict(`'${format}' needs to be set before import`);
  }
  authorizeImage(ctx, caller, 'modify_image', image, memberId);
  assertImportStores(req, storeHeader);
  const held = await acquireLease(ctx.db, id, 'uploading', 'importing', { staged: true });
  if (!held) throw await transitionConflict(ctx, id, 'importing');
  runner.start(held.lease, held.image);
}

/**
 * Imports staged data: hashes it, publishes it in the image area (a second
 * name for the same bytes, no copy, where the store can), and makes the
 * image active. The staged data stays the source of truth until the image
 * is active: on any failure — or a crash, through the sweeper — the image
 * goes back to uploading with its data still staged, ready to import again.
 */
async function runImport(ctx: ImageContext, lease: WriteLease, image: ImageRow, stop: AbortSignal): Promise<void> {
  const staged = image.staging_location!;
  const abort = new AbortController();
  const onStop = () => abort.abort(stop.reason);
  stop.addEventListener('abort', onStop, { once: true });
  const beat = keepAlive(ctx, lease, heartbeatMs(ctx.config), { onLost: () => abort.abort(new LeaseLost(lease.imageId)) });
  let location: string | undefined;
  let data: StoredData | undefined;
  let missing = false;
  try {
    data = await ctx.store.read(staged);
    missing = !data;
    if (!data) throw new Error(`staged data of image ${image.id} is missing`);
    const hashed = await ingest(data.stream, {
      hasher: hasherFor(data.size, ctx.config['image.hashing_algorithm']),
      limit: Infinity,
      tooLarge: () => new Error('unreachable'),
      signal: abort.signal,
    });
    location = await ctx.store.duplicate(staged, image.id, 'images');
    await beat.stop();
    const done = await releaseLease(ctx.db, lease, 'active', { ...activeFields(image, location, hashed), staging_location: null, staged_size: null });
    if (!done) throw new LeaseLost(image.id);
    await ctx.store.delete(staged).catch((err) => ctx.logger.warn({ err, image_id: image.id }, 'could not remove imported staged data'));
    ctx.logger.info({ image_id: image.id, size: hashed.size }, 'image imported');
  } catch (e) {
    await beat.stop();
    data?.stream.destroy();
    const [status, fields] = missing ? ['queued', UNSTAGED] : ['uploading', {}];
    const err = await abandonWrite(ctx, lease, status, fields, location, e);
    ctx.logger.error({ err, image_id: image.id }, 'image import failed');
  } finally {
    stop.removeEventListener('abort', onStop);
  }
}

export function createImportRunner(ctx: ImageContext): ImportRunner {
  const stop = new AbortController();
  const running = new Set<Promise<void>>();
  return {
    start(lease, image) {
      const task = runImport(ctx, lease, image, stop.signal).finally(() => running.delete(task));
      running.add(task);
    },
    async close() {
      stop.abort(new Error('the image API is shutting down'));
      await Promise.allSettled([...running]);
    },
  };
}
