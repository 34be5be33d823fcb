import type { Readable } from 'node:stream';
import type { OpenedData } from './store-backend.ts';
import { forbidden } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { authorizeImage, findVisibleImage, type ImageCaller } from '../images/access.ts';
import { parseRange } from './range.ts';
import { NO_DATA } from './rows.ts';
import { activeFields, assertFormats, transitionRefused, writeImageData } from './transfer.ts';

/**
 * Stores an image's data (PUT /v2/images/{id}/file): queued → saving →
 * active, the data streamed to the store and hashed (md5 checksum, sha512
 * multihash) on the way. `length` is the declared size, when known. A
 * failed upload leaves the image queued with no data.
 */
export async function uploadImageData(ctx: ImageContext, caller: ImageCaller, id: string, source: Readable, length: number | undefined): Promise<void> {
  const { image, memberId } = await findVisibleImage(ctx, caller, id);
  authorizeImage(ctx, caller, 'upload_image', image, memberId);
  if (image.status !== 'queued') throw transitionRefused(image.status, 'saving');
  assertFormats(image);
  await writeImageData(ctx, caller, image, source, length, {
    to: 'saving',
    area: 'images',
    quota: 'image_size_total',
    queued: NO_DATA,
    hash: true,
    finished: (location, data) => ['active', activeFields(image, location, data)],
  });
}

export interface Download {
  status: 200 | 204 | 206;
  headers: Record<string, string>;
  /** The data to send (200 and 206), opened: the caller sends it and closes it. */
  data?: OpenedData;
}

/**
 * An image's data for GET /v2/images/{id}/file, whole or one range: 204
 * when the image has none (yet), as Glance; a deactivated image's data only
 * for admins.
 */
export async function downloadImageData(ctx: ImageContext, caller: ImageCaller, id: string, rangeHeader: string | undefined): Promise<Download> {
  const { image, memberId } = await findVisibleImage(ctx, caller, id);
  if (image.status === 'deactivated' && !caller.isAdmin) {
    throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
  }
  authorizeImage(ctx, caller, 'download_image', image, memberId);
  if (!image.location) return { status: 204, headers: {} };
  const size = Number(image.size);
  const range = rangeHeader === undefined ? undefined : parseRange(rangeHeader, size);
  const data = await ctx.store.open(image.location, range);
  if (!data) {
    ctx.logger.warn({ image_id: id, location: image.location }, 'image data missing from the store');
    return { status: 204, headers: {} };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-length': String(range ? range.end - range.start + 1 : size),
  };
  if (image.checksum) headers['content-md5'] = image.checksum;
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  return { status: range ? 206 : 200, headers, data };
}
