import { randomUUID } from 'node:crypto';
import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { conflict, forbidden, notFound } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { assertImageQuota } from '../quota.ts';
import { authorizeImage, type ImageCaller, type VisibleImage } from './access.ts';
import { applyImagePatch, type ImageChange } from './patch.ts';
import { assertCreatable, assertExtraPropertyNames, BASE_PROPERTIES } from './properties.ts';
import * as store from './store.ts';
import type { ImageFields, ImageRow } from './store.ts';

type Body = Record<string, unknown>;

/** Only admins publicize; communitizing needs its own rule (Glance's publicize_image / communitize_image). */
export function authorizeVisibility(ctx: ImageContext, caller: ImageCaller, image: ImageRow, visibility: string): void {
  if (visibility === 'public') authorizeImage(ctx, caller, 'publicize_image', image);
  if (visibility === 'community') authorizeImage(ctx, caller, 'communitize_image', image);
}

/** Splits a validated create body into columns and extra properties. */
function fieldsOf(body: Body): { id?: string; fields: ImageFields } {
  const extra: Record<string, string> = {};
  const fields: ImageFields = {};
  let id: string | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (key === 'id') id = value as string;
    else if (BASE_PROPERTIES.has(key)) (fields as Record<string, unknown>)[key] = value;
    else extra[key] = value as string;
  }
  assertExtraPropertyNames(extra);
  fields.properties = extra;
  if (fields.tags) fields.tags = [...new Set(fields.tags)];
  return { id, fields };
}

/**
 * Registers a new image (status queued, no data). The owner defaults to the
 * caller's project; visibility to `shared` (Glance's default since Pike).
 */
export async function createImage(ctx: ImageContext, caller: ImageCaller, body: Body): Promise<ImageRow> {
  assertCreatable(body);
  ctx.validate('Image', body);
  const { id = randomUUID(), fields } = fieldsOf(body);
  const draft = {
    ...fields,
    id,
    owner: fields.owner ?? caller.projectId,
    visibility: fields.visibility ?? 'shared',
    status: 'queued',
  } as ImageRow;
  authorizeImage(ctx, caller, 'add_image', draft);
  authorizeVisibility(ctx, caller, draft, draft.visibility);
  if (draft.owner) await assertImageQuota(ctx, draft.owner, 'image_count_total', 1);
  try {
    return await store.insertImage(ctx.db, draft);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw conflict(`An image with identifier ${id} already exists`);
    throw e;
  }
}

/**
 * Deletes an image: refused while protected; the row stays (status deleted)
 * so its id is never reused, and its data is removed from the store.
 */
export async function deleteImage(ctx: ImageContext, caller: ImageCaller, { image, memberId }: VisibleImage): Promise<void> {
  authorizeImage(ctx, caller, 'delete_image', image, memberId);
  if (image.protected) throw forbidden(`Image ${image.id} is protected and cannot be deleted.`);
  const deleted = await store.updateImage(ctx.db, image.id, { status: 'deleted', deleted_at: new Date(), location: null, staging_location: null });
  if (!deleted) throw notFound(`No image found with ID ${image.id}`);
  for (const location of [image.location, image.staging_location]) {
    if (location) await ctx.store.delete(location).catch((err) => ctx.logger.warn({ err, image_id: image.id }, 'could not remove image data'));
  }
}

/** Deactivation hides an active image's data from non-admins; both directions are idempotent. */
export async function setActivation(ctx: ImageContext, caller: ImageCaller, { image, memberId }: VisibleImage, active: boolean): Promise<void> {
  authorizeImage(ctx, caller, active ? 'reactivate' : 'deactivate', image, memberId);
  const [from, to] = active ? ['deactivated', 'active'] : ['active', 'deactivated'];
  if (image.status === to) return;
  const updated = image.status === from ? await store.updateImage(ctx.db, image.id, { status: to }, [from]) : undefined;
  if (!updated) {
    throw forbidden(`Not allowed to ${active ? 'reactivate' : 'deactivate'} image in status '${image.status}'`);
  }
}

/** Adds a tag (idempotent). */
export async function addTag(ctx: ImageContext, caller: ImageCaller, { image, memberId }: VisibleImage, tag: string): Promise<void> {
  authorizeImage(ctx, caller, 'modify_image', image, memberId);
  if (tag.length > 255) throw forbidden(`Tag ${tag} is too long`);
  await store.addTag(ctx.db, image.id, tag);
}

export async function removeTag(ctx: ImageContext, caller: ImageCaller, { image, memberId }: VisibleImage, tag: string): Promise<void> {
  authorizeImage(ctx, caller, 'modify_image', image, memberId);
  if (!(await store.removeTag(ctx.db, image.id, tag))) throw notFound(`Tag ${tag} not found`);
}

/**
 * Applies a JSON patch in one transaction, the row locked, so concurrent
 * patches each see the other's changes.
 */
export async function updateImage(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage, changes: ImageChange[]): Promise<ImageRow> {
  authorizeImage(ctx, caller, 'modify_image', visible.image, visible.memberId);
  return ctx.db.transaction(async (trx) => {
    const image = await store.lockImage(trx, visible.image.id);
    if (!image || image.deleted_at) throw notFound(`No image found with ID ${visible.image.id}`);
    const patched = applyImagePatch(image, changes);
    if (patched.ownerChanged && !caller.isAdmin) throw forbidden("Owner can't be updated by non admin.");
    if (patched.visibility && patched.visibility !== image.visibility) authorizeVisibility(ctx, caller, image, patched.visibility);
    if (!changes.length) return image;
    return (await store.updateImage(trx, image.id, patched.fields))!;
  });
}
