import type { Readable } from 'node:stream';
import { badRequest, conflict, gone, NuboError, isNuboError, payloadTooLarge, serviceUnavailable } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { imageNotFound, type ImageCaller } from '../images/access.ts';
import { getImage, type ImageRow } from '../images/store.ts';
import { assertImageQuota, remainingImageBytes } from '../quota.ts';
import { hasherFor, type BlockHasher } from './hashing.ts';
import { ingest, type Ingested } from './ingest.ts';
import { heartbeatMs, keepAlive } from './lease.ts';
import { acquireLease, releaseLease, type WriteLease } from './rows.ts';
import type { StoreArea } from './store-backend.ts';
import { virtualSizeOf } from './virtual-size.ts';

/** The lease on an image was lost mid-write: the image was deleted, or reset by the sweeper and taken over. */
export class LeaseLost extends Error {
  constructor(readonly imageId: string) {
    super(`lost the write lease on image ${imageId}`);
  }
}

/** Glance's refusal of a status change (409). */
export const transitionRefused = (from: string, to: string) => conflict(`Image status transition from ${from} to ${to} is not allowed`);

/** After a conditional transition found the image elsewhere: 404 when it is gone, else Glance's 409. */
export async function transitionConflict(ctx: ImageContext, id: string, to: string): Promise<NuboError> {
  const now = await getImage(ctx.db, id);
  return !now || now.deleted_at ? imageNotFound(id) : transitionRefused(now.status, to);
}

/** Glance's 413 when data passes the bytes a project may still store. */
export const storageQuotaFull = (size: number, remaining: number) =>
  payloadTooLarge(`Image exceeds the storage quota: The size of the data ${size} will exceed the limit. ${remaining} bytes remaining.`);

/** Glance refuses data for an image without both formats (a 400 from the status change). */
export function assertFormats(image: ImageRow): void {
  const missing = (['disk_format', 'container_format'] as const).filter((k) => !image[k]);
  if (missing.length === 1) throw badRequest(`Property ${missing[0]} must be set prior to saving data.`);
  if (missing.length) throw badRequest(`Properties ${missing.join(', ')} must be set prior to saving data.`);
}

const INTERRUPTED = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

/**
 * What a failed transfer tells the client, as Glance words it: a full or
 * read-only store, a vanished image (410), a lost race (409); anything else
 * stays a 500.
 */
export async function transferError(ctx: ImageContext, imageId: string, e: unknown): Promise<unknown> {
  if (isNuboError(e)) return e;
  if (e instanceof LeaseLost) {
    const now = await getImage(ctx.db, imageId);
    if (now && !now.deleted_at) return conflict(`Image ${imageId} was changed by another request while its data was written.`);
    const msg = `Image ${imageId} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.`;
    return gone(msg);
  }
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const detail = (e as Error).message;
  if (code === 'ENOSPC' || code === 'EDQUOT') return payloadTooLarge(`Image storage media is full: ${detail}`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return serviceUnavailable(`Insufficient permissions on image storage media: ${detail}`);
  if (INTERRUPTED.has(code) || (e as Error).message === 'aborted') return badRequest('The request body ended before the image data was complete.');
  return e;
}

export interface Received {
  location: string;
  data: Ingested;
}

/**
 * Receives `source` into a new object in `area` while holding `lease`: the
 * heartbeat is refreshed and the unfinished data touched until the object
 * is committed; losing the lease aborts the transfer. On failure nothing of
 * the data remains.
 */
export async function receive(
  ctx: ImageContext,
  lease: WriteLease,
  source: Readable,
  opts: { area: StoreArea; hasher?: () => BlockHasher; limit: number; tooLarge: (size: number) => Error },
): Promise<Received> {
  const writer = await ctx.store.create(lease.imageId, opts.area);
  const lost = new AbortController();
  const beat = keepAlive(ctx, lease, heartbeatMs(ctx.config), {
    onLost: () => lost.abort(new LeaseLost(lease.imageId)),
    touch: () => writer.touch(),
  });
  try {
    const data = await ingest(source, { writer, hasher: opts.hasher?.(), limit: opts.limit, tooLarge: opts.tooLarge, signal: lost.signal });
    const location = await writer.commit();
    return { location, data };
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    await beat.stop();
  }
}

/**
 * Ends a write that failed: removes what was published, puts the image back
 * to `status` (when the lease still holds), and returns the error to raise.
 */
export async function abandonWrite(
  ctx: ImageContext,
  lease: WriteLease,
  status: string,
  fields: Partial<ImageRow>,
  published: string | undefined,
  e: unknown,
): Promise<unknown> {
  const warn = (err: unknown) => ctx.logger.warn({ err, image_id: lease.imageId }, 'could not clean up after a failed image write');
  if (published) await ctx.store.delete(published).catch(warn);
  await releaseLease(ctx.db, lease, status, fields).catch(warn);
  return transferError(ctx, lease.imageId, e);
}

/** The fields of an image whose data is in: where, how large, its hashes. */
export function activeFields(image: ImageRow, location: string, data: Ingested): Partial<ImageRow> {
  return {
    location,
    size: data.size,
    virtual_size: virtualSizeOf(image, data.head, data.size),
    checksum: data.digests!.checksum,
    os_hash_algo: data.digests!.hashAlgo,
    os_hash_value: data.digests!.hashValue,
  };
}

/** How an upload or a stage writes data. */
export interface WriteSpec {
  /** The status while writing. */
  to: 'saving' | 'uploading';
  area: StoreArea;
  /** The quota the data counts against. */
  quota: 'image_size_total' | 'image_stage_total';
  /** The fields of an image back in queued: set when the write starts and when it fails. */
  queued: Partial<ImageRow>;
  hash: boolean;
  /** The status and fields once the data is in. */
  finished: (location: string, data: Ingested) => [string, Partial<ImageRow>];
}

/**
 * Writes data to a queued image, as Glance does for upload and stage: checks
 * the quotas (413), moves the image to `spec.to` under a lease (409 when it is
 * not queued), receives the data — cut off past the quota — and publishes it.
 * On any failure the image is queued again with nothing stored.
 */
export async function writeImageData(
  ctx: ImageContext,
  caller: ImageCaller,
  image: ImageRow,
  source: Readable,
  length: number | undefined,
  spec: WriteSpec,
): Promise<void> {
  if (image.status !== 'queued') throw transitionRefused(image.status, spec.to);
  const owner = image.owner ?? caller.projectId;
  let remaining = Infinity;
  if (owner) {
    await assertImageQuota(ctx, owner, spec.quota, 0);
    remaining = await remainingImageBytes(ctx, owner, spec.quota);
    if (length !== undefined && length > remaining) throw storageQuotaFull(length, remaining);
  }
  const held = await acquireLease(ctx.db, image.id, 'queued', spec.to, { fields: spec.queued });
  if (!held) throw await transitionConflict(ctx, image.id, spec.to);
  const { lease } = held;
  let location: string | undefined;
  try {
    if (owner) await assertImageQuota(ctx, owner, 'image_count_uploading', 0);
    const got = await receive(ctx, lease, source, {
      area: spec.area,
      hasher: spec.hash ? () => hasherFor(length, ctx.config['image.hashing_algorithm']) : undefined,
      limit: remaining,
      tooLarge: (size) => storageQuotaFull(size, remaining),
    });
    location = got.location;
    const [status, fields] = spec.finished(location, got.data);
    if (!(await releaseLease(ctx.db, lease, status, fields))) throw new LeaseLost(image.id);
  } catch (e) {
    throw await abandonWrite(ctx, lease, 'queued', spec.queued, location, e);
  }
}
