/**
 * What agents and drivers ask of the image service (Glance v2) over HTTP,
 * with the token their message carried: upload a snapshot's data, delete the
 * image of a snapshot that failed. No database, no credentials of their own.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { SnapshotTarget } from './driver.ts';

const headers = (target: SnapshotTarget, extra: Record<string, string> = {}) => ({ ...(target.token ? { 'x-auth-token': target.token } : {}), ...extra });

/** The image's own URL (…/v2/images/{id}) from the data URL of the target (…/v2/images/{id}/file). */
export const imageUrlOf = (target: SnapshotTarget) => target.url.replace(/\/file\/?$/, '');

/** PUT /v2/images/{id}/file: the image goes active once Glance has the data. Throws on any status but 204. */
export async function uploadImageData(target: SnapshotTarget, data: Buffer | Uint8Array): Promise<void> {
  const res = await fetch(target.url, { method: 'PUT', headers: headers(target, { 'content-type': 'application/octet-stream' }), body: new Uint8Array(data) });
  await expectStored(target, res);
}

/** The same PUT with the file at `path` as the data, streamed (never held in memory) with its Content-Length. */
export async function uploadImageFile(target: SnapshotTarget, path: string): Promise<void> {
  const { size } = await stat(path);
  const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
  const init = { method: 'PUT', headers: headers(target, { 'content-type': 'application/octet-stream', 'content-length': String(size) }), body, duplex: 'half' };
  await expectStored(target, await fetch(target.url, init as RequestInit));
}

async function expectStored(target: SnapshotTarget, res: Response): Promise<void> {
  if (res.status !== 204) throw new Error(`the image service refused the snapshot data of image ${target.image_id}: ${res.status} ${(await res.text()).slice(0, 200)}`);
}

/** DELETE /v2/images/{id}; an image already gone is fine. */
export async function deleteImage(target: SnapshotTarget): Promise<void> {
  const res = await fetch(imageUrlOf(target), { method: 'DELETE', headers: headers(target) });
  if (res.status !== 204 && res.status !== 404) throw new Error(`the image service did not delete image ${target.image_id}: ${res.status}`);
}
