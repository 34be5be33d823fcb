/**
 * Registers a local image file in the image service, as DevStack uploads
 * CirrOS: an image created and its data uploaded through the same services
 * the API uses (validation, policy, quotas, hashing, the store), not over
 * HTTP. Idempotent by name within the owner's project: a start that finds
 * the image active registers nothing; one that finds it queued (an earlier
 * upload failed) uploads into it again.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ImageContext } from '../context.ts';
import { uploadImageData } from '../data/service.ts';
import type { ImageCaller } from './access.ts';
import { createImage } from './service.ts';
import { findOwnedImageByName } from './store.ts';

export interface ImageFile {
  path: string;
  name: string;
  disk_format: string;
  container_format: string;
  visibility: string;
  /** Extra properties (hw_disk_bus…), strings. */
  properties: Record<string, string>;
}

export type Registered = { status: 'created' | 'resumed'; id: string } | { status: 'present'; id: string } | { status: 'missing'; path: string };

/** The caller's project owns the image; it must be allowed to create (and, for a public image, publicize) it. */
export async function registerImageFile(ctx: ImageContext, caller: ImageCaller, file: ImageFile): Promise<Registered> {
  const size = await stat(file.path).then(
    (s) => (s.isFile() ? s.size : null),
    () => null,
  );
  if (size === null) return { status: 'missing', path: file.path };
  const owner = caller.projectId!;
  const existing = await findOwnedImageByName(ctx.db, owner, file.name);
  if (existing && existing.status !== 'queued') return { status: 'present', id: existing.id };
  const image =
    existing ??
    (await createImage(ctx, caller, {
      name: file.name,
      disk_format: file.disk_format,
      container_format: file.container_format,
      visibility: file.visibility,
      ...file.properties,
    }));
  await uploadImageData(ctx, caller, image.id, createReadStream(file.path), size);
  return { status: existing ? 'resumed' : 'created', id: image.id };
}
