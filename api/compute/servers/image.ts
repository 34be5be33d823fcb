import { badRequest, forbidden } from '../../../lib/errors.ts';
import { getMember } from '../../image/members/store.ts';
import { getImage, type ImageRow } from '../../image/images/store.ts';
import { allowsCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { isUuidLike } from '../services/state.ts';
import type { StoredFlavor } from './store.ts';

/**
 * The image `id` if the caller can boot it: what Glance would show them
 * (admins every image; others their project's, public and community ones,
 * and shared ones their project is a member of), not deleted. Nova asks
 * Glance with the user's token; Nubo reads the image tables.
 */
export async function visibleImage(ctx: ComputeContext, caller: ComputeCaller, id: string): Promise<ImageRow | undefined> {
  const image = isUuidLike(id) ? await getImage(ctx.db, id) : undefined;
  if (!image || image.deleted_at) return undefined;
  if (caller.isAdmin || image.visibility === 'public' || image.visibility === 'community') return image;
  if (caller.projectId === null) return undefined;
  if (image.owner === caller.projectId) return image;
  if (image.visibility === 'shared' && (await getMember(ctx.db, image.id, caller.projectId))) return image;
  return undefined;
}

/** The image metadata an instance keeps (Nova's ImageMeta, as the conductor hands it to the agent). */
export function imageMetaOf(image: ImageRow): Record<string, unknown> {
  return {
    id: image.id,
    name: image.name,
    status: image.status,
    owner: image.owner,
    disk_format: image.disk_format,
    container_format: image.container_format,
    size: image.size === null ? null : Number(image.size),
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    checksum: image.checksum,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    properties: image.properties ?? {},
  };
}

const GiB = 1024 ** 3;

/**
 * Nova's _validate_flavor_image: the image must be active and fit the
 * flavor (min_ram; size and min_disk within the root disk). A flavor without
 * a root disk boots only volumes, unless the zero-disk policy allows it.
 */
export function assertImageFitsFlavor(ctx: ComputeContext, caller: ComputeCaller, image: ImageRow, flavor: Pick<StoredFlavor, 'memory_mb' | 'root_gb'>): void {
  if (image.status !== 'active') throw badRequest(`Image ${image.id} is not active.`);
  if (flavor.memory_mb < (image.min_ram ?? 0)) throw badRequest("Flavor's memory is too small for requested image.");
  const rootBytes = flavor.root_gb * GiB;
  if (rootBytes === 0) {
    if (!allowsCompute(ctx, caller, 'os_compute_api:servers:create:zero_disk_flavor')) {
      throw forbidden('Only volume-backed servers are allowed for flavors with zero disk.');
    }
    return;
  }
  const size = Number(image.size ?? 0);
  if (size > rootBytes) {
    throw badRequest(`Flavor's disk is too small for requested image. Flavor disk is ${rootBytes} bytes, image is ${size} bytes.`);
  }
  const minDisk = (image.min_disk ?? 0) * GiB;
  if (minDisk > rootBytes) {
    throw badRequest(
      `Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is ${rootBytes} bytes, minimum size is ${minDisk} bytes.`,
    );
  }
}
