import { forbidden, notFound } from '../../../lib/errors.ts';
import { parseImageListQuery } from '../../image/images/list-query.ts';
import { listImages } from '../../image/images/list-store.ts';
import { assertNotReserved } from '../../image/images/properties.ts';
import { updateImage, type ImageRow } from '../../image/images/store.ts';
import type { ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUnlimited } from '../quotas/resources.ts';
import { effectiveQuotas } from '../quotas/service.ts';
import type { Page } from '../query.ts';
import { visibleImage } from '../servers/image.ts';

/**
 * Nova's images proxy (to 2.35): the Glance images a user sees, and their
 * properties as "metadata". Nova asks Glance with the user's token; Nubo
 * reads and writes the image tables under Glance's rules.
 */

/** Nova's filters and the Glance v2 ones they become (nova/api/openstack/compute/images.py, nova/image/glance.py). */
function glanceFilters(query: Record<string, string | undefined>): Record<string, string[]> {
  const params: Record<string, string[]> = {};
  const set = (k: string, v: string | undefined) => v !== undefined && (params[k] = [v]);
  set('name', query.name);
  set('status', query.status?.toLowerCase());
  if (query['changes-since'] !== undefined) set('updated_at', `gte:${query['changes-since']}`);
  set('instance_uuid', query.server?.split('/').pop());
  set('image_type', query.type);
  set('min_ram', query.minRam);
  set('min_disk', query.minDisk);
  for (const [k, v] of Object.entries(query)) if (k.startsWith('property-')) set(k.slice('property-'.length), v);
  return params;
}

/** GET /images[/detail]: a page of the images the caller sees, newest first, filtered as Nova filters. */
export async function listProxyImages(ctx: ComputeContext, caller: ComputeCaller, query: Record<string, string | undefined>, page: Page): Promise<ImageRow[]> {
  const q = parseImageListQuery(glanceFilters(query));
  q.limit = page.limit;
  q.marker = page.marker;
  return (await listImages(ctx.db, q, { projectId: caller.projectId, isAdmin: caller.isAdmin })).images;
}

const imageNotFound = () => notFound('Image not found.');

/** GET /images/{id}: an image the caller sees, else 404 as Nova's "Image not found." */
export async function showProxyImage(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<ImageRow> {
  const image = await visibleImage(ctx, caller, id);
  if (!image) throw imageNotFound();
  return image;
}

/** The image, if the caller may change it: Glance lets its owner (and admins) do so; Nova turns a refusal into a 403. */
async function changeableImage(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<ImageRow> {
  const image = await showProxyImage(ctx, caller, id);
  if (!caller.isAdmin && image.owner !== caller.projectId) throw forbidden(`Not authorized for image ${id}.`);
  return image;
}

/**
 * Writes an image's properties (PUT replaces, POST and PUT of a key merge,
 * DELETE of a key removes): within the metadata_items quota (Nova's "Image
 * metadata limit exceeded") and Glance's reserved names.
 */
async function writeMetadata(ctx: ComputeContext, caller: ComputeCaller, image: ImageRow, properties: Record<string, string>): Promise<Record<string, string>> {
  const limit = (await effectiveQuotas(ctx, image.owner ?? caller.projectId ?? '')).metadata_items;
  if (!isUnlimited(limit) && Object.keys(properties).length > limit) throw forbidden('Image metadata limit exceeded');
  for (const key of Object.keys(properties)) if (!(key in (image.properties ?? {}))) assertNotReserved(key);
  const updated = await updateImage(ctx.db, image.id, { properties });
  if (!updated) throw imageNotFound();
  return updated.properties ?? {};
}

export async function imageMetadata(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<Record<string, string>> {
  return (await showProxyImage(ctx, caller, id)).properties ?? {};
}

export async function setImageMetadata(ctx: ComputeContext, caller: ComputeCaller, id: string, metadata: Record<string, string>, replace: boolean) {
  const image = await changeableImage(ctx, caller, id);
  return writeMetadata(ctx, caller, image, replace ? metadata : { ...image.properties, ...metadata });
}

export async function imageMetadataItem(ctx: ComputeContext, caller: ComputeCaller, id: string, key: string): Promise<string> {
  const metadata = await imageMetadata(ctx, caller, id);
  if (!Object.hasOwn(metadata, key)) throw notFound('Invalid metadata key');
  return metadata[key];
}

export async function deleteImageMetadataItem(ctx: ComputeContext, caller: ComputeCaller, id: string, key: string): Promise<void> {
  const image = await changeableImage(ctx, caller, id);
  if (!Object.hasOwn(image.properties ?? {}, key)) throw notFound('Invalid metadata key');
  const { [key]: _gone, ...rest } = image.properties;
  await writeMetadata(ctx, caller, image, rest);
}
